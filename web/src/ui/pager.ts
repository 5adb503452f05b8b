// Previous / next links for page-numbered lists; the page number lives in the URL so Back works.

import { h } from "../lib/dom";

export function pager(page: number, totalPages: number, hrefFor: (page: number) => string): HTMLElement | null {
  if (totalPages <= 1) return null;
  const link = (target: number, label: string, rel: string): HTMLElement =>
    target >= 1 && target <= totalPages
      ? h("a", { class: "button button-secondary", href: hrefFor(target), rel }, label)
      : h("span", { class: "button button-secondary", "aria-disabled": "true" }, label);
  return h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    link(page - 1, "Previous", "prev"),
    h("span", { class: "pager-position", "aria-current": "page" }, `Page ${page} of ${totalPages}`),
    link(page + 1, "Next", "next"),
  );
}
