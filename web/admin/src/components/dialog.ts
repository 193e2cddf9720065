// Modal dialogs on the native <dialog>: showModal() makes the page behind inert, keeps focus inside and closes on
// Escape. Each dialog is labelled by its heading, removed from the page when it closes, and gives focus back.

import { append, h, uid, type Child } from "../dom";
import { errorBox, type ErrorBox } from "./alert";

export interface DialogOptions {
  title: string;
  testid?: string;
  wide?: boolean;
  /** Where focus goes first; default: the first control in the body, else the close button. */
  initialFocus?: () => HTMLElement | null;
  onClose?: () => void;
}

export interface DialogHandle {
  dialog: HTMLDialogElement;
  body: HTMLDivElement;
  actions: HTMLDivElement;
  error: ErrorBox;
  close(): void;
  /** Resolves once the dialog has closed (any way: a button, Escape, the close button). */
  closed: Promise<void>;
}

export function openDialog(options: DialogOptions, ...content: Child[]): DialogHandle {
  const titleId = uid("dialog-title");
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const reopen = replacementSelector(opener);
  const error = errorBox("dialog-error");
  const body = h("div", { class: "dialog-body" });
  append(body, ...content);
  const actions = h("div", { class: "dialog-actions" });
  const closeButton = h(
    "button",
    { type: "button", class: "btn btn-icon dialog-close", "aria-label": "Close", "data-testid": "dialog-close" },
    "×",
  );
  const dialog = h(
    "dialog",
    {
      class: options.wide ? "dialog dialog-wide" : "dialog",
      "aria-labelledby": titleId,
      "data-testid": options.testid ?? "dialog",
    },
    h("div", { class: "dialog-head" }, h("h2", { id: titleId }, options.title), closeButton),
    error.el,
    body,
    actions,
  );
  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  closeButton.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    dialog.remove();
    options.onClose?.();
    resolveClosed();
    // The opener's row may have been re-rendered meanwhile (the edit saved): focus the same action in the new row.
    const target =
      opener && opener.isConnected
        ? opener
        : ((reopen ? document.querySelector<HTMLElement>(reopen) : null) ?? document.querySelector<HTMLElement>("main h1"));
    target?.focus();
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  const first =
    options.initialFocus?.() ??
    body.querySelector<HTMLElement>("input:not([type=hidden]):not([disabled]), select, textarea") ??
    null;
  (first ?? closeButton).focus();
  return { dialog, body, actions, error, close: () => dialog.close(), closed };
}

/** A selector for "the same button in the same row": tr[data-id=…] [data-action=…], when the opener has both. */
function replacementSelector(opener: HTMLElement | null): string | null {
  const action = opener?.dataset.action;
  const row = opener?.closest("tr");
  if (!action || !row) return null;
  for (const name of ["data-id", "data-prefix", "data-name"]) {
    const value = row.getAttribute(name);
    if (value !== null) return `tr[${name}="${CSS.escape(value)}"] [data-action="${CSS.escape(action)}"]`;
  }
  return null;
}
