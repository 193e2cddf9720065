// Charts with chart.js (only the parts used are registered), each in a <figure> with a caption, a text summary
// on the canvas (role="img") and the numbers as a data table, since a canvas alone says nothing to a screen reader.

import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { h, type Child } from "../../dom";

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Tooltip, Legend);
Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily || "system-ui, sans-serif";
Chart.defaults.color = "#3d4450";
Chart.defaults.borderColor = "#e3e6eb";
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

export const COLORS = { accent: "#2557d6", second: "#c2410c", third: "#5b6472" };

export interface Series {
  label: string;
  values: (number | null)[];
  color: string;
  /** The right-hand axis (a second unit). */
  right?: boolean;
}

export interface FigureOptions {
  testid: string;
  caption: string;
  summary: string;
  kind: "bar" | "line";
  labels: string[];
  series: Series[];
  horizontal?: boolean;
  percent?: boolean;
  yTitle?: string;
  rightTitle?: string;
  /** The data table: headers, then one row of cells per label. */
  table: { headers: string[]; rows: Child[][] };
  tall?: boolean;
}

export interface Figure {
  el: HTMLElement;
  /** Draw the chart: call once the figure is in the page. */
  draw(): Chart;
}

export function chartFigure(options: FigureOptions): Figure {
  const canvas = h("canvas", { role: "img", "aria-label": `${options.caption}. ${options.summary}` }, options.summary);
  const el = h(
    "figure",
    { class: "chart", "data-testid": options.testid },
    h("figcaption", {}, options.caption),
    h("div", { class: options.tall ? "chart-box chart-box-tall" : "chart-box" }, canvas),
    h("p", { class: "chart-summary", "data-testid": `${options.testid}-summary` }, options.summary),
    dataTable(options.caption, options.table),
  );
  return { el, draw: () => draw(canvas, options) };
}

function draw(canvas: HTMLCanvasElement, options: FigureOptions): Chart {
  const valueAxis = options.horizontal ? "x" : "y";
  const scales: Record<string, object> = {
    [valueAxis]: {
      beginAtZero: true,
      title: options.yTitle ? { display: true, text: options.yTitle } : undefined,
      ticks: options.percent ? { callback: (v: number | string) => `${v}%` } : { precision: 0 },
      max: options.percent ? 100 : undefined,
    },
    [options.horizontal ? "y" : "x"]: { grid: { display: false } },
  };
  if (options.series.some((s) => s.right)) {
    scales.right = {
      position: "right",
      beginAtZero: true,
      grid: { drawOnChartArea: false },
      title: options.rightTitle ? { display: true, text: options.rightTitle } : undefined,
    };
  }
  return new Chart(canvas, {
    type: options.kind,
    data: {
      labels: options.labels,
      datasets: options.series.map((s) => ({
        label: s.label,
        data: s.values,
        backgroundColor: options.kind === "bar" ? s.color : `${s.color}22`,
        borderColor: s.color,
        borderWidth: options.kind === "bar" ? 0 : 2,
        pointRadius: options.kind === "line" ? 2 : undefined,
        spanGaps: true,
        yAxisID: s.right ? "right" : options.horizontal ? undefined : "y",
        maxBarThickness: 36,
      })),
    },
    options: {
      indexAxis: options.horizontal ? "y" : "x",
      scales,
      plugins: {
        legend: { display: options.series.length > 1, position: "bottom" },
        tooltip: options.percent
          ? { callbacks: { label: (item) => `${item.dataset.label}: ${Number(item.raw).toFixed(1)}%` } }
          : {},
      },
    },
  });
}

function dataTable(caption: string, table: { headers: string[]; rows: Child[][] }): HTMLElement {
  return h(
    "details",
    { class: "chart-data" },
    h("summary", {}, "Data table", h("span", { class: "visually-hidden" }, `: ${caption}`)),
    h(
      "div",
      { class: "table-wrap", role: "region", "aria-label": `${caption}: data`, tabindex: 0 },
      h(
        "table",
        { class: "data compact" },
        h("caption", { class: "visually-hidden" }, caption),
        h("thead", {}, h("tr", {}, table.headers.map((t) => h("th", { scope: "col" }, t)))),
        h(
          "tbody",
          {},
          table.rows.length
            ? table.rows.map((cells) => h("tr", {}, cells.map((c, i) => (i === 0 ? h("th", { scope: "row" }, c) : h("td", { class: "num" }, c)))))
            : h("tr", {}, h("td", { colspan: table.headers.length }, "No data.")),
        ),
      ),
    ),
  );
}
