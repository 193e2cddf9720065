// Previous / next with "1–50 of 10,000".

import { h } from "../dom";
import { formatRange } from "../format";

export interface Pager {
  el: HTMLElement;
  update(offset: number, count: number, total: number): void;
}

export function pager(label: string, limit: number, onChange: (offset: number) => void): Pager {
  let offset = 0;
  let total = 0;
  const prev = h("button", { type: "button", class: "btn", "data-testid": "pager-prev", disabled: true }, "Previous");
  const next = h("button", { type: "button", class: "btn", "data-testid": "pager-next", disabled: true }, "Next");
  const range = h("span", { class: "pager-range", "aria-live": "polite", "data-testid": "pager-range" }, "");
  prev.setAttribute("aria-label", `Previous page of ${label}`);
  next.setAttribute("aria-label", `Next page of ${label}`);
  prev.addEventListener("click", () => onChange(Math.max(0, offset - limit)));
  next.addEventListener("click", () => onChange(offset + limit));
  const el = h("div", { class: "pager", role: "group", "aria-label": `Pages of ${label}` }, prev, range, next);
  return {
    el,
    update(newOffset, count, newTotal) {
      offset = newOffset;
      total = newTotal;
      range.textContent = formatRange(offset, count, total);
      prev.disabled = offset <= 0;
      next.disabled = offset + count >= total;
    },
  };
}
