// Usage: totals and charts over the last 7, 14 or 30 days, for everyone or one group or site.

import { api } from "../api";
import { errorBox } from "../components/alert";
import { field, select } from "../components/fields";
import { pageHeader, section } from "../components/page";
import { h } from "../dom";
import { formatDay, formatInt, formatNumber, formatPercent } from "../format";
import type { ScreenContext } from "../screen";
import type { Usage, UsageDay } from "../types";
import { chartFigure, COLORS, type Figure } from "./usage/charts";

type ChartHandle = ReturnType<Figure["draw"]>;

export function mountUsage(root: HTMLElement, ctx: ScreenContext): void {
  const error = errorBox("usage-error");
  const days = select(
    [
      ["7", "Last 7 days"],
      ["14", "Last 14 days"],
      ["30", "Last 30 days"],
    ],
    "14",
    { name: "days", "data-testid": "usage-days" },
  );
  const group = select([["", "All groups"]], "", { name: "group", "data-testid": "usage-group" });
  const site = select([["", "All sites"]], "", { name: "site", "data-testid": "usage-site" });
  const filters = h(
    "form",
    { class: "filters", "aria-label": "Usage filters" },
    field("Period", days),
    field("Group", group),
    field("Site", site),
  );
  filters.addEventListener("submit", (event) => event.preventDefault());

  const total = (key: string, label: string) => {
    const value = h("dd", { "data-testid": `total-${key}` }, "—");
    return { value, el: h("div", { class: "stat" }, h("dt", {}, label), value) };
  };
  const totals = {
    requests: total("requests", "Requests"),
    tokens: total("tokens", "Tokens"),
    refusals: total("refusals", "Refusals"),
    idk: total("idk", "“I don’t know” rate"),
  };
  const grid = h("div", { class: "charts" });
  let charts: ChartHandle[] = [];
  const destroy = () => {
    charts.forEach((c) => c.destroy());
    charts = [];
  };
  ctx.signal.addEventListener("abort", destroy);

  let seq = 0;
  async function load(): Promise<void> {
    const mine = ++seq;
    try {
      const data = await ctx.track(
        api.get<Usage>("/v1/admin/usage", { days: days.value, group: group.value, site: site.value }, ctx.signal),
      );
      if (mine !== seq) return;
      error.clear();
      fillOptions(group, "All groups", data.groups.map((g) => [g, g]));
      fillOptions(site, "All sites", data.sites.map((s) => [s.id, s.name]));
      showTotals(data.days);
      destroy();
      const figures = figuresFor(data);
      grid.replaceChildren(...figures.map((f) => f.el));
      charts = figures.map((f) => f.draw());
    } catch (err) {
      if (mine === seq) error.show(err);
    }
  }

  function showTotals(rows: UsageDay[]): void {
    const requests = sum(rows.map((d) => d.requests));
    totals.requests.value.textContent = formatInt(requests);
    totals.tokens.value.textContent = formatInt(sum(rows.map((d) => d.tokens)));
    totals.refusals.value.textContent = formatInt(sum(rows.map((d) => d.refusals)));
    // Weighted by each day's requests: a quiet day's rate counts for less.
    totals.idk.value.textContent = requests ? formatPercent(sum(rows.map((d) => d.idk_rate * d.requests)) / requests) : "—";
  }

  for (const control of [days, group, site]) control.addEventListener("change", () => void load());
  root.append(
    pageHeader("Usage", "How much Steward is asked, what it costs in tokens, how often it cannot answer, and how fast it is."),
    filters,
    section(
      "Totals",
      { testid: "usage-totals" },
      h("dl", { class: "stats" }, Object.values(totals).map((t) => t.el)),
    ),
    error.el,
    section("Charts", { testid: "usage-charts" }, grid),
  );
  void load();
}

function fillOptions(control: HTMLSelectElement, allLabel: string, options: [string, string][]): void {
  const chosen = control.value;
  control.replaceChildren(h("option", { value: "" }, allLabel), ...options.map(([v, label]) => h("option", { value: v }, label)));
  // A choice the server no longer lists (renamed site) stays selectable, so the filter shown is the one applied.
  if (chosen && !options.some(([v]) => v === chosen)) control.append(h("option", { value: chosen }, chosen));
  control.value = chosen;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function peak(rows: UsageDay[], value: (d: UsageDay) => number): string {
  if (!rows.length) return "";
  const top = rows.reduce((best, d) => (value(d) > value(best) ? d : best), rows[0]);
  return `, most on ${formatDay(top.day)} (${formatInt(value(top))})`;
}

function range(values: (number | null)[]): string | null {
  const known = values.filter((v): v is number => v !== null);
  if (!known.length) return null;
  return `${formatInt(Math.min(...known))}–${formatInt(Math.max(...known))} ms`;
}

function pct(value: number | null): string {
  return value === null ? "—" : `${value.toFixed(1)}%`;
}

function figuresFor(data: Usage): Figure[] {
  const rows = data.days;
  const labels = rows.map((d) => formatDay(d.day));
  const period = rows.length ? `${rows.length} days, ${formatDay(rows[0].day)} to ${formatDay(rows[rows.length - 1].day)}` : "no days";
  const requests = rows.map((d) => d.requests);
  const tokens = rows.map((d) => d.tokens);
  const refusalRate = rows.map((d) => (d.requests ? (d.refusals / d.requests) * 100 : null));
  const idkRate = rows.map((d) => (d.requests ? d.idk_rate * 100 : null));
  const p50 = rows.map((d) => d.latency_p50_ms);
  const p95 = rows.map((d) => d.latency_p95_ms);
  const maxIdk = Math.max(0, ...idkRate.filter((v): v is number => v !== null));
  const totalRequests = sum(requests);
  const avgIdk = totalRequests ? sum(rows.map((d) => d.idk_rate * d.requests)) / totalRequests : null;

  return [
    chartFigure({
      testid: "chart-requests",
      caption: "Requests per day",
      kind: "bar",
      labels,
      series: [{ label: "Requests", values: requests, color: COLORS.accent }],
      summary: `${period}: ${formatInt(totalRequests)} requests${peak(rows, (d) => d.requests)}.`,
      table: { headers: ["Day", "Requests"], rows: rows.map((d) => [formatDay(d.day), formatInt(d.requests)]) },
    }),
    chartFigure({
      testid: "chart-tokens",
      caption: "Tokens per day",
      kind: "line",
      labels,
      series: [{ label: "Tokens", values: tokens, color: COLORS.accent }],
      summary: `${period}: ${formatInt(sum(tokens))} tokens${peak(rows, (d) => d.tokens)}.`,
      table: { headers: ["Day", "Tokens"], rows: rows.map((d) => [formatDay(d.day), formatInt(d.tokens)]) },
    }),
    chartFigure({
      testid: "chart-quality",
      caption: "Refusals and “I don’t know” answers",
      kind: "line",
      percent: true,
      yTitle: "% of requests",
      labels,
      series: [
        { label: "Refused by a policy", values: refusalRate, color: COLORS.second },
        { label: "“I don’t know”", values: idkRate, color: COLORS.accent },
      ],
      summary:
        `${formatInt(sum(rows.map((d) => d.refusals)))} refusals and ${formatInt(sum(rows.map((d) => d.not_found)))} “I don’t know” answers; ` +
        `the “I don’t know” rate was ${avgIdk === null ? "—" : formatPercent(avgIdk)} overall, at most ${maxIdk.toFixed(1)}% on a day.`,
      table: {
        headers: ["Day", "Refusals", "Refusal rate", "“I don’t know”", "“I don’t know” rate"],
        rows: rows.map((d, i) => [formatDay(d.day), formatInt(d.refusals), pct(refusalRate[i]), formatInt(d.not_found), pct(idkRate[i])]),
      },
    }),
    chartFigure({
      testid: "chart-latency",
      caption: "Latency (milliseconds)",
      kind: "line",
      yTitle: "ms",
      labels,
      series: [
        { label: "Median (p50)", values: p50, color: COLORS.accent },
        { label: "95th percentile (p95)", values: p95, color: COLORS.second },
      ],
      summary:
        range(p50) === null
          ? "No latency recorded in this period."
          : `The daily median ranged ${range(p50)}, the 95th percentile ${range(p95) ?? "—"}.`,
      table: {
        headers: ["Day", "p50 (ms)", "p95 (ms)"],
        rows: rows.map((d) => [
          formatDay(d.day),
          d.latency_p50_ms === null ? "—" : formatNumber(d.latency_p50_ms),
          d.latency_p95_ms === null ? "—" : formatNumber(d.latency_p95_ms),
        ]),
      },
    }),
    chartFigure({
      testid: "chart-top-documents",
      caption: "Most cited documents",
      kind: "bar",
      horizontal: true,
      tall: data.top_documents.length > 6,
      labels: data.top_documents.map((d) => truncate(d.title || d.document_id, 40)),
      series: [{ label: "Citations", values: data.top_documents.map((d) => d.citations), color: COLORS.accent }],
      summary: data.top_documents.length
        ? `Most cited: ${data.top_documents.slice(0, 3).map((d) => `${d.title || d.document_id} (${formatInt(d.citations)})`).join(", ")}.`
        : "No document was cited in this period.",
      table: { headers: ["Document", "Citations"], rows: data.top_documents.map((d) => [d.title || d.document_id, formatInt(d.citations)]) },
    }),
    breakdown("chart-groups", "Requests and tokens by group", data.by_group.map((g) => ({ name: g.group, requests: g.requests, tokens: g.tokens })), "group"),
    breakdown("chart-sites", "Requests and tokens by site", data.by_site.map((s) => ({ name: siteName(data, s.site), requests: s.requests, tokens: s.tokens })), "site"),
  ];
}

function breakdown(testid: string, caption: string, rows: { name: string; requests: number; tokens: number }[], what: string): Figure {
  return chartFigure({
    testid,
    caption,
    kind: "bar",
    labels: rows.map((r) => truncate(r.name, 24)),
    yTitle: "Requests",
    rightTitle: "Tokens",
    series: [
      { label: "Requests", values: rows.map((r) => r.requests), color: COLORS.accent },
      { label: "Tokens", values: rows.map((r) => r.tokens), color: COLORS.third, right: true },
    ],
    summary: rows.length
      ? `Requests by ${what}: ${rows.slice(0, 5).map((r) => `${r.name} ${formatInt(r.requests)}`).join(", ")}${rows.length > 5 ? `, and ${rows.length - 5} more` : ""}.`
      : `No requests by ${what} in this period.`,
    table: { headers: [what[0].toUpperCase() + what.slice(1), "Requests", "Tokens"], rows: rows.map((r) => [r.name, formatInt(r.requests), formatInt(r.tokens)]) },
  });
}

/** by_site names a site by id or by name: show its name when the id is known. */
function siteName(data: Usage, site: string): string {
  return data.sites.find((s) => s.id === site)?.name ?? site;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
