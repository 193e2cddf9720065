// Sign-in: the admin API key is sent once to POST /v1/admin/session, which sets an HttpOnly session cookie.
// The key is never stored: it lives in the field only until the server has answered, then the field is cleared.

import { request } from "../api";
import { errorBox } from "../components/alert";
import { field } from "../components/fields";
import { h } from "../dom";
import type { Session } from "../types";

export interface SignInOptions {
  /** Why the form is shown: "Your session ended…" (polite status, not an error). */
  notice?: string;
  /** An error to show at once (the session probe failed for another reason than 401). */
  error?: unknown;
  onSignedIn(session: Session): void;
}

export function renderSignIn(root: HTMLElement, options: SignInOptions): void {
  document.title = "Sign in · Steward admin";
  const error = errorBox("signin-error");
  if (options.error) error.show(options.error);
  const key = h("input", {
    type: "password",
    name: "key",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    "data-testid": "signin-key",
  });
  const submit = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "signin-submit" }, "Sign in");
  const form = h(
    "form",
    { class: "signin-form", novalidate: true, "aria-labelledby": "signin-title" },
    field("Admin API key", key, "Starts with stw_. It is exchanged for a session and not kept in this browser."),
    error.el,
    h("div", { class: "form-actions" }, submit),
  );
  const notice = h("p", { class: "notice", role: "status", "data-testid": "signin-notice" }, options.notice ?? "");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.clear();
    const value = key.value.trim();
    if (!value) {
      error.message("Enter an admin API key.");
      key.setAttribute("aria-invalid", "true");
      key.focus();
      return;
    }
    key.removeAttribute("aria-invalid");
    submit.disabled = true;
    submit.textContent = "Signing in…";
    try {
      const session = await request<Session>("POST", "/v1/admin/session", {
        body: { key: value },
        endSessionOn401: false,
      });
      key.value = "";
      options.onSignedIn(session);
    } catch (err) {
      error.show(err);
      submit.disabled = false;
      submit.textContent = "Sign in";
      key.select();
      key.focus();
    }
  });

  const main = h(
    "main",
    { id: "main", class: "signin", tabindex: -1 },
    h(
      "div",
      { class: "signin-card" },
      h("p", { class: "brand brand-large", "aria-hidden": "true" }, "Steward"),
      h("h1", { id: "signin-title" }, "Sign in to the admin console"),
      notice,
      form,
    ),
  );
  root.replaceChildren(main);
  key.focus();
  document.body.dataset.ready = "true";
}
