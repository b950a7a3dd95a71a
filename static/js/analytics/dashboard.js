/* A live show's analytics refresh themselves: every 10 s the page fetches its body again
 * (?fragment=1, the same server-rendered figures and charts' data) and swaps it in, then draws
 * its charts (charts.js). */
import { drawCharts } from "./charts.js";

const REFRESH_MS = 10_000;
const body = document.getElementById("analytics-body");

async function refresh() {
  try {
    const response = await fetch(body.dataset.fragmentUrl, { credentials: "same-origin", cache: "no-store" });
    if (response.ok) {
      body.innerHTML = await response.text();
      drawCharts(body);
    }
  } catch {
    // offline for a moment: the next round tries again
  }
}

if (body && body.dataset.live === "true") setInterval(refresh, REFRESH_MS);
