// The ingestion queue at a glance, refreshed every 5 s while it is on screen; failed jobs can be retried.

import { api, seg } from "../../api";
import { errorBox } from "../../components/alert";
import { button } from "../../components/fields";
import { section } from "../../components/page";
import { tableView } from "../../components/table";
import { toast } from "../../components/toast";
import { h } from "../../dom";
import { formatInt, formatNumber, timeEl } from "../../format";
import type { ScreenContext } from "../../screen";
import { poller } from "../../timing";
import type { FailedJob, QueueStats } from "../../types";

const REFRESH_MS = 5000;

export function queueSection(ctx: ScreenContext): HTMLElement {
  const error = errorBox("queue-error");
  const stat = (key: string, label: string) => {
    const value = h("dd", { "data-testid": `queue-${key}` }, "—");
    return { value, el: h("div", { class: `stat stat-${key}` }, h("dt", {}, label), value) };
  };
  const stats = {
    queued: stat("queued", "Queued"),
    processing: stat("processing", "Processing"),
    failed: stat("failed", "Failed"),
    ready: stat("ready", "Ready"),
    throughput: stat("throughput", "Documents per minute"),
  };
  const updated = h("p", { class: "muted small", "data-testid": "queue-updated" });
  const table = tableView<FailedJob>({
    caption: "Failed jobs",
    testid: "failed-jobs-table",
    empty: "No failed jobs.",
    key: (j) => j.document_id,
    rowAttrs: (j) => ({ "data-testid": "failed-job-row", "data-id": j.document_id }),
    columns: [
      { header: "Document", cell: (j) => j.title || j.document_id },
      { header: "Error", cell: (j) => h("span", { class: "row-error" }, j.error || "Unknown error") },
      { header: "Finished", cell: (j) => timeEl(j.finished_at) },
      { header: "Actions", hiddenHeader: true, cell: (j) => retryButton(j) },
    ],
  });

  function retryButton(job: FailedJob): HTMLElement {
    const btn = button("Retry", { "data-testid": "job-retry", "data-action": "retry", "aria-label": `Retry ${job.title || job.document_id}` }, "link");
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      try {
        await api.post(`/v1/documents/${seg(job.document_id)}/retry`);
        toast(`“${job.title || job.document_id}” is queued again.`);
        await refresh();
      } catch (err) {
        error.show(err);
        btn.disabled = false;
      }
    });
    return btn;
  }

  async function refresh(): Promise<void> {
    try {
      const data = await api.get<QueueStats>("/v1/admin/queue", undefined, ctx.signal);
      error.clear();
      stats.queued.value.textContent = formatInt(data.queued);
      stats.processing.value.textContent = formatInt(data.processing);
      stats.failed.value.textContent = formatInt(data.failed);
      stats.ready.value.textContent = formatInt(data.ready);
      stats.throughput.value.textContent = formatNumber(data.throughput_per_min);
      table.setRows(data.failed_jobs);
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${REFRESH_MS / 1000} seconds.`;
    } catch (err) {
      error.show(err);
    }
  }

  void ctx.track(refresh()).then(() => poller(refresh, REFRESH_MS, ctx.signal, true).start());
  return section(
    "Ingestion queue",
    { testid: "queue-section" },
    h("dl", { class: "stats" }, Object.values(stats).map((s) => s.el)),
    updated,
    error.el,
    h("h3", {}, "Failed jobs"),
    table.el,
  );
}
