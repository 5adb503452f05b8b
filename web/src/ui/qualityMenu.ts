// The quality menu: Auto plus each rendition.

import type { Engine } from "../lib/engines";
import { createChoiceMenu, type ChoiceMenu } from "./choiceMenu";
import { ICONS } from "./icons";

export function createQualityMenu(engine: () => Engine | null, signal: AbortSignal): ChoiceMenu {
  const autoLabel = (): string => {
    const playing = engine()?.playing();
    return playing ? `Auto (${playing.label})` : "Auto";
  };
  const menu = createChoiceMenu(
    {
      name: "Quality",
      kind: "quality",
      icon: ICONS.settings,
      choices: () => [
        { id: -1, label: autoLabel() },
        ...(engine()?.levels() ?? []).map((level) => ({ id: level.id, label: level.label })),
      ],
      available: () => (engine()?.levels().length ?? 0) > 0,
      selected: () => engine()?.selected() ?? -1,
      summary() {
        const current = engine();
        const chosen = current?.levels().find((level) => level.id === current.selected());
        return chosen ? chosen.label : autoLabel();
      },
      choose: (id) => engine()?.select(id),
    },
    signal,
  );
  return {
    element: menu.element,
    refresh() {
      menu.refresh();
      const playing = engine()?.playing();
      menu.element.dataset.playingHeight = playing ? String(playing.height) : "";
    },
  };
}
