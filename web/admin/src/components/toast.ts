// Short confirmations ("Document deleted") in one polite live region that the shell puts on every page.

import { h } from "../dom";

let region: HTMLElement | null = null;

export function toastRegion(): HTMLElement {
  region = h("div", { class: "toasts", role: "status", "aria-live": "polite", "data-testid": "toasts" });
  return region;
}

export function toast(text: string, kind: "ok" | "warn" = "ok"): void {
  if (!region) return;
  const item = h("p", { class: `toast toast-${kind}` }, text);
  region.appendChild(item);
  // A few at a time: older ones give way, so they never cover the page.
  while (region.childElementCount > 3) region.firstElementChild?.remove();
  window.setTimeout(() => item.remove(), 5000);
}
