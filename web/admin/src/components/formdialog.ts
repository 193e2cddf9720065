// A dialog around a form: Cancel / submit, the submit button busy while the request runs, errors inside the
// dialog (the server's message, or a field the form itself found wrong), closed only on success.

import { h, uid, type Child } from "../dom";
import { openDialog, type DialogHandle } from "./dialog";
import { button } from "./fields";

/** Thrown by a submit handler for input the form itself rejects: the message shows, the control gets focus. */
export class InvalidField extends Error {
  constructor(
    readonly control: HTMLElement,
    message: string,
  ) {
    super(message);
  }
}

export interface FormDialogOptions {
  title: string;
  testid: string;
  submitLabel: string;
  busyLabel?: string;
  submitTestid?: string;
  wide?: boolean;
  /** Runs on submit; resolve to close the dialog, with what to do once it has closed (open the next dialog). */
  submit(): Promise<void | (() => void)>;
}

export function formDialog(options: FormDialogOptions, ...fields: Child[]): DialogHandle {
  const formId = uid("form");
  const form = h("form", { id: formId, class: "form-grid", novalidate: true }, fields);
  const cancel = button("Cancel");
  const submit = h(
    "button",
    { type: "submit", form: formId, class: "btn btn-primary", "data-testid": options.submitTestid ?? `${options.testid}-submit` },
    options.submitLabel,
  );
  const dialog = openDialog({ title: options.title, testid: options.testid, wide: options.wide }, form);
  dialog.actions.append(cancel, submit);
  cancel.addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    dialog.error.clear();
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    submit.disabled = true;
    submit.textContent = options.busyLabel ?? "Saving…";
    try {
      const then = await options.submit();
      dialog.close();
      if (then) then();
    } catch (err) {
      if (err instanceof InvalidField) {
        dialog.error.message(err.message);
        err.control.setAttribute("aria-invalid", "true");
        err.control.focus();
      } else {
        dialog.error.show(err);
      }
      submit.disabled = false;
      submit.textContent = options.submitLabel;
    }
  });
  return dialog;
}

/** A whole number from an optional number field: null when empty, InvalidField when out of [min, max]. */
export function optionalPositiveInt(control: HTMLInputElement, label: string, max = Number.MAX_SAFE_INTEGER, min = 1): number | null {
  const text = control.value.trim();
  if (!text) return null;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidField(control, `${label} must be a whole number from ${min} to ${max.toLocaleString()}.`);
  }
  return value;
}
