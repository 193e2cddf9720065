// The admin console: the auth gate (session probe, sign-in, session end) and the hash router.

import "./styles.css";
import { api, ApiError, onUnauthorized, request, setCsrfToken } from "./api";
import { errorBox } from "./components/alert";
import { toast, toastRegion } from "./components/toast";
import { h } from "./dom";
import { href, parseRoute, SCREENS, type Route, type ScreenName } from "./router";
import { LoadTracker, type ScreenMount } from "./screen";
import { mountAccess } from "./screens/access";
import { mountDocuments } from "./screens/documents";
import { resetUploads } from "./screens/documents/uploads";
import { mountOversight } from "./screens/oversight";
import { renderSignIn, ssoErrorFromHash } from "./screens/signin";
import type { Principal, Session } from "./types";

// Usage brings chart.js: it loads when first opened, so the other screens start without it.
const mountUsage: ScreenMount = (root, ctx) => {
  // Tracked as one piece with the mount, so the screen's own first load is counted before "ready".
  void ctx.track(
    import("./screens/usage").then(
      (module) => {
        if (ctx.signal.aborted) return;
        module.mountUsage(root, ctx);
        // Came here from the navigation: land on the heading, as the other screens do.
        if (document.activeElement?.closest(".nav")) root.querySelector<HTMLElement>("h1")?.focus();
      },
      () => {
        const error = errorBox("usage-error");
        error.message("The usage screen could not be loaded. Reload the page to try again.");
        root.append(h("h1", { tabindex: -1 }, "Usage"), error.el);
      },
    ),
  );
};

const MOUNTS: Record<ScreenName, ScreenMount> = {
  documents: mountDocuments,
  access: mountAccess,
  oversight: mountOversight,
  usage: mountUsage,
};

const app = document.getElementById("app") as HTMLElement;

interface Shell {
  principal: Principal;
  main: HTMLElement;
  links: Map<ScreenName, HTMLAnchorElement>;
}

let shell: Shell | null = null;
let current: { route: Route; controller: AbortController; tracker: LoadTracker } | null = null;
let expiryTimer: number | undefined;

function unmountScreen(): void {
  current?.controller.abort();
  current?.tracker.dispose();
  current = null;
}

function showSignIn(notice?: string, error?: unknown, ssoError?: string | null): void {
  unmountScreen();
  resetUploads();
  window.clearTimeout(expiryTimer);
  setCsrfToken(null);
  shell = null;
  // Any dialog left open (a secret, an edit form) goes with the session.
  document.querySelectorAll("dialog").forEach((d) => d.remove());
  renderSignIn(app, { notice, error, ssoError, onSignedIn: startSession });
}

function sessionEnded(): void {
  if (!shell) return; // already on the sign-in page (or still probing)
  showSignIn("Your session ended. Sign in again to continue.");
}

function startSession(session: Session): void {
  setCsrfToken(session.csrf_token);
  shell = buildShell(session.principal);
  scheduleExpiry(session.expires_at);
  route(true);
}

// Sessions end on the server after a while; show the sign-in page then, rather than on the next click.
function scheduleExpiry(expiresAt: string): void {
  window.clearTimeout(expiryTimer);
  const ms = Date.parse(expiresAt) - Date.now();
  if (!Number.isFinite(ms) || ms <= 0 || ms >= 2 ** 31 - 1) return;
  expiryTimer = window.setTimeout(() => {
    // Ask rather than assume: a 401 here calls sessionEnded() through the API wrapper.
    api
      .get<Session>("/v1/admin/session")
      .then((s) => scheduleExpiry(s.expires_at))
      .catch(() => undefined);
  }, ms + 1000);
}

async function signOut(button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  try {
    await request("DELETE", "/v1/admin/session", { endSessionOn401: false });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) {
      button.disabled = false;
      toast("Could not sign out: the server did not answer. Try again.", "warn");
      return;
    }
  }
  showSignIn("You have signed out.");
}

function buildShell(principal: Principal): Shell {
  const links = new Map<ScreenName, HTMLAnchorElement>();
  const nav = h(
    "nav",
    { class: "nav", "aria-label": "Main" },
    h(
      "ul",
      {},
      SCREENS.map((s) => {
        const a = h("a", { href: href(s.name), "data-testid": `nav-${s.name}` }, s.label);
        links.set(s.name, a);
        return h("li", {}, a);
      }),
    ),
  );
  const signOutButton = h("button", { type: "button", class: "btn btn-quiet", "data-testid": "signout" }, "Sign out");
  signOutButton.addEventListener("click", () => void signOut(signOutButton));
  const main = h("main", { id: "main", tabindex: -1 });
  app.replaceChildren(
    h("a", { class: "skip-link", href: "#main" }, "Skip to content"),
    h(
      "header",
      { class: "topbar" },
      h("p", { class: "brand" }, "Steward ", h("span", { class: "brand-sub" }, "admin")),
      nav,
      h(
        "div",
        { class: "who" },
        h("span", { class: "who-name", "data-testid": "principal-name" }, principal.name),
        h("span", { class: "who-role" }, principal.role),
        signOutButton,
      ),
    ),
    main,
    toastRegion(),
  );
  // The skip link targets #main, which is not a route: move focus without touching the hash.
  app.querySelector(".skip-link")?.addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
  return { principal, main, links };
}

function route(initial = false): void {
  if (!shell) return;
  const parsed = parseRoute(location.hash);
  if (!parsed) {
    history.replaceState(null, "", href("documents"));
    return route(initial);
  }
  const previous = current?.route;
  unmountScreen();
  for (const [name, link] of shell.links) {
    if (name === parsed.screen) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const label = SCREENS.find((s) => s.name === parsed.screen)?.label ?? "";
  document.title = `${label} · Steward admin`;
  const controller = new AbortController();
  const tracker = new LoadTracker(shell.main);
  current = { route: parsed, controller, tracker };
  shell.main.replaceChildren();
  shell.main.dataset.screen = parsed.screen;
  MOUNTS[parsed.screen](shell.main, {
    signal: controller.signal,
    sub: parsed.sub,
    principal: shell.principal,
    track: (work) => tracker.track(work),
  });
  tracker.mounted();
  if (initial) return;
  // Keyboard and screen reader users land on the new content: the heading, or the section link they chose.
  const sameScreen = previous?.screen === parsed.screen;
  const target = sameScreen
    ? shell.main.querySelector<HTMLElement>(".subnav [aria-current=page]")
    : shell.main.querySelector<HTMLElement>("h1");
  target?.focus();
}

async function boot(): Promise<void> {
  onUnauthorized(sessionEnded);
  window.addEventListener("hashchange", () => route());
  app.replaceChildren(h("main", { id: "main", "data-loading": "true" }, h("p", { class: "muted boot" }, "Loading…")));
  try {
    const session = await request<Session>("GET", "/v1/admin/session", { endSessionOn401: false });
    startSession(session);
  } catch (err) {
    // Single sign-on sends people back to #/signin?error=CODE when it did not sign them in.
    const ssoError = ssoErrorFromHash(location.hash);
    if (ssoError) history.replaceState(null, "", location.pathname);
    showSignIn(undefined, err instanceof ApiError && err.status === 401 ? undefined : err, ssoError);
  }
}

void boot();
