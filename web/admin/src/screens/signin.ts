// Sign-in: the admin API key is sent once to POST /v1/admin/session, which sets an HttpOnly session cookie.
// The key is never stored: it lives in the field only until the server has answered, then the field is cleared.
// Where the server has an OpenID provider (GET /v1/admin/sso), single sign-on is offered first: a plain link to
// /v1/admin/sso/login, which comes back here with #/signin?error=CODE when it did not sign the person in.

import { request } from "../api";
import { errorBox } from "../components/alert";
import { field } from "../components/fields";
import { h } from "../dom";
import type { Session, SsoStatus } from "../types";

// What the server's single sign-on callback means by each error code (services/api/sso/router.py).
export const SSO_ERRORS: Record<string, string> = {
  access_denied: "Single sign-on was cancelled, or your identity provider did not allow it.",
  not_admin: "You are signed in with your identity provider, but your account is not in an admin group. Ask an administrator for access.",
  expired: "The single sign-on took too long or was started in another tab. Try again.",
  failed: "Single sign-on did not work: the identity provider's answer could not be verified. Try again; if it keeps failing, an administrator finds the reason in the server's log.",
  provider_error: "Your identity provider reported an error. Try again later.",
  unavailable: "The identity provider cannot be reached right now. Try again later.",
  throttled: "Too many failed sign-ins from this network. Wait a minute, then try again.",
};

/** The message for a single sign-on error code from the URL (#/signin?error=CODE); null without one. */
export function ssoErrorFromHash(hash: string): string | null {
  const match = /^#\/signin\?(.*)$/.exec(hash);
  if (!match) return null;
  const code = new URLSearchParams(match[1]).get("error");
  if (!code) return null;
  return SSO_ERRORS[code] ?? "Single sign-on did not work. Try again.";
}

export interface SignInOptions {
  /** Why the form is shown: "Your session ended…" (polite status, not an error). */
  notice?: string;
  /** An error to show at once (the session probe failed for another reason than 401). */
  error?: unknown;
  /** Why single sign-on sent the person back here (from #/signin?error=CODE). */
  ssoError?: string | null;
  onSignedIn(session: Session): void;
}

export function renderSignIn(root: HTMLElement, options: SignInOptions): void {
  document.title = "Sign in · Steward admin";
  const error = errorBox("signin-error");
  if (options.error) error.show(options.error);
  // Shown above both ways in: it is about the single sign-on that just came back, not the key form.
  const ssoError = errorBox("signin-sso-error");
  if (options.ssoError) ssoError.message(options.ssoError);
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

  // Filled in when the server says it offers single sign-on; empty (and hidden) otherwise.
  const sso = h("div", { class: "signin-sso", hidden: true, "data-testid": "signin-sso-section" });

  const main = h(
    "main",
    { id: "main", class: "signin", tabindex: -1 },
    h(
      "div",
      { class: "signin-card" },
      h("p", { class: "brand brand-large", "aria-hidden": "true" }, "Steward"),
      h("h1", { id: "signin-title" }, "Sign in to the admin console"),
      notice,
      ssoError.el,
      sso,
      form,
    ),
  );
  root.replaceChildren(main);
  key.focus();
  void offerSso(sso, Boolean(options.ssoError));
  document.body.dataset.ready = "true";
}

async function offerSso(container: HTMLElement, errorShown: boolean): Promise<void> {
  let status: SsoStatus;
  try {
    status = await request<SsoStatus>("GET", "/v1/admin/sso", { endSessionOn401: false });
  } catch {
    return; // an older server, or none reachable: the key form still works
  }
  if (!status.enabled || !container.isConnected) return;
  const link = h(
    "a",
    {
      class: "btn btn-primary signin-sso-button",
      href: "/v1/admin/sso/login",
      "data-testid": "signin-sso",
    },
    "Sign in with single sign-on",
  );
  container.append(
    link,
    h("p", { class: "muted signin-sso-provider" }, `Through ${hostOf(status.provider)}.`),
    h("p", { class: "signin-divider" }, h("span", {}, "or with an admin API key")),
  );
  container.hidden = false;
  // People who come back from a failed single sign-on read the error first; everyone else starts on the link.
  if (!errorShown) link.focus();
}

function hostOf(provider: string | null): string {
  if (!provider) return "your identity provider";
  try {
    return new URL(provider).host;
  } catch {
    return provider;
  }
}
