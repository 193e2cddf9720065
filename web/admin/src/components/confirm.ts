// "Delete X?" with the action run inside the dialog: its error shows there, and it closes only on success.

import type { Child } from "../dom";
import { h } from "../dom";
import { openDialog } from "./dialog";
import { button } from "./fields";

export interface ConfirmOptions {
  title: string;
  message: Child;
  confirmLabel: string;
  busyLabel?: string;
  danger?: boolean;
  /** Resolve to close the dialog, with what to do once it has closed (open the next dialog). */
  action: () => Promise<void | (() => void)>;
}

/** Resolves true when the action ran and succeeded, false when cancelled. */
export function confirmAction(options: ConfirmOptions): Promise<boolean> {
  const cancel = button("Cancel", { "data-testid": "confirm-no" });
  const yes = button(options.confirmLabel, { "data-testid": "confirm-yes" }, options.danger ? "danger" : "primary");
  const handle = openDialog(
    { title: options.title, testid: "confirm-dialog", initialFocus: () => cancel },
    h("div", { class: "confirm-message" }, options.message),
  );
  handle.actions.append(cancel, yes);
  let done = false;
  cancel.addEventListener("click", () => handle.close());
  yes.addEventListener("click", async () => {
    handle.error.clear();
    yes.disabled = true;
    cancel.disabled = true;
    const label = yes.textContent;
    yes.textContent = options.busyLabel ?? "Working…";
    try {
      const then = await options.action();
      done = true;
      handle.close();
      if (then) then();
    } catch (err) {
      handle.error.show(err);
      yes.disabled = false;
      cancel.disabled = false;
      yes.textContent = label;
      yes.focus();
    }
  });
  return handle.closed.then(() => done);
}
