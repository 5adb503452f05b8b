// The app: site header, routes and start-up.

import "./styles.css";
import { logout, refreshUser } from "./lib/auth";
import { h, replace } from "./lib/dom";
import { navigate, notFound, onNavigate, refresh, route, startRouter } from "./lib/router";
import { isAdmin, onSessionChange, session } from "./lib/session";
import { loginView, signupView } from "./pages/account";
import { adminView } from "./pages/admin";
import { galleryView } from "./pages/gallery";
import { jobView } from "./pages/job";
import { libraryView } from "./pages/library";
import { uploadView } from "./pages/upload";
import { watchView } from "./pages/watch";

route("/", galleryView);
route("/login", loginView);
route("/signup", signupView);
route("/upload", uploadView, "user");
route("/jobs/:id", jobView, "user");
route("/my", libraryView, "user");
route("/watch/:id", watchView);
route("/admin", adminView, "admin");
notFound(() => ({
  title: "Not found",
  content: h(
    "section",
    { class: "panel" },
    h("h1", null, "Page not found"),
    h("p", null, "There is nothing at this address. ", h("a", { href: "/" }, "Go to the gallery")),
  ),
}));

function renderHeader(header: HTMLElement): void {
  const signedIn = session();
  const links: [string, string][] = [["/", "Gallery"]];
  if (signedIn) links.push(["/upload", "Upload"], ["/my", "My videos"]);
  if (isAdmin()) links.push(["/admin", "Admin"]);
  const account = signedIn
    ? h(
        "div",
        { class: "account" },
        h("span", { class: "account-name" }, signedIn.user.displayName || signedIn.user.email),
        h(
          "button",
          {
            type: "button",
            class: "button button-secondary button-small",
            onclick: () => {
              void logout();
              navigate("/");
            },
          },
          "Log out",
        ),
      )
    : h(
        "div",
        { class: "account" },
        h("a", { href: "/login", class: "button button-secondary button-small" }, "Log in"),
        h("a", { href: "/signup", class: "button button-small" }, "Sign up"),
      );
  replace(
    header,
    h(
      "div",
      { class: "header-inner" },
      h(
        "a",
        { class: "brand", href: "/" },
        h("span", { class: "brand-mark", "aria-hidden": "true" }, "▶"),
        "VideoForge",
      ),
      h(
        "nav",
        { "aria-label": "Main" },
        h(
          "ul",
          null,
          links.map(([href, label]) => h("li", null, h("a", { href }, label))),
        ),
      ),
      account,
    ),
  );
  markCurrentLink(header);
}

function markCurrentLink(header: HTMLElement): void {
  for (const link of header.querySelectorAll<HTMLAnchorElement>("nav a")) {
    const path = new URL(link.href).pathname;
    const current = path === "/" ? location.pathname === "/" : location.pathname.startsWith(path);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

const header = document.getElementById("site-header");
const main = document.getElementById("main");
if (header && main) {
  renderHeader(header);
  onSessionChange(() => {
    renderHeader(header);
  });
  onNavigate(() => markCurrentLink(header));
  startRouter(main);
  // The stored account may be stale (a new role, a revoked session): read it again, then redraw if it changed.
  const before = JSON.stringify(session()?.user ?? null);
  void refreshUser().then(() => {
    if (JSON.stringify(session()?.user ?? null) !== before) refresh();
  });
}
