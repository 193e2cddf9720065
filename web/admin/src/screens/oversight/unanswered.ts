// Questions Steward answered "I don't know" to: the gaps in the knowledge base.

import { api } from "../../api";
import { errorBox } from "../../components/alert";
import { section } from "../../components/page";
import { pager } from "../../components/pager";
import { tableView } from "../../components/table";
import { h } from "../../dom";
import { timeEl } from "../../format";
import type { ScreenContext } from "../../screen";
import type { UnansweredList, UnansweredQuestion } from "../../types";

const PAGE_SIZE = 50;

export function unansweredSection(ctx: ScreenContext): HTMLElement {
  const error = errorBox("unanswered-error");
  let offset = 0;
  const table = tableView<UnansweredQuestion>({
    caption: "Unanswered questions",
    testid: "unanswered-table",
    empty: "No unanswered questions.",
    key: (q) => q.id,
    rowAttrs: (q) => ({ "data-testid": "unanswered-row", "data-id": q.id }),
    columns: [
      {
        header: "Question",
        cell: (q) =>
          h(
            "div",
            {},
            h("span", {}, q.question),
            q.query && q.query !== q.question ? h("span", { class: "muted small block" }, `Searched as: ${q.query}`) : null,
          ),
      },
      { header: "Asked", cell: (q) => timeEl(q.created_at) },
      { header: "Channel", cell: (q) => q.channel },
      { header: "Person", cell: (q) => (q.principal_id ? h("code", {}, q.principal_id) : h("span", { class: "muted" }, "—")) },
      { header: "Best match", cell: (q) => similarity(q.best_similarity), className: "num" },
      {
        header: "Nearest documents",
        cell: (q) =>
          q.nearest.length
            ? h("ul", { class: "plain-list" }, q.nearest.map((d) => h("li", {}, d.title || d.document_id, h("span", { class: "muted" }, ` (${similarity(d.similarity)})`))))
            : h("span", { class: "muted" }, "None"),
      },
    ],
  });
  const pages = pager("unanswered questions", PAGE_SIZE, (next) => {
    offset = next;
    void load();
  });

  async function load(): Promise<void> {
    try {
      const data = await ctx.track(api.get<UnansweredList>("/v1/admin/unanswered", { limit: PAGE_SIZE, offset }, ctx.signal));
      error.clear();
      table.setRows(data.questions);
      pages.update(offset, data.questions.length, data.total);
    } catch (err) {
      error.show(err);
    }
  }
  void load();
  return section(
    "Unanswered questions",
    { testid: "unanswered-section" },
    h("p", { class: "lead" }, "Questions nothing relevant was found for, newest first, with the closest documents: candidates for new or better documents."),
    error.el,
    table.el,
    pages.el,
  );
}

function similarity(value: number | null | undefined): string {
  return typeof value === "number" ? value.toFixed(2) : "—";
}
