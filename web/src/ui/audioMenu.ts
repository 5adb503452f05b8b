// The audio menu: each audio track the presentation lists (languages, commentary, surround); hidden when there
// is only one to hear.

import type { Engine } from "../lib/engines";
import { createChoiceMenu, type ChoiceMenu } from "./choiceMenu";
import { ICONS } from "./icons";

export function createAudioMenu(engine: () => Engine | null, signal: AbortSignal): ChoiceMenu {
  const tracks = () => engine()?.audioTracks() ?? [];
  const playing = () => tracks().find((track) => track.id === engine()?.selectedAudio());
  const menu = createChoiceMenu(
    {
      name: "Audio",
      kind: "audio",
      icon: ICONS.audio,
      choices: () => tracks().map((track) => ({ id: track.id, label: track.label })),
      available: () => tracks().length > 1,
      selected: () => engine()?.selectedAudio() ?? -1,
      summary: () => playing()?.label ?? "",
      choose: (id) => engine()?.selectAudio(id),
    },
    signal,
  );
  return {
    element: menu.element,
    refresh() {
      menu.refresh();
      menu.element.hidden = tracks().length < 2;
      menu.element.dataset.language = playing()?.language ?? "";
    },
  };
}
