/* The ended screen offers the replay as soon as it is ready: the socket's replay_ready frame
 * (recordings.services.replays.announce_replay_on_commit) fills and shows #replay-link, with no
 * reload. A page loaded after that has the link from the server. */
import * as Frames from "../lib/frames.js";
import { gettext } from "../lib/i18n.js";

const REPLAY_NOTE = gettext("Missed something? The replay shows every product at its moment.");

Frames.on("replay_ready", (frame) => {
  const link = document.getElementById("replay-link");
  if (!link || typeof frame.replayUrl !== "string" || !/^\/[^/]/.test(frame.replayUrl)) return; // our own path only
  link.href = frame.replayUrl;
  link.hidden = false;
  const note = document.getElementById("ended-note");
  if (note) note.textContent = REPLAY_NOTE;
});
