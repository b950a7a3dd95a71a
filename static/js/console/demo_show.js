/* make demo's show in the host console: when a host features a product by hand, the demo show
 * (demo/management/commands/demo_show.py) pauses its automatic cues for a while and says so with a
 * "demo_cues_paused" frame on the studio socket (console.js passes frames on as "console:frame"
 * events on #console). Shown above the lineup with a countdown until the cues resume. */
import { gettext, interpolate } from "../lib/i18n.js";

const root = document.getElementById("console");
let timer = null;

function notice() {
  let element = document.getElementById("demo-cues-paused");
  if (!element) {
    element = document.createElement("p");
    element.id = "demo-cues-paused";
    element.className = "flash flash-info";
    element.setAttribute("role", "status");
    root.prepend(element);
  }
  return element;
}

function show(untilMs) {
  clearInterval(timer);
  const element = notice();
  const tick = () => {
    const left = Math.round((untilMs - Date.now()) / 1000);
    element.hidden = left <= 0;
    element.textContent = interpolate(gettext("Your pick stays on: the demo show's automatic cues resume in %(seconds)s s."), { seconds: left });
    if (left <= 0) clearInterval(timer);
  };
  tick();
  timer = setInterval(tick, 1000);
}

root?.addEventListener("console:frame", ({ detail: frame }) => {
  if (frame.type === "demo_cues_paused") show(Date.now() + frame.seconds * 1000);
});
