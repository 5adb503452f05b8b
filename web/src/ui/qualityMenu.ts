// The quality menu: Auto plus each rendition, as a menu of radio items (arrow keys move, Escape closes).

import { h, icon, uid } from "../lib/dom";
import type { Engine } from "../lib/engines";
import { ICONS } from "./icons";

export interface QualityMenu {
  element: HTMLElement;
  /** Rebuilds the items and the button's label from the engine's current state. */
  refresh(): void;
}

export function createQualityMenu(engine: () => Engine | null, signal: AbortSignal): QualityMenu {
  const menuId = uid("quality-menu");
  const summary = h("span", { class: "quality-summary" }, "Auto");
  const button = h(
    "button",
    {
      type: "button",
      class: "control quality-button",
      "aria-haspopup": "menu",
      "aria-expanded": "false",
      "aria-controls": menuId,
      "aria-label": "Quality: Auto",
    },
    icon(ICONS.settings),
    summary,
  );
  const menu = h("ul", { id: menuId, class: "quality-menu", role: "menu", "aria-label": "Quality", hidden: true });
  const element = h("div", { class: "quality" }, button, menu);

  const items = (): HTMLButtonElement[] => Array.from(menu.querySelectorAll<HTMLButtonElement>("[role=menuitemradio]"));

  function open(): void {
    refresh();
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    const list = items();
    (list.find((item) => item.getAttribute("aria-checked") === "true") ?? list[0])?.focus();
  }

  function close(returnFocus: boolean): void {
    if (menu.hidden) return;
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (returnFocus) button.focus();
  }

  function choose(id: number): void {
    engine()?.select(id);
    close(true);
    refresh();
  }

  function refresh(): void {
    const current = engine();
    const levels = current?.levels() ?? [];
    const selected = current?.selected() ?? -1;
    const playing = current?.playing();
    const autoLabel = playing ? `Auto (${playing.label})` : "Auto";
    const chosen = levels.find((level) => level.id === selected);
    summary.textContent = chosen ? chosen.label : autoLabel;
    button.setAttribute("aria-label", `Quality: ${summary.textContent}`);
    button.disabled = levels.length === 0;
    element.dataset.playingHeight = playing ? String(playing.height) : "";
    const entries = [{ id: -1, label: autoLabel }, ...levels.map((level) => ({ id: level.id, label: level.label }))];
    const focusedIndex = items().findIndex((item) => item === document.activeElement);
    menu.replaceChildren(
      ...entries.map((entry) =>
        h(
          "li",
          { role: "none" },
          h(
            "button",
            {
              type: "button",
              role: "menuitemradio",
              "aria-checked": String(entry.id === selected),
              tabindex: "-1",
              "data-level": entry.id,
              onclick: () => choose(entry.id),
            },
            icon(ICONS.check),
            entry.label,
          ),
        ),
      ),
    );
    // Rebuilding while the menu is open must not drop the keyboard user's place in it.
    if (focusedIndex >= 0) items()[focusedIndex]?.focus();
  }

  button.addEventListener("click", () => (menu.hidden ? open() : close(true)));
  button.addEventListener("keydown", (event) => {
    if (event.key === "ArrowUp" || event.key === "ArrowDown") {
      event.preventDefault();
      open();
    }
  });
  menu.addEventListener("keydown", (event) => {
    const list = items();
    const index = list.indexOf(document.activeElement as HTMLButtonElement);
    const move = (to: number): void => list[(to + list.length) % list.length]?.focus();
    switch (event.key) {
      case "ArrowDown":
        move(index + 1);
        break;
      case "ArrowUp":
        move(index - 1);
        break;
      case "Home":
        move(0);
        break;
      case "End":
        move(list.length - 1);
        break;
      case "Escape":
        close(true);
        break;
      case "Tab":
        close(false);
        return;
      default:
        return;
    }
    event.preventDefault();
  });
  document.addEventListener(
    "pointerdown",
    (event) => {
      if (!element.contains(event.target as Node)) close(false);
    },
    { signal },
  );
  return { element, refresh };
}
