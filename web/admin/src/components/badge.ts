// Coloured status badges; the colour is never the only signal: the word is always there.

import { h } from "../dom";

const LABELS: Record<string, string> = {
  queued: "Queued",
  processing: "Processing",
  ready: "Ready",
  failed: "Failed",
  uploading: "Uploading",
  waiting: "Waiting",
  cancelled: "Cancelled",
  active: "Active",
  revoked: "Revoked",
  expired: "Expired",
  allow: "Allow",
  deny: "Deny",
  up: "Helpful",
  down: "Not helpful",
};

export type Tone = "neutral" | "info" | "ok" | "bad" | "warn";

const TONES: Record<string, Tone> = {
  queued: "neutral",
  waiting: "neutral",
  processing: "info",
  uploading: "info",
  ready: "ok",
  active: "ok",
  allow: "ok",
  up: "ok",
  failed: "bad",
  revoked: "bad",
  deny: "bad",
  down: "bad",
  expired: "warn",
  cancelled: "warn",
};

export function badge(status: string, label?: string, tone?: Tone): HTMLSpanElement {
  const t = tone ?? TONES[status] ?? "neutral";
  return h("span", { class: `badge badge-${t}`, "data-status": status }, label ?? LABELS[status] ?? status);
}
