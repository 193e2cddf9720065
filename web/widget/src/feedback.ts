// Thumbs up/down under an answer, then an optional comment. The rating is sent with the comment, in one
// request, when the person presses Send feedback (the comment may be empty).

import { h, uid } from "./render";
import type { Texts } from "./texts";
import type { Rating } from "./types";

const THUMB =
  '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z"/></svg>';

export function feedbackControls(
  t: Texts,
  send: (rating: Rating, comment: string) => Promise<void>,
  describe: (e: unknown) => string,
): HTMLElement {
  let rating: Rating | null = null;
  const thumb = (r: Rating, label: string): HTMLButtonElement => {
    const b = h("button", {
      type: "button",
      class: "ghost thumb " + r,
      "data-part": `feedback-${r}`,
      "aria-pressed": "false",
      "aria-label": label,
      title: label,
      onclick: () => choose(r),
    });
    b.innerHTML = THUMB; // a constant; an SVG rather than an emoji, which some desktops lack a font for
    return b;
  };
  const up = thumb("up", t.helpful);
  const down = thumb("down", t.notHelpful);
  const commentId = uid("c");
  const comment = h("textarea", { id: commentId, rows: 2, "data-part": "feedback-comment", maxlength: 2000 });
  const submit = h("button", { type: "button", class: "ghost", "data-part": "feedback-send", onclick: () => void go() }, t.sendFeedback);
  const problem = h("div", { class: "err", role: "alert" });
  const form = h("div", { class: "fb", hidden: true }, h("label", { for: commentId }, t.commentLabel), comment, h("div", { class: "actions" }, submit), problem);
  const status = h("div", { class: "note", role: "status", tabindex: -1 });

  function choose(r: Rating): void {
    if (up.disabled) return;
    rating = r;
    up.setAttribute("aria-pressed", String(r === "up"));
    down.setAttribute("aria-pressed", String(r === "down"));
    form.hidden = false;
  }

  async function go(): Promise<void> {
    if (!rating) return;
    submit.disabled = true;
    problem.textContent = "";
    try {
      await send(rating, comment.value.trim());
    } catch (e) {
      problem.textContent = describe(e);
      submit.disabled = false;
      return;
    }
    up.disabled = down.disabled = true;
    form.remove();
    status.textContent = t.thanks;
    // The button that had focus is gone: keep focus nearby, on the confirmation.
    status.focus();
  }

  return h("div", { class: "fbk" }, h("div", { class: "actions" }, up, down), form, status);
}
