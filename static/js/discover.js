/* Show lists (home page, brand pages): upcoming shows count down to their start, and times are
 * shown in the viewer's own time zone and locale (the server writes them in UTC). The page is
 * shared between visitors (events.views.discover), so all of this is drawn here. */
import { gettext, interpolate, locale } from "./lib/i18n.js";
import { countdown, dateTime } from "./lib/time.js";

const dateFormat = new Intl.DateTimeFormat(locale(), { day: "numeric", month: "short", year: "numeric" });

for (const el of document.querySelectorAll("time[data-local]")) {
  const when = new Date(el.dateTime);
  if (Number.isNaN(when.getTime())) continue;
  el.textContent = el.dataset.local === "date" ? dateFormat.format(when) : dateTime(when);
}

const countdowns = [...document.querySelectorAll(".show-countdown[data-starts]")];

function tick() {
  const now = Date.now();
  for (const el of countdowns) {
    const left = new Date(el.dataset.starts).getTime() - now;
    const text = left > 0 ? interpolate(gettext("Starts in %(time)s"), { time: countdown(left) }) : gettext("Starting soon");
    if (el.textContent !== text) el.textContent = text;
  }
}

if (countdowns.length) {
  tick();
  // Once a second, aligned to the clock's seconds so every card turns over together.
  const loop = () => { tick(); setTimeout(loop, 1000 - (Date.now() % 1000)); };
  setTimeout(loop, 1000 - (Date.now() % 1000));
}
