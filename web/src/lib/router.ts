// History-API routing: real paths (the edge answers every page path with index.html), no reloads.

import { ApiError, describeError } from "./api";
import { h, replace } from "./dom";
import { isAdmin, isSignedIn } from "./session";

export interface ViewContext {
  params: Record<string, string>;
  query: URLSearchParams;
  /** Aborted when the person leaves the page: streams, players and timers stop with it. */
  signal: AbortSignal;
  /** What the page that navigated here passed along (history state). */
  state: unknown;
}

export interface ViewResult {
  title: string;
  content: Node;
}

export type View = (context: ViewContext) => ViewResult | Promise<ViewResult>;
type Access = "anyone" | "user" | "admin";

interface Route {
  pattern: RegExp;
  keys: string[];
  view: View;
  access: Access;
}

const routes: Route[] = [];
let fallback: View = () => ({ title: "Not found", content: h("h1", null, "Page not found") });
let outlet: HTMLElement | null = null;
let current: AbortController | null = null;
const afterRender = new Set<(path: string) => void>();

export function route(path: string, view: View, access: Access = "anyone"): void {
  const keys: string[] = [];
  const source = path.replace(/:(\w+)/g, (_, key: string) => {
    keys.push(key);
    return "([^/]+)";
  });
  routes.push({ pattern: new RegExp(`^${source}/?$`), keys, view, access });
}

export function notFound(view: View): void {
  fallback = view;
}

export function onNavigate(listener: (path: string) => void): void {
  afterRender.add(listener);
}

export function navigate(path: string, options: { replace?: boolean; state?: unknown } = {}): void {
  if (options.replace) history.replaceState(options.state ?? null, "", path);
  else history.pushState(options.state ?? null, "", path);
  void render(true);
}

/** Renders the current path again (after signing in or out, say). */
export function refresh(): void {
  void render(false);
}

export function startRouter(main: HTMLElement): void {
  outlet = main;
  window.addEventListener("popstate", () => void render(true));
  document.addEventListener("click", interceptLink);
  void render(false);
}

function interceptLink(event: MouseEvent): void {
  if (
    event.defaultPrevented ||
    event.button !== 0 ||
    event.metaKey ||
    event.ctrlKey ||
    event.shiftKey ||
    event.altKey
  ) {
    return;
  }
  const link = (event.target as Element | null)?.closest("a");
  if (!link || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/") || url.pathname.startsWith("/media/")) return;
  // In-page anchors (the skip link) are the browser's to follow.
  if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
  event.preventDefault();
  if (url.pathname + url.search !== location.pathname + location.search) navigate(url.pathname + url.search);
}

function match(path: string): { route: Route | null; params: Record<string, string> } {
  for (const candidate of routes) {
    const found = candidate.pattern.exec(path);
    if (found) {
      const params: Record<string, string> = {};
      candidate.keys.forEach((key, index) => (params[key] = decodeURIComponent(found[index + 1] ?? "")));
      return { route: candidate, params };
    }
  }
  return { route: null, params: {} };
}

async function render(moveFocus: boolean): Promise<void> {
  if (!outlet) return;
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const { route: found, params } = match(location.pathname);
  if (found && found.access !== "anyone" && !isSignedIn()) {
    const next = encodeURIComponent(location.pathname + location.search);
    navigate(`/login?next=${next}`, { replace: true });
    return;
  }
  const context: ViewContext = {
    params,
    query: new URLSearchParams(location.search),
    signal: controller.signal,
    state: history.state,
  };
  outlet.setAttribute("aria-busy", "true");
  let result: ViewResult;
  try {
    if (found?.access === "admin" && !isAdmin()) {
      result = {
        title: "Administrators only",
        content: h(
          "section",
          null,
          h("h1", null, "Administrators only"),
          h("p", null, "This page needs an administrator account."),
        ),
      };
    } else {
      result = await (found?.view ?? fallback)(context);
    }
  } catch (error) {
    result = errorPage(error);
  }
  if (controller.signal.aborted) return;
  outlet.removeAttribute("aria-busy");
  replace(outlet, result.content);
  document.title = `${result.title} · VideoForge`;
  for (const listener of afterRender) listener(location.pathname);
  if (moveFocus) {
    window.scrollTo(0, 0);
    // Focus the new page's heading so keyboard and screen reader users start at the top of it.
    const heading = outlet.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  }
}

const ERROR_HEADINGS: Record<number, string> = {
  401: "Please log in",
  403: "Not allowed",
  404: "Not found",
};

function errorPage(error: unknown): ViewResult {
  const heading = (error instanceof ApiError && ERROR_HEADINGS[error.status]) || "Something went wrong";
  const signIn = error instanceof ApiError && error.status === 401;
  const next = encodeURIComponent(location.pathname + location.search);
  return {
    title: heading,
    content: h(
      "section",
      { class: "panel" },
      h("h1", null, heading),
      h("p", { class: "notice notice-error", role: "alert" }, describeError(error)),
      h(
        "p",
        { class: "actions" },
        signIn ? h("a", { class: "button", href: `/login?next=${next}` }, "Log in") : null,
        h("a", { href: "/" }, "Back to the gallery"),
      ),
    ),
  };
}
