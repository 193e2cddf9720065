// Entry point of steward.js: defines <steward-chat> and, unless the page already has one, adds one to the
// page configured from this script tag's data-* attributes.

import { StewardChat } from "./element";

const TAG = "steward-chat";

function ownScript(): HTMLScriptElement | null {
  // currentScript is only set while this file runs for the first time (classic or defer script, not a module).
  const current = document.currentScript;
  if (current instanceof HTMLScriptElement && current.src) return current;
  for (const s of Array.from(document.scripts)) {
    try {
      if (s.src && new URL(s.src).pathname.endsWith("/widget/steward.js")) return s;
    } catch {
      // an unparsable src belongs to someone else
    }
  }
  return null;
}

const script = ownScript();
const data = script?.dataset ?? {};

function mount(): void {
  if (document.querySelector(TAG)) return; // the author placed one: theirs wins
  const el = document.createElement(TAG);
  const attrs: Record<string, string | undefined> = {
    site: data.site,
    "token-url": data.tokenUrl,
    api: data.api,
    heading: data.title,
    lang: data.lang,
  };
  for (const [name, value] of Object.entries(attrs)) if (value) el.setAttribute(name, value);
  if (data.open === "true") el.setAttribute("open", "true");
  document.body.append(el);
}

if (!customElements.get(TAG)) {
  StewardChat.defaultApi = data.api || (script ? new URL(script.src, location.href).origin : "");
  customElements.define(TAG, StewardChat);
  // Deferred or at the end of <body>, the page is parsed; in <head> without defer, wait so an author-placed
  // element further down is seen before adding another.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount, { once: true });
  else mount();
}

export { StewardChat };
