// The audit log: filtered and paged, the hash chain verified on demand, exports as downloads.

import { api, buildUrl, describeError } from "../../api";
import { errorBox } from "../../components/alert";
import { badge } from "../../components/badge";
import { button, field, input } from "../../components/fields";
import { section } from "../../components/page";
import { pager } from "../../components/pager";
import { tableView } from "../../components/table";
import { h } from "../../dom";
import { formatInt, localInputToIso, timeEl } from "../../format";
import type { ScreenContext } from "../../screen";
import type { AuditEvent, AuditList, VerifyResult } from "../../types";

const PAGE_SIZE = 50;
/** Streams every row with its hashes (JSON Lines or CSV); cookie auth works for a plain GET download. */
export const AUDIT_EXPORT_PATH = "/v1/admin/audit/export";

export function auditSection(ctx: ScreenContext): HTMLElement {
  const error = errorBox("audit-error");
  const filters = { principal_id: "", action: "", since: "", until: "" };
  let offset = 0;

  const person = input({ name: "principal_id", maxlength: 36, "data-testid": "audit-principal" });
  const action = input({ name: "action", maxlength: 64, placeholder: "e.g. chat or document.", "data-testid": "audit-action" });
  const since = input({ type: "datetime-local", name: "since", "data-testid": "audit-since" });
  const until = input({ type: "datetime-local", name: "until", "data-testid": "audit-until" });
  const apply = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "audit-apply" }, "Apply filters");
  const reset = button("Reset", { "data-testid": "audit-reset" });
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter audit events" },
    field("Person (principal id)", person),
    field("Action starts with", action),
    field("From", since),
    field("To", until),
    h("div", { class: "filter-actions" }, apply, reset),
  );

  const exportJsonl = h("a", { class: "btn btn-secondary", download: "audit.jsonl", "data-testid": "audit-export-jsonl" }, "Export JSON Lines");
  const exportCsv = h("a", { class: "btn btn-secondary", download: "audit.csv", "data-testid": "audit-export-csv" }, "Export CSV");
  const setExportLinks = () => {
    const range = { since: filters.since, until: filters.until };
    exportJsonl.href = buildUrl(AUDIT_EXPORT_PATH, { format: "jsonl", ...range });
    exportCsv.href = buildUrl(AUDIT_EXPORT_PATH, { format: "csv", ...range });
  };
  setExportLinks();

  const verify = button("Verify chain", { "data-testid": "verify-chain" }, "primary");
  const verifyResult = h("p", { class: "verify-result", role: "status", "data-testid": "verify-result" });
  verify.addEventListener("click", async () => {
    verify.disabled = true;
    verifyResult.className = "verify-result";
    verifyResult.removeAttribute("data-ok");
    verifyResult.textContent = "Verifying the whole chain…";
    try {
      const result = await api.post<VerifyResult>("/v1/admin/audit/verify");
      showVerify(verifyResult, result);
    } catch (err) {
      verifyResult.dataset.ok = "error";
      verifyResult.className = "verify-result verify-bad";
      verifyResult.textContent = `Could not verify: ${describeError(err)}`;
    } finally {
      verify.disabled = false;
    }
  });

  const table = tableView<AuditEvent>({
    caption: "Audit events",
    testid: "audit-table",
    empty: "No events.",
    key: (e) => String(e.id),
    rowAttrs: (e) => ({ "data-testid": "audit-row", "data-id": String(e.id) }),
    columns: [
      { header: "Time", cell: (e) => timeEl(e.created_at) },
      {
        header: "Person",
        cell: (e) =>
          e.principal_id || e.principal_name
            ? h("div", {}, h("span", {}, e.principal_name ?? "—"), e.principal_id ? h("code", { class: "muted small block" }, e.principal_id) : null)
            : h("span", { class: "muted" }, "System"),
      },
      { header: "Action", cell: (e) => h("code", {}, e.action) },
      { header: "Decision", cell: (e) => (e.decision ? badge(e.decision) : h("span", { class: "muted" }, "—")) },
      { header: "Rule", cell: (e) => (e.rule_id ? h("code", {}, e.rule_id) : h("span", { class: "muted" }, "—")) },
      { header: "Reason", cell: (e) => e.reason || h("span", { class: "muted" }, "—") },
      { header: "Details", cell: (e) => detailsCell(e) },
    ],
  });
  const pages = pager("audit events", PAGE_SIZE, (next) => {
    offset = next;
    void load();
  });

  async function load(): Promise<void> {
    try {
      const data = await ctx.track(
        api.get<AuditList>("/v1/admin/audit/events", { ...filters, limit: PAGE_SIZE, offset }, ctx.signal),
      );
      error.clear();
      table.setRows(data.events, hasFilters() ? "No events match these filters." : undefined);
      pages.update(offset, data.events.length, data.total);
    } catch (err) {
      error.show(err);
    }
  }
  const hasFilters = () => Object.values(filters).some(Boolean);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const from = localInputToIso(since.value);
    const to = localInputToIso(until.value);
    if (from && to && from > to) {
      error.message("“From” is after “To”.");
      since.focus();
      return;
    }
    filters.principal_id = person.value.trim();
    filters.action = action.value.trim();
    filters.since = from ?? "";
    filters.until = to ?? "";
    offset = 0;
    setExportLinks();
    void load();
  });
  reset.addEventListener("click", () => {
    form.reset();
    filters.principal_id = filters.action = filters.since = filters.until = "";
    offset = 0;
    setExportLinks();
    void load();
  });

  void load();
  return section(
    "Audit log",
    { testid: "audit-section" },
    h("p", { class: "lead" }, "Every decision and admin action, in a hash chain: verifying it shows whether any row was changed or removed."),
    h("div", { class: "toolbar" }, verify, exportJsonl, exportCsv),
    verifyResult,
    form,
    error.el,
    table.el,
    pages.el,
  );
}

function showVerify(el: HTMLElement, result: VerifyResult): void {
  el.dataset.ok = String(result.ok);
  el.className = `verify-result ${result.ok ? "verify-ok" : "verify-bad"}`;
  const headline = result.ok
    ? `Chain intact: ${formatInt(result.rows)} rows verified.`
    : `Chain broken at ${result.bad_row_id !== null ? `row ${result.bad_row_id}` : "the chain head"}: ${result.problem || "a row does not match its hash"}.`;
  el.replaceChildren(h("strong", {}, result.ok ? "✓ " : "✗ ", headline));
  // The server's own line names the anchor and the head hash: worth keeping for the record.
  const plain = (text: string) => text.toLowerCase().replace(/\.$/, "");
  if (result.summary && plain(result.summary) !== plain(headline)) {
    el.append(h("span", { class: "block small verify-summary" }, result.summary));
  }
}

function detailsCell(event: AuditEvent): HTMLElement {
  const details = event.details ?? {};
  if (event.erased) return h("span", { class: "muted" }, "Erased");
  if (!Object.keys(details).length) return h("span", { class: "muted" }, "—");
  return h(
    "details",
    { class: "json" },
    h("summary", {}, "Show", h("span", { class: "visually-hidden" }, ` details of event ${event.id}`)),
    h("pre", { tabindex: 0, "aria-label": `Details of event ${event.id}` }, JSON.stringify(details, null, 2)),
  );
}
