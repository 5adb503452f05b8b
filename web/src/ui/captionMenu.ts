// The caption menu: Off plus each caption track the presentation lists.

import type { Engine } from "../lib/engines";
import { createChoiceMenu, type ChoiceMenu } from "./choiceMenu";
import { ICONS } from "./icons";

export function createCaptionMenu(engine: () => Engine | null, signal: AbortSignal): ChoiceMenu {
  const menu = createChoiceMenu(
    {
      name: "Captions",
      kind: "captions",
      icon: ICONS.captions,
      choices: () => [
        { id: -1, label: "Off" },
        ...(engine()?.textTracks() ?? []).map((track) => ({ id: track.id, label: track.label })),
      ],
      available: () => (engine()?.textTracks().length ?? 0) > 0,
      selected: () => engine()?.selectedText() ?? -1,
      summary() {
        const current = engine();
        const shown = current?.textTracks().find((track) => track.id === current.selectedText());
        return shown ? shown.label : "Off";
      },
      choose: (id) => engine()?.selectText(id),
    },
    signal,
  );
  return {
    element: menu.element,
    refresh() {
      menu.refresh();
      menu.element.dataset.language =
        engine()
          ?.textTracks()
          .find((track) => track.id === engine()?.selectedText())?.language ?? "";
    },
  };
}
