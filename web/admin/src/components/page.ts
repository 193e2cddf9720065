// Page scaffolding: the screen's heading (focus lands on it after navigation) and labelled sections.

import { h, uid, type Child } from "../dom";

export function pageHeader(title: string, intro?: string): HTMLElement {
  return h(
    "div",
    { class: "page-head" },
    h("h1", { tabindex: -1 }, title),
    intro ? h("p", { class: "lead" }, intro) : null,
  );
}

/** A <section> named by its heading (h2 by default). */
export function section(title: string, options: { level?: 2 | 3; testid?: string; className?: string; actions?: Child } = {}, ...children: Child[]): HTMLElement {
  const id = uid("section");
  const heading = h(options.level === 3 ? "h3" : "h2", { id }, title);
  return h(
    "section",
    { "aria-labelledby": id, class: `section ${options.className ?? ""}`.trim(), "data-testid": options.testid ?? null },
    options.actions ? h("div", { class: "section-head" }, heading, h("div", { class: "section-actions" }, options.actions)) : heading,
    children,
  );
}

/** A list of short values (groups, tags) as chips; "—" when empty. */
export function chips(values: readonly string[], className = ""): HTMLElement {
  if (!values.length) return h("span", { class: "muted" }, "—");
  return h("ul", { class: `chips ${className}`.trim() }, values.map((v) => h("li", { class: "chip" }, v)));
}
