// Sign up and log in.

import { describeError } from "../lib/api";
import { login, register } from "../lib/auth";
import { h } from "../lib/dom";
import { navigate, type ViewContext, type ViewResult } from "../lib/router";
import { field, messageArea, whileBusy } from "../ui/forms";

const MIN_PASSWORD = 8;

/** Where to go after signing in: the page that asked, but only ever a path on this site. */
function nextPath(query: URLSearchParams): string {
  const next = query.get("next") ?? "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export function loginView({ query }: ViewContext): ViewResult {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "button" }, "Log in");
  const messages = messageArea();
  const form = h(
    "form",
    { class: "stack narrow", novalidate: false },
    field("Email", email),
    field("Password", password),
    messages.element,
    submit,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    messages.clear();
    void whileBusy(submit, async () => {
      try {
        await login(email.value.trim(), password.value);
        navigate(nextPath(query), { replace: true });
      } catch (error) {
        messages.error(describeError(error));
      }
    });
  });
  const signupHref = `/signup${query.get("next") ? `?next=${encodeURIComponent(query.get("next") ?? "")}` : ""}`;
  return {
    title: "Log in",
    content: h(
      "section",
      { class: "panel narrow" },
      h("h1", null, "Log in"),
      form,
      h("p", null, "New here? ", h("a", { href: signupHref }, "Create an account")),
    ),
  };
}

export function signupView({ query }: ViewContext): ViewResult {
  const name = h("input", { type: "text", name: "displayName", autocomplete: "name" });
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
  const password = h("input", {
    type: "password",
    name: "password",
    autocomplete: "new-password",
    minlength: MIN_PASSWORD,
    required: true,
  });
  const submit = h("button", { type: "submit", class: "button" }, "Sign up");
  const messages = messageArea();
  const form = h(
    "form",
    { class: "stack narrow" },
    field("Name (optional)", name),
    field("Email", email),
    field("Password", password, `At least ${MIN_PASSWORD} characters.`),
    messages.element,
    submit,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    messages.clear();
    void whileBusy(submit, async () => {
      try {
        await register(email.value.trim(), password.value, name.value.trim());
        navigate(nextPath(query), { replace: true });
      } catch (error) {
        messages.error(describeError(error));
      }
    });
  });
  return {
    title: "Sign up",
    content: h(
      "section",
      { class: "panel narrow" },
      h("h1", null, "Create an account"),
      form,
      h("p", null, "Already have one? ", h("a", { href: "/login" }, "Log in")),
    ),
  };
}
