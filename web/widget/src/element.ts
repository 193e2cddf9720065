// <steward-chat>: the launcher, the panel and the conversation, in an open shadow root (open so browser
// tests can reach in; isolation comes from the shadow boundary, not from closing it).

import { sendFeedback, streamChat } from "./api";
import { ApiError } from "./errors";
import { feedbackControls } from "./feedback";
import { AnswerView } from "./message";
import { h, srOnly } from "./render";
import { CSS } from "./styles";
import { textsFor, type Texts } from "./texts";
import { TokenSource } from "./token";
import type { Citation } from "./types";

const ICON =
  '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h2V9H7zm4 0v2h2V9h-2zm4 0v2h2V9h-2z"/></svg>';

export class StewardChat extends HTMLElement {
  /** Where Steward is when the element has no `api` attribute: set by main.ts from the script tag. */
  static defaultApi = "";

  private readonly root = this.attachShadow({ mode: "open" });
  private t!: Texts;
  private launcher!: HTMLButtonElement;
  private panel!: HTMLElement;
  private input!: HTMLTextAreaElement;
  private sendBtn!: HTMLButtonElement;
  private stopBtn!: HTMLButtonElement;
  private list!: HTMLElement;
  private live!: HTMLElement;
  private alert!: HTMLElement;
  private conversationId: string | undefined;
  private turn: { ctrl: AbortController; view: AnswerView } | null = null;
  private tokens: TokenSource | null = null;
  // Follow the answer down while the reader is at the bottom; stop once they scroll up to read.
  private stick = true;
  private autoTop = 0;
  private frame = 0;

  connectedCallback(): void {
    if (!this.t) this.build();
    const open = this.getAttribute("open");
    if (open !== null && open !== "false") this.openPanel(false);
  }

  disconnectedCallback(): void {
    this.turn?.ctrl.abort();
  }

  get api(): string {
    return this.getAttribute("api") || StewardChat.defaultApi || location.origin;
  }

  openPanel(focus = true): void {
    this.panel.hidden = false;
    this.launcher.setAttribute("aria-expanded", "true");
    if (focus) this.input.focus();
  }

  closePanel(): void {
    this.panel.hidden = true;
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.focus();
  }

  /** Asks as if typed and sent; ignored while an answer is streaming. */
  ask(question: string): void {
    const q = question.trim();
    if (!q || this.turn) return;
    this.list.querySelector(".empty")?.remove();
    const view: AnswerView = new AnswerView(this.t, () => void this.run(q, view));
    this.list.append(
      h("div", { class: "msg", "data-part": "message", "data-role": "user", "data-state": "done" }, srOnly(this.t.you + " "), q),
      view.el,
    );
    this.stick = true;
    this.follow();
    void this.run(q, view);
  }

  newConversation(): void {
    this.turn?.ctrl.abort();
    this.conversationId = undefined;
    this.list.replaceChildren(this.emptyNote());
    this.live.textContent = this.alert.textContent = "";
    this.input.focus();
  }

  private build(): void {
    const t = (this.t = textsFor(this.getAttribute("lang")));
    // The table's language, for screen-reader pronunciation even on a page in another language.
    const lang = t === textsFor(null) ? "en" : this.getAttribute("lang") || "en";
    const title = this.getAttribute("heading") || t.title;
    const panelId = "steward-panel";

    this.launcher = h("button", {
      type: "button",
      class: "launcher",
      lang,
      "data-part": "launcher",
      "aria-label": t.launcher,
      "aria-expanded": "false",
      "aria-controls": panelId,
      onclick: () => (this.panel.hidden ? this.openPanel() : this.closePanel()),
    });
    this.launcher.innerHTML = ICON; // a constant: no server or page data

    const inputId = "steward-input";
    this.input = h("textarea", {
      id: inputId,
      rows: 2,
      maxlength: 4000,
      placeholder: t.placeholder,
      "data-part": "input",
      onkeydown: (e: KeyboardEvent) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !e.altKey && !e.ctrlKey && !e.metaKey) {
          e.preventDefault();
          this.submit();
        }
      },
    });
    this.sendBtn = h("button", { type: "submit", class: "primary", "data-part": "send" }, t.send);
    this.stopBtn = h(
      "button",
      {
        type: "button",
        class: "primary",
        "data-part": "stop",
        hidden: true,
        disabled: true,
        onclick: () => {
          this.turn?.ctrl.abort();
          this.input.focus();
        },
      },
      t.stop,
    );
    this.list = h("div", { class: "messages", "data-part": "messages" }, this.emptyNote());
    this.list.addEventListener(
      "scroll",
      () => {
        const l = this.list;
        this.stick = l.scrollTop >= this.autoTop - 2 || l.scrollHeight - l.scrollTop - l.clientHeight < 48;
      },
      { passive: true },
    );

    // The form comes before the messages in the DOM (and after them on screen, by flex order) so that Tab
    // goes question → Send/Stop → the answers' chips, thumbs and Retry, as the keyboard flow expects.
    this.panel = h(
      "div",
      {
        id: panelId,
        class: "panel",
        lang,
        role: "dialog",
        "aria-label": title,
        "aria-modal": "false",
        "data-part": "panel",
        hidden: true,
        onkeydown: (e: KeyboardEvent) => {
          if (e.key === "Escape") {
            e.preventDefault();
            this.closePanel();
          }
        },
      },
      h(
        "header",
        {},
        h("h2", {}, title),
        h("button", { type: "button", "data-part": "new-conversation", onclick: () => this.newConversation() }, t.newConversation),
        h("button", { type: "button", class: "x", "aria-label": t.close, title: t.close, onclick: () => this.closePanel() }, "\u00d7"),
      ),
      h(
        "form",
        {
          onsubmit: (e: Event) => {
            e.preventDefault();
            this.submit();
          },
        },
        h("label", { for: inputId, class: "sr" }, t.inputLabel),
        this.input,
        this.sendBtn,
        this.stopBtn,
      ),
      this.list,
    );
    // Outside the panel, so answers finishing while it is closed are still announced.
    this.live = h("div", { class: "sr", "aria-live": "polite", "data-part": "live" });
    this.alert = h("div", { class: "sr", role: "alert", "data-part": "alert" });
    this.root.append(this.launcher, this.panel, this.live, this.alert);
    this.applyStyles();
  }

  // A constructed stylesheet is not subject to the host page's CSP style-src, which an inline <style> is;
  // the <style> is the fallback for browsers without constructable stylesheets.
  private applyStyles(): void {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      this.root.adoptedStyleSheets = [sheet];
    } catch {
      this.root.prepend(h("style", {}, CSS));
    }
  }

  private emptyNote(): HTMLElement {
    return h("p", { class: "empty" }, this.t.empty);
  }

  private submit(): void {
    if (this.turn || !this.input.value.trim()) return;
    const q = this.input.value;
    this.input.value = "";
    this.ask(q);
  }

  private tokenSource(): TokenSource {
    const url = this.getAttribute("token-url");
    if (!url) throw new ApiError("token");
    if (this.tokens?.url !== url) this.tokens = new TokenSource(url);
    return this.tokens;
  }

  private async run(question: string, view: AnswerView): Promise<void> {
    if (this.turn) return;
    view.reset();
    const ctrl = new AbortController();
    const turn = { ctrl, view };
    this.turn = turn;
    this.streaming(true);
    let sources: Citation[] = [];
    // Emitted once the turn is over, so a listener sees Send back and may ask the next question at once.
    let outcome: [string, unknown] | null = null;
    try {
      const body = { question, stream: true as const, ...(this.conversationId ? { conversation_id: this.conversationId } : {}) };
      await streamChat(this.api, this.tokenSource(), body, ctrl.signal, (ev) => {
        if (ev.event === "meta") {
          this.conversationId = ev.data.conversation_id || this.conversationId;
          sources = ev.data.sources || [];
        } else if (ev.event === "token") {
          view.token(ev.data.text);
          this.emit("steward:token", { text: ev.data.text, at: performance.now() });
          this.follow();
        } else if (ev.event === "sentence") {
          view.sentences.push(ev.data);
        } else if (ev.event === "done") {
          const d = ev.data;
          this.conversationId = d.conversation_id || this.conversationId;
          this.say(this.live, view.done(d));
          if (d.message_id) view.append(this.feedback(d.message_id));
          outcome = ["steward:done", d];
          this.follow();
        }
      });
    } catch (e) {
      if (ctrl.signal.aborted) {
        this.say(this.live, view.partial("stopped", sources) + " " + this.t.stopped);
      } else {
        const err = e instanceof ApiError ? e : new ApiError("http", "", 0);
        if (!(e instanceof ApiError)) console.error("steward widget:", e);
        const message = this.describe(err);
        view.partial("error", sources);
        view.error(message, err.retryAfter);
        this.say(this.alert, message(err.retryAfter));
        outcome = ["steward:error", { kind: err.kind, status: err.status, code: err.code, message: message(err.retryAfter) }];
      }
      this.follow();
    } finally {
      if (this.turn === turn) {
        this.turn = null;
        this.streaming(false);
      }
    }
    if (outcome) this.emit(...outcome);
  }

  private feedback(messageId: string): HTMLElement {
    return feedbackControls(
      this.t,
      (rating, comment) => sendFeedback(this.api, this.tokenSource(), { message_id: messageId, rating, comment }),
      (e) => this.describe(e instanceof ApiError ? e : new ApiError("network"))(null),
    );
  }

  /** The words for a failure, as a function of the seconds left to wait (for the Retry-After countdown). */
  private describe(e: ApiError): (secondsLeft: number | null) => string {
    const t = this.t;
    switch (e.kind) {
      case "token":
        return () => (e.status === 401 || e.status === 403 ? t.notSignedIn : t.tokenFailed);
      case "expired":
        return () => t.sessionExpired;
      case "network":
        return () => t.connectionLost;
    }
    if (e.status === 429 || e.status === 503) {
      const say = e.code === "quota_exceeded" ? t.quota : t.busy;
      return (s) => say(s ? t.seconds(s) : null);
    }
    return () => e.message || t.failed(e.status);
  }

  private streaming(on: boolean): void {
    const focused = this.root.activeElement;
    this.sendBtn.hidden = on;
    this.stopBtn.hidden = this.stopBtn.disabled = !on;
    // Keep keyboard focus where it was rather than losing it with a button that just disappeared.
    if (on && focused === this.sendBtn) this.stopBtn.focus();
    if (!on && focused === this.stopBtn) this.input.focus();
  }

  private follow(): void {
    if (!this.stick || this.frame) return;
    // At most one scroll per frame, after the frame's tokens are in: painting a token never waits on layout.
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.list.scrollTop = this.list.scrollHeight;
      this.autoTop = this.list.scrollTop;
    });
  }

  private say(region: HTMLElement, text: string): void {
    region.textContent = "";
    region.textContent = text;
  }

  private emit(name: string, detail: unknown): void {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }
}
