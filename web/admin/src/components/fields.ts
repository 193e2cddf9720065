// Labelled form controls: every input has a <label>, hints are wired with aria-describedby.

import { h, uid, type Attrs } from "../dom";

export function field(label: string, control: HTMLElement, hint?: string, extraClass = ""): HTMLDivElement {
  const id = control.id || uid("f");
  control.id = id;
  const parts: HTMLElement[] = [h("label", { for: id }, label), control];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("p", { class: "hint", id: hintId }, hint));
  }
  return h("div", { class: `field ${extraClass}`.trim() }, parts);
}

export function input(attrs: Attrs = {}): HTMLInputElement {
  return h("input", { type: "text", autocomplete: "off", spellcheck: "false", ...attrs });
}

export function select(options: readonly (readonly [string, string])[], value = "", attrs: Attrs = {}): HTMLSelectElement {
  const el = h("select", attrs, options.map(([v, label]) => h("option", { value: v }, label)));
  el.value = value;
  return el;
}

/** [value, label] pairs where the label is the value itself. */
export function plain(values: readonly string[]): [string, string][] {
  return values.map((v) => [v, v]);
}

export function button(label: string, attrs: Attrs = {}, kind: "primary" | "secondary" | "danger" | "link" = "secondary"): HTMLButtonElement {
  return h("button", { type: "button", class: `btn btn-${kind}`, ...attrs }, label);
}

/** Disable a button while `work` runs, with a busy label. */
export async function busy<T>(btn: HTMLButtonElement, label: string, work: () => Promise<T>): Promise<T> {
  const original = btn.textContent;
  btn.disabled = true;
  btn.setAttribute("aria-busy", "true");
  btn.textContent = label;
  try {
    return await work();
  } finally {
    btn.disabled = false;
    btn.removeAttribute("aria-busy");
    btn.textContent = original;
  }
}
