// Data tables: <caption>, <th scope="col">, a row header, inside a focusable horizontally scrolling region.
// With a key, setRows() keeps unchanged rows (and the focus inside them) across refreshes, such as polling.

import { append, h, setAttrs, type Attrs, type Child } from "../dom";

export interface Column<T> {
  header: string;
  cell(row: T): Child;
  className?: string;
  /** Visually hidden header text (an actions column): still read by screen readers. */
  hiddenHeader?: boolean;
}

export interface TableOptions<T> {
  caption: string;
  columns: Column<T>[];
  key?: (row: T) => string;
  rowAttrs?: (row: T) => Attrs;
  empty: string;
  testid?: string;
  /** The first column is the row's header cell (default true). */
  rowHeader?: boolean;
}

export interface TableView<T> {
  el: HTMLElement;
  table: HTMLTableElement;
  setRows(rows: readonly T[], emptyText?: string): void;
}

export function tableView<T>(options: TableOptions<T>): TableView<T> {
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "data", "data-testid": options.testid ?? null },
    h("caption", { class: "visually-hidden" }, options.caption),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        options.columns.map((c) =>
          h(
            "th",
            { scope: "col", class: c.className ?? null },
            c.hiddenHeader ? h("span", { class: "visually-hidden" }, c.header) : c.header,
          ),
        ),
      ),
    ),
    tbody,
  );
  const el = h("div", { class: "table-wrap", role: "region", "aria-label": `${options.caption} table`, tabindex: 0 }, table);
  const rowHeader = options.rowHeader !== false;
  let rendered = new Map<string, { signature: string; tr: HTMLTableRowElement }>();

  function build(row: T): HTMLTableRowElement {
    const tr = h("tr");
    if (options.rowAttrs) setAttrs(tr, options.rowAttrs(row));
    options.columns.forEach((column, index) => {
      const cell = index === 0 && rowHeader ? h("th", { scope: "row" }) : h("td");
      if (column.className) cell.className = column.className;
      append(cell, column.cell(row));
      tr.appendChild(cell);
    });
    return tr;
  }

  function setRows(rows: readonly T[], emptyText?: string): void {
    const active = document.activeElement;
    const next = new Map<string, { signature: string; tr: HTMLTableRowElement }>();
    const trs: HTMLTableRowElement[] = [];
    let refocus: HTMLElement | null = null;
    rows.forEach((row, index) => {
      const key = options.key ? options.key(row) : String(index);
      const signature = options.key ? JSON.stringify(row) : "";
      const old = options.key ? rendered.get(key) : undefined;
      if (old && old.signature === signature && !next.has(key)) {
        next.set(key, old);
        trs.push(old.tr);
        return;
      }
      const tr = build(row);
      if (old && active instanceof HTMLElement && old.tr.contains(active)) {
        const action = active.dataset.action;
        refocus = (action && tr.querySelector<HTMLElement>(`[data-action="${action}"]`)) || el;
      }
      next.set(key, { signature, tr });
      trs.push(tr);
    });
    if (!trs.length) {
      trs.push(h("tr", { class: "empty-row" }, h("td", { colspan: options.columns.length }, emptyText ?? options.empty)));
    }
    // A focused row that disappears (deleted, filtered out) hands focus to the table region.
    if (!refocus && active instanceof HTMLElement && tbody.contains(active) && !trs.some((tr) => tr.contains(active))) {
      refocus = el;
    }
    tbody.replaceChildren(...trs);
    rendered = next;
    (refocus as HTMLElement | null)?.focus();
  }

  return { el, table, setRows };
}
