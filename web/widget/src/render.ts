// DOM builders. Server text only ever becomes Text nodes (append/textContent): documents are untrusted, and
// a passage holding "<img onerror=...>" must show as those characters.

import type { Texts } from "./texts";
import type { Citation, Location, Sentence } from "./types";

// `any`: listeners for different event types (click, keydown, input) share one attribute map.
type Attr = string | number | boolean | null | undefined | ((e: any) => void);
type Kid = Node | string | null | undefined | false;

/** createElement with attributes (`on*` functions become listeners) and children (strings become text). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, Attr> = {},
  ...kids: Kid[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const k in attrs) {
    const v = attrs[k];
    if (typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else if (v != null && v !== false) el.setAttribute(k, String(v));
  }
  for (const kid of kids) if (kid) el.append(kid);
  return el;
}

let seq = 0;
/** Ids for aria-controls/aria-describedby; unique within the page, so several widgets never collide. */
export const uid = (prefix: string): string => `stw-${prefix}${++seq}`;

export const srOnly = (text: string): HTMLElement => h("span", { class: "sr" }, text);

/** Text with its `[n]` markers as small buttons opening source n; markers naming no known source stay text. */
export function withMarkers(
  text: string,
  cites: Map<number, Citation>,
  open: (n: number) => void,
  t: Texts,
): (Node | string)[] {
  const out: (Node | string)[] = [];
  let at = 0;
  for (const m of text.matchAll(/\[(\d+)\]/g)) {
    const n = Number(m[1]);
    const c = cites.get(n);
    if (!c) continue;
    const i = m.index ?? 0;
    out.push(text.slice(at, i));
    out.push(
      h(
        "sup",
        {},
        // Out of the Tab order: the chips below do the same, and a long answer would bury them under markers.
        h("button", { type: "button", class: "mark", tabindex: -1, "data-part": "marker", "aria-label": t.source(n, c.title), onclick: () => open(n) }, String(n)),
      ),
    );
    at = i + m[0].length;
  }
  out.push(text.slice(at));
  return out;
}

/** A generated answer as one span per shown sentence, unsupported ones marked visibly and for screen readers. */
export function sentenceSpans(
  sentences: Sentence[],
  answer: string,
  cites: Map<number, Citation>,
  open: (n: number) => void,
  t: Texts,
): (Node | string)[] {
  const out: (Node | string)[] = [];
  let at = 0;
  for (const s of sentences) {
    // Keep the answer's own whitespace between sentences (paragraph breaks) where it can be found.
    const i = answer.indexOf(s.text, at);
    const gap = i >= 0 ? answer.slice(at, i) : "";
    if (out.length) out.push(/^\s+$/.test(gap) ? gap : " ");
    if (i >= 0) at = i + s.text.length;
    const span = h(
      "span",
      { class: s.supported ? "s" : "s unsupported", "data-part": "sentence", "data-supported": String(s.supported), "data-index": s.index },
      ...withMarkers(s.text, cites, open, t),
    );
    out.push(span);
    if (!s.supported) {
      const id = uid("r");
      span.setAttribute("aria-describedby", id);
      out.push(
        " ",
        h("span", { class: "badge", id, title: s.reason || t.unverified }, t.unverified, s.reason && srOnly(": " + s.reason)),
      );
    }
  }
  return out;
}

/** Where a passage is, as people read it: "Section: Scope · Page 3". */
export function locationText(c: Citation, t: Texts): string {
  const p = c.passages?.[0];
  const loc: Location = { ...(c.locations?.[0] || {}), ...(c.location || {}), ...(p?.location || {}) };
  const heading = p?.heading || c.heading;
  if (loc.section == null && heading) loc.section = heading;
  const parts: string[] = [];
  for (const key of ["section", "page", "slide", "sheet", "attachment"] as const) {
    const v = loc[key];
    if (v == null || v === "") continue;
    parts.push(typeof v === "number" ? `${t.location[key]} ${v}` : `${t.location[key]}: ${v}`);
  }
  return parts.join(" · ");
}

/** Numbered chips under an answer and the one inline panel they share; `open` is for the in-text markers. */
export function sourcesBlock(cites: Citation[], t: Texts): { el: HTMLElement; open: (n: number) => void } {
  const panelId = uid("src");
  const panel = h("div", { class: "src", id: panelId, role: "group", "data-part": "source-panel", hidden: true });
  const chips = new Map<number, HTMLButtonElement>();
  let current = 0;
  const open = (n: number): void => {
    const c = cites.find((x) => x.source === n);
    current = current === n || !c ? 0 : n;
    for (const [k, chip] of chips) chip.setAttribute("aria-expanded", String(k === current));
    panel.hidden = !current;
    if (!c || !current) return;
    const where = locationText(c, t);
    panel.setAttribute("aria-label", t.source(n, c.title));
    panel.replaceChildren(
      h("strong", {}, c.title),
      where && h("div", { class: "muted" }, where),
      h("blockquote", {}, c.passages?.[0]?.text || c.text),
    );
  };
  const row = h("div", { class: "chips" }, h("span", { class: "muted" }, t.sources));
  for (const c of cites) {
    const chip = h(
      "button",
      {
        type: "button",
        class: "chip",
        "data-part": "chip",
        "data-source": c.source,
        "aria-label": t.source(c.source, c.title),
        "aria-expanded": "false",
        "aria-controls": panelId,
        title: c.title,
        onclick: () => open(c.source),
      },
      String(c.source),
    );
    chips.set(c.source, chip);
    row.append(chip);
  }
  return { el: h("div", {}, row, panel), open };
}
