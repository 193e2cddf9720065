// A tiny element builder. Strings always become text nodes, so server data never reaches innerHTML.

export type Child = Node | string | number | null | undefined | false | Child[];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Handler = (event: any) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Handler>;

// Set as properties, not attributes: the live state of a form control.
const PROPERTIES = new Set(["value", "checked", "selected", "disabled", "hidden"]);

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) setAttrs(el, attrs);
  append(el, ...children);
  return el;
}

export function setAttrs(el: HTMLElement, attrs: Attrs): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (PROPERTIES.has(name)) {
      (el as unknown as Record<string, unknown>)[name] = value;
    } else if (value === false) {
      el.removeAttribute(name);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, ...child);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el: Node): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function replaceChildren(el: Node, ...children: Child[]): void {
  clear(el);
  append(el, ...children);
}

let nextId = 0;
/** A document-unique id for label/aria wiring. */
export function uid(prefix = "id"): string {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** Split "a, b ,c" into ["a", "b", "c"], dropping blanks and duplicates. */
export function splitList(text: string, separator: RegExp = /,/): string[] {
  const out: string[] = [];
  for (const part of text.split(separator)) {
    const item = part.trim();
    if (item && !out.includes(item)) out.push(item);
  }
  return out;
}

/** A screen-reader-only text. */
export function srOnly(text: string): HTMLSpanElement {
  return h("span", { class: "visually-hidden" }, text);
}
