// A secret shown once (a new API key, a site secret): a warning, the value, a Copy button.

import { h, uid } from "../dom";
import { openDialog } from "./dialog";
import { button } from "./fields";

async function copyText(text: string, fallbackNode: HTMLElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard API (plain http, or denied): select the text, so Ctrl+C works, and try the old way.
    const range = document.createRange();
    range.selectNodeContents(fallbackNode);
    const selection = window.getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    }
  }
}

/** A value with its own Copy button and a polite "Copied" status. */
export function copyBlock(label: string, value: string, testid: string, multiline = false): HTMLElement {
  const labelId = uid("copy-label");
  const code = h("code", { class: multiline ? "copy-value copy-multiline" : "copy-value", "data-testid": `${testid}-value` }, value);
  const holder = multiline ? h("pre", { "aria-labelledby": labelId, tabindex: 0 }, code) : h("p", {}, code);
  const status = h("span", { class: "copy-status", role: "status" });
  const copy = button(`Copy ${label.toLowerCase()}`, { "data-testid": `${testid}-copy` });
  copy.addEventListener("click", async () => {
    const ok = await copyText(value, code);
    status.textContent = ok ? "Copied." : "Could not copy: the text is selected, press Ctrl+C (⌘C on a Mac).";
  });
  return h("div", { class: "copy-block" }, h("p", { class: "copy-label", id: labelId }, label), holder, h("div", { class: "copy-actions" }, copy, status));
}

export interface SecretOptions {
  title: string;
  intro: string;
  secretLabel: string;
  secret: string;
  snippet?: string;
  /** Why it cannot be shown again; default: it is not shown again. */
  why?: string;
}

export function showSecret(options: SecretOptions): Promise<void> {
  const done = button("Done, I have saved it", { "data-testid": "secret-done" }, "primary");
  const secretBlock = copyBlock(options.secretLabel, options.secret, "secret");
  const handle = openDialog(
    { title: options.title, testid: "secret-dialog", wide: true, initialFocus: () => secretBlock.querySelector("button") },
    h("p", {}, options.intro),
    h(
      "p",
      { class: "warning", "data-testid": "secret-warning" },
      h("strong", {}, "Copy it now. "),
      `This is the only time it is shown${options.why ? `: ${options.why}` : ""}. If it is lost, rotate it to get a new one.`,
    ),
    secretBlock,
    options.snippet ? copyBlock("Embed code", options.snippet, "snippet", true) : null,
  );
  handle.actions.append(done);
  done.addEventListener("click", () => handle.close());
  return handle.closed;
}
