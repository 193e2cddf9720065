// Ratings people gave answers, with their comments and what the answer cited.

import { api } from "../../api";
import { errorBox } from "../../components/alert";
import { badge } from "../../components/badge";
import { field, select } from "../../components/fields";
import { section } from "../../components/page";
import { pager } from "../../components/pager";
import { tableView } from "../../components/table";
import { h } from "../../dom";
import { timeEl } from "../../format";
import type { ScreenContext } from "../../screen";
import type { Feedback, FeedbackList } from "../../types";

const PAGE_SIZE = 50;

export function feedbackSection(ctx: ScreenContext): HTMLElement {
  const error = errorBox("feedback-error");
  let offset = 0;
  const rating = select(
    [
      ["", "All ratings"],
      ["up", "Helpful"],
      ["down", "Not helpful"],
    ],
    "",
    { name: "rating", "data-testid": "feedback-rating" },
  );
  const table = tableView<Feedback>({
    caption: "Feedback",
    testid: "feedback-table",
    empty: "No feedback yet.",
    key: (f) => f.id,
    rowAttrs: (f) => ({ "data-testid": "feedback-row", "data-id": f.id, "data-rating": f.rating }),
    columns: [
      {
        header: "Question",
        cell: (f) =>
          h(
            "div",
            {},
            h("span", {}, f.question),
            h("details", { class: "answer" }, h("summary", {}, "Answer"), h("p", { class: "prewrap", tabindex: 0 }, f.answer)),
          ),
      },
      { header: "Rating", cell: (f) => badge(f.rating) },
      { header: "Comment", cell: (f) => f.comment || h("span", { class: "muted" }, "—") },
      { header: "Person", cell: (f) => f.principal_name || f.principal_id || h("span", { class: "muted" }, "—") },
      {
        header: "Citations",
        cell: (f) =>
          f.citations.length
            ? h("ul", { class: "plain-list" }, f.citations.map((c) => h("li", {}, c.title || c.source || c.document_id || "—")))
            : h("span", { class: "muted" }, "None"),
      },
      { header: "Time", cell: (f) => timeEl(f.created_at) },
    ],
  });
  const pages = pager("feedback", PAGE_SIZE, (next) => {
    offset = next;
    void load();
  });
  rating.addEventListener("change", () => {
    offset = 0;
    void load();
  });

  async function load(): Promise<void> {
    try {
      const data = await ctx.track(
        api.get<FeedbackList>("/v1/admin/feedback", { rating: rating.value, limit: PAGE_SIZE, offset }, ctx.signal),
      );
      error.clear();
      table.setRows(data.feedback, rating.value ? "No feedback with this rating." : undefined);
      pages.update(offset, data.feedback.length, data.total);
    } catch (err) {
      error.show(err);
    }
  }
  void load();
  return section(
    "Feedback",
    { testid: "feedback-section" },
    h("div", { class: "filters" }, field("Rating", rating)),
    error.el,
    table.el,
    pages.el,
  );
}
