// One assistant message through its life: streaming tokens, then the final rendering (sentences, marks,
// chips), or a stop, or an error with Retry. The element decides what happens; this decides how it looks.

import { h, sentenceSpans, sourcesBlock, srOnly, withMarkers } from "./render";
import type { Texts } from "./texts";
import type { Citation, DonePayload, Sentence } from "./types";

export type MessageState = "streaming" | "done" | "error" | "stopped";

const stripMarkers = (s: string): string => s.replace(/\s*\[\d+\]/g, "");

export class AnswerView {
  readonly el: HTMLElement;
  /** Grounding verdicts as they arrive; `done` repeats them, a stopped answer keeps what came. */
  sentences: Sentence[] = [];
  private answer!: HTMLElement;
  private extra!: HTMLElement;
  private text: Text | null = null;
  private raw = "";

  constructor(
    private readonly t: Texts,
    private readonly onRetry: () => void,
  ) {
    this.el = h("div", { class: "msg", "data-part": "message", "data-role": "assistant" });
    this.reset();
  }

  reset(): void {
    this.state("streaming");
    this.answer = h("div", { class: "answer", "data-part": "answer" }, h("span", { class: "muted" }, this.t.thinking));
    this.extra = h("div");
    this.el.replaceChildren(srOnly(this.t.assistant + " "), this.answer, this.extra);
    this.text = null;
    this.raw = "";
    this.sentences = [];
  }

  /** Paints one token at once: a single Text node grows, so nothing else on the page is re-laid out. */
  token(text: string): void {
    this.raw += text;
    if (this.text) this.text.appendData(text);
    else this.answer.replaceChildren((this.text = document.createTextNode(text)));
  }

  /** Replaces the streamed text with the checked answer; returns what the live region should say. */
  done(d: DonePayload): string {
    this.state("done");
    const cites = d.citations || [];
    const byNumber = new Map(cites.map((c) => [c.source, c]));
    const sources = cites.length ? sourcesBlock(cites, this.t) : null;
    const open = sources ? sources.open : () => {};
    const answer = d.answer || "";
    // An extractive fallback still shows the generated sentences that policy let through (marked), then the quotes.
    const shown = d.mode === "generated" || d.mode === "extractive" ? (d.sentences || []).filter((s) => s.shown) : [];
    let end = 0;
    for (const s of shown) {
      const i = answer.indexOf(s.text, end);
      if (i >= 0) end = i + s.text.length;
    }
    let said: string;
    if (shown.length && (d.mode === "generated" || end > 0)) {
      const rest = d.mode === "generated" ? "" : answer.slice(end).trim();
      this.answer.replaceChildren(...sentenceSpans(shown, answer, byNumber, open, this.t));
      if (rest) this.answer.append(" ", h("span", { class: "quote", "data-part": "quote" }, ...withMarkers(rest, byNumber, open, this.t)));
      said = shown.map((s) => stripMarkers(s.text) + (s.supported ? "" : " " + this.t.unverifiedAnnounced)).join(" ");
      if (rest) said += " " + stripMarkers(rest);
    } else {
      this.answer.replaceChildren(...withMarkers(d.answer || "", byNumber, open, this.t));
      said = stripMarkers(d.answer || "");
    }
    this.extra.replaceChildren();
    if (d.mode === "extractive") {
      this.note(this.t.extractive);
      said += " " + this.t.extractive;
    }
    const nearest = d.nearest || [];
    if (d.mode === "not_found" && nearest.length) {
      this.extra.append(
        h("div", { class: "note" }, this.t.nearest),
        h("ul", { class: "nearest" }, ...nearest.map((n) => h("li", {}, n.title))),
      );
      said += " " + this.t.nearest + " " + nearest.map((n) => n.title).join("; ");
    }
    if (sources) this.extra.append(sources.el);
    return said;
  }

  /** Ends an unfinished answer (stopped, or broken off): its text stays, markers and chips from `meta`'s sources. */
  partial(state: "stopped" | "error", sources: Citation[]): string {
    this.state(state);
    this.extra.replaceChildren();
    if (!this.raw) {
      this.answer.replaceChildren();
      this.answer.hidden = true;
    } else {
      const used = new Set(Array.from(this.raw.matchAll(/\[(\d+)\]/g), (m) => Number(m[1])));
      const cited = sources.filter((c) => used.has(c.source));
      const block = cited.length ? sourcesBlock(cited, this.t) : null;
      this.answer.replaceChildren(
        ...withMarkers(this.raw, new Map(cited.map((c) => [c.source, c])), block ? block.open : () => {}, this.t),
      );
      if (block) this.extra.append(block.el);
    }
    if (state === "stopped") this.note(this.t.stopped);
    return stripMarkers(this.raw);
  }

  /** An error line and Retry; `message(s)` is re-rendered each second while a Retry-After countdown runs. */
  error(message: (secondsLeft: number | null) => string, retryAfter: number | null): void {
    const line = h("div", { class: "err", "data-part": "error" }, message(retryAfter));
    const retry = h("button", { type: "button", class: "ghost", "data-part": "retry", onclick: this.onRetry }, this.t.retry);
    this.extra.prepend(h("div", { class: "actions" }, line, retry));
    if (retryAfter == null || retryAfter <= 0) return;
    const until = Date.now() + retryAfter * 1000;
    const timer = setInterval(() => {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      // Stops once the message is gone (retried, new conversation) or the wait is over.
      if (!line.isConnected || !left) clearInterval(timer);
      line.textContent = message(left || null);
    }, 1000);
  }

  append(node: Node): void {
    this.extra.append(node);
  }

  private note(text: string): void {
    this.extra.append(h("div", { class: "note" }, text));
  }

  private state(s: MessageState): void {
    this.el.setAttribute("data-state", s);
    this.el.setAttribute("aria-busy", String(s === "streaming"));
  }
}
