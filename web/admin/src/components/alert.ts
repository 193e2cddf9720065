// An inline error region (role="alert"): shows the server's message, never a raw exception.

import { describeError, isAbort } from "../api";
import { h } from "../dom";

export interface ErrorBox {
  el: HTMLDivElement;
  show(err: unknown): void;
  message(text: string): void;
  clear(): void;
}

export function errorBox(testid = "error"): ErrorBox {
  const el = h("div", { role: "alert", class: "alert", "data-testid": testid });
  return {
    el,
    show(err) {
      if (isAbort(err)) return;
      el.textContent = describeError(err);
    },
    message(text) {
      el.textContent = text;
    },
    clear() {
      el.textContent = "";
    },
  };
}
