/* Times as the pages show them: positions in a stream or video, countdowns, times of day (in the
 * viewer's time zone, the browser's, and the page's locale: lib/i18n.js). */
import { gettext, interpolate, locale } from "./i18n.js";

const pad = (n) => String(n).padStart(2, "0");

/** A position in a stream or video to the second: "1:05", or "1:02:05" past an hour. */
export function streamClock(ms) {
  const total = Math.floor(ms / 1000);
  const [h, m, s] = [Math.floor(total / 3600), Math.floor(total / 60) % 60, total % 60];
  return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/** A position to the tenth of a second, "1:05.5" (the timeline editor's cue times); "" for none. */
export function clockTenths(ms) {
  if (ms === null || ms === undefined) return "";
  const tenths = Math.round(ms / 100);
  const minutes = Math.floor(tenths / 600);
  const seconds = ((tenths % 600) / 10).toFixed(1).padStart(4, "0");
  return `${minutes}:${seconds}`;
}

/** "75.5", "1:15.5", "0:01:15.5" (a comma for the point too) -> 75500; "" -> null; else NaN. */
export function parseClock(text) {
  const value = text.trim().replace(",", ".");
  if (!value) return null;
  if (!/^\d+(:\d{1,2}){0,2}(\.\d+)?$/.test(value)) return NaN;
  const seconds = value.split(":").reduce((total, part) => total * 60 + Number(part), 0);
  return Math.round(seconds * 1000);
}

/** Time left as "02:03:04", or "3 d 02:03:04" from a day on. */
export function countdown(ms) {
  const total = Math.floor(Math.max(0, ms) / 1000);
  const days = Math.floor(total / 86400);
  const clock = `${pad(Math.floor((total % 86400) / 3600))}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
  return days ? interpolate(gettext("%(days)s d %(clock)s"), { days, clock }) : clock;
}

/** The time of day to the second in the viewer's locale ("14:03:07"). */
export function timeOfDay(date) {
  return new Date(date).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

const dateTimeFormat = new Intl.DateTimeFormat(locale(), {
  weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
});

/** A moment with its weekday and time zone in the viewer's locale ("Thu, 3 Dec, 18:00 UTC"). */
export function dateTime(date) {
  return dateTimeFormat.format(new Date(date));
}
