// A player menu of radio items behind one button (arrow keys move, Escape closes): the quality and caption menus.

import { h, icon, uid } from "../lib/dom";
import { ICONS } from "./icons";

export interface Choice {
  id: number;
  label: string;
}

export interface ChoiceMenuOptions {
  /** What the button and the menu are called: `Quality`, `Captions`. */
  name: string;
  /** The CSS class of the whole; `{kind}-button`, `{kind}-summary` and `{kind}-menu` name its parts. */
  kind: string;
  icon: string;
  /** The items, in order; the button is disabled while `available` is false. */
  choices(): Choice[];
  available(): boolean;
  selected(): number;
  /** The button's text, from the current state. */
  summary(): string;
  choose(id: number): void;
}

export interface ChoiceMenu {
  element: HTMLElement;
  /** Rebuilds the items and the button's label from the current state. */
  refresh(): void;
}

export function createChoiceMenu(options: ChoiceMenuOptions, signal: AbortSignal): ChoiceMenu {
  const menuId = uid(`${options.kind}-menu`);
  const summary = h("span", { class: `choice-summary ${options.kind}-summary` }, "");
  const button = h(
    "button",
    {
      type: "button",
      class: `control choice-button ${options.kind}-button`,
      "aria-haspopup": "menu",
      "aria-expanded": "false",
      "aria-controls": menuId,
      "aria-label": options.name,
    },
    icon(options.icon),
    summary,
  );
  const menu = h("ul", {
    id: menuId,
    class: `choice-menu ${options.kind}-menu`,
    role: "menu",
    "aria-label": options.name,
    hidden: true,
  });
  const element = h("div", { class: `choice ${options.kind}` }, button, menu);

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
    options.choose(id);
    close(true);
    refresh();
  }

  function refresh(): void {
    const selected = options.selected();
    summary.textContent = options.summary();
    button.setAttribute("aria-label", `${options.name}: ${summary.textContent}`);
    button.disabled = !options.available();
    const focusedIndex = items().findIndex((item) => item === document.activeElement);
    menu.replaceChildren(
      ...options.choices().map((entry) =>
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
              "data-choice": entry.id,
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
