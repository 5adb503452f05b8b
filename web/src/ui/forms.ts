// Labelled fields and message areas, so every control has a name and every error has words.

import { h, uid, type Child } from "../lib/dom";

type Control = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;

/** A control with its label and an optional hint, tied together by ids. */
export function field(label: string, control: Control, hint?: string): HTMLElement {
  control.id ||= uid("field");
  const hintElement = hint ? h("p", { class: "hint", id: uid("hint") }, hint) : null;
  if (hintElement) control.setAttribute("aria-describedby", hintElement.id);
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, hintElement);
}

/** A group of checkboxes or radios under one legend. */
export function choices(legend: string, items: Child[], hint?: string): HTMLFieldSetElement {
  return h(
    "fieldset",
    { class: "choices" },
    h("legend", null, legend),
    hint ? h("p", { class: "hint" }, hint) : null,
    h("div", { class: "choice-list" }, items),
  );
}

export function choice(
  type: "checkbox" | "radio",
  name: string,
  value: string,
  label: string,
  checked = false,
): HTMLElement {
  const input = h("input", { type, name, value, id: uid(name), checked });
  return h("label", { class: "choice", for: input.id }, input, h("span", null, label));
}

/**
 * A live message area: errors are announced at once (alert), other news politely (status).
 * Empty areas stay in the page so that screen readers notice when words arrive.
 */
export function messageArea(): {
  element: HTMLElement;
  error(text: string): void;
  info(text: string): void;
  clear(): void;
} {
  const error = h("p", { class: "notice notice-error", role: "alert" });
  const info = h("p", { class: "notice notice-info", role: "status" });
  const element = h("div", { class: "messages" }, error, info);
  const show = (target: HTMLElement, other: HTMLElement, text: string): void => {
    other.textContent = "";
    target.textContent = text;
  };
  return {
    element,
    error: (text) => show(error, info, text),
    info: (text) => show(info, error, text),
    clear: () => {
      error.textContent = "";
      info.textContent = "";
    },
  };
}

/** Disables `button` while `work` runs, so a double click never sends twice. */
export async function whileBusy<T>(button: HTMLButtonElement, work: () => Promise<T>): Promise<T> {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
