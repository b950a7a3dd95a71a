/* The analytics pages' charts, drawn with uPlot (npm, served from our static files as the global
 * uPlot: templates/analytics/_charts_assets.html) from each chart's data (analytics/charts.py's
 * `data-chart`): viewers per minute as a line with the highlights as flags (hover one for its
 * product, click it for its row of figures), and bars. The server's SVG stays in the page for
 * screen readers (role=img, labelled) and prints; it is hidden from view once uPlot has drawn.
 * Colours come from the page's CSS custom properties, so the charts follow its theme. Words and
 * times are in the page's language and locale (lib/i18n.js): the bars' labels come translated
 * from the server. */
import { gettext, locale } from "../lib/i18n.js";

const HEIGHT = 220;
const FLAG_HIT_PX = 8; // how near a click must be to a flag

function colours(box) {
  const style = getComputedStyle(box);
  const read = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  return { accent: read("--accent", "#e0245e"), text: read("--muted", "#6b6878"), grid: read("--line", "#e6e2ec") };
}

function axis(colour) {
  return { stroke: colour.text, grid: { stroke: colour.grid, width: 1 }, ticks: { stroke: colour.grid, width: 1 } };
}

/** The highlights as flags: a line from top to bottom and a dot at the top, in the accent colour. */
function flags(marks, colour) {
  return {
    hooks: {
      draw: [(u) => {
        const { ctx, bbox } = u;
        ctx.save();
        ctx.strokeStyle = ctx.fillStyle = colour.accent;
        ctx.lineWidth = 1.5 * devicePixelRatio;
        ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
        for (const mark of marks) {
          const x = u.valToPos(mark.x, "x", true);
          if (x < bbox.left || x > bbox.left + bbox.width) continue;
          ctx.beginPath();
          ctx.moveTo(x, bbox.top);
          ctx.lineTo(x, bbox.top + bbox.height);
          ctx.stroke();
          ctx.beginPath();
          ctx.arc(x, bbox.top + 4 * devicePixelRatio, 4 * devicePixelRatio, 0, 2 * Math.PI);
          ctx.fill();
        }
        ctx.restore();
      }],
      ready: [(u) => {
        const near = (event) => {
          const left = event.clientX - u.over.getBoundingClientRect().left;
          return marks.find((mark) => Math.abs(u.valToPos(mark.x, "x") - left) <= FLAG_HIT_PX);
        };
        u.over.addEventListener("mousemove", (event) => {
          const mark = near(event);
          u.over.style.cursor = mark ? "pointer" : "";
          u.over.title = mark ? mark.label : "";
        });
        u.over.addEventListener("click", (event) => {
          const mark = near(event);
          if (mark?.href) location.assign(mark.href); // its row of figures (clicks, adds, revenue)
        });
      }],
    },
  };
}

/** uPlot's date templates ("{h}:{mm}{aa}", "{M}/{D}", ...) written the locale's way: 14:05 in
 * German, 2:05 PM in English. The dates uPlot hands over already read the brand's clock (tzDate). */
function localDates(template) {
  const seconds = /\{ss/.test(template);
  const time = seconds || /\{[hH]/.test(template);
  const date = /\{(?:M|D|YY)/.test(template) || !time;
  const options = {
    ...(time ? { hour: "numeric", minute: "2-digit" } : {}),
    ...(seconds ? { second: "2-digit" } : {}),
    ...(date ? { day: "numeric", month: "short" } : {}),
  };
  const format = new Intl.DateTimeFormat(locale(), options);
  return (when) => format.format(when);
}

function curve(data, width, colour) {
  const options = {
    width, height: HEIGHT, legend: { show: true }, cursor: { y: false }, fmtDate: localDates,
    tzDate: data.tz ? (seconds) => uPlot.tzDate(new Date(seconds * 1e3), data.tz) : undefined,
    scales: { y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    axes: [axis(colour), axis(colour)],
    series: [{ label: gettext("Time") }, { label: gettext("Viewers"), stroke: colour.accent, width: 2.5, fill: `${colour.accent}22`, points: { size: 5 } }],
    plugins: [flags(data.marks || [], colour)],
  };
  return [options, [data.x, data.y]];
}

function bars(data, width, colour) {
  const x = data.labels.map((_, i) => i);
  const options = {
    width, height: HEIGHT, legend: { show: false }, cursor: { y: false, points: { show: false } },
    scales: { x: { time: false, range: [-0.5, x.length - 0.5] }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    axes: [{ ...axis(colour), values: (u, ticks) => ticks.map((i) => data.labels[i] ?? ""), splits: () => x, grid: { show: false } }, axis(colour)],
    series: [
      { value: (u, i) => data.labels[i] ?? "" },
      { label: data.label, stroke: colour.accent, fill: colour.accent, paths: uPlot.paths.bars({ size: [0.7, 80] }), points: { show: false } },
    ],
  };
  return [options, [x, data.values]];
}

/** Draw every chart under ``root`` not drawn yet; the SVG it replaces stays for screen readers. */
export function drawCharts(root = document) {
  if (typeof uPlot === "undefined") return; // the library did not load: the SVGs stay
  for (const box of root.querySelectorAll(".chart-box[data-chart]:not([data-drawn])")) {
    const data = JSON.parse(box.dataset.chart);
    const width = Math.max(240, box.clientWidth);
    const colour = colours(box);
    const [options, values] = data.kind === "curve" ? curve(data, width, colour) : bars(data, width, colour);
    const holder = document.createElement("div");
    holder.className = "chart-drawn";
    holder.setAttribute("aria-hidden", "true"); // the SVG beside it is what a screen reader reads
    box.append(holder);
    const chart = new uPlot(options, values, holder);
    if (data.kind === "curve" && data.x.length === 1) {
      // One minute of data: five minutes either side, not uPlot's guess of years.
      chart.setScale("x", { min: data.x[0] - 300, max: data.x[0] + 300 });
    }
    box.dataset.drawn = "uplot";
    box.uplot = chart; // for the page's own scripts and its tests
    new ResizeObserver(() => chart.setSize({ width: Math.max(240, box.clientWidth), height: HEIGHT })).observe(box);
  }
}

drawCharts();
