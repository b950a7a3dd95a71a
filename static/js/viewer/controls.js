/* The player's own controls (issue 16) on the live, replay and video pages: play/pause, mute,
 * volume, a seek bar and times (recordings), "Jump to live" (a live show watched behind its edge),
 * captions, quality, picture-in-picture where the browser has it, full screen. Every control is a
 * named button, slider or select (templates/events/watch/_controls.html), and the keyboard works
 * anywhere on the page outside a form field: Space or K play/pause, M mute, F full screen, C
 * captions, Up/Down volume, Left/Right seek 5 s (recordings), L jump to live (shown while a live
 * show is paused, or played more than BEHIND_LIVE_S behind its edge).
 *
 * attachControls(box, video, media) wires the bar inside `box` (the player, also what goes full
 * screen) to `media`, the page's player: {paused, play, pause, muted, setMuted, volume, setVolume,
 * qualities() -> [{index, label}], quality() -> index (-1: automatic), setQuality(index),
 * live(), behind() -> seconds behind the live edge or null, jumpToLive()}. mediaOfVideo() makes
 * one for a <video> played by hls.js or natively (the replay); the live page adapts its players
 * (viewer/players.js). `onSound(muted)` tells the page the viewer chose sound (or silence).
 */

import { gettext, interpolate, locale } from "../lib/i18n.js";

const BEHIND_LIVE_S = 8; // "Jump to live" shows past this while playing (normal: 2-5 s behind)
const SEEK_STEP_S = 5;
const VOLUME_STEP = 0.1;
const IDLE_MS = 3000; // the bar fades this long after the last pointer move while playing
const FIELD = /^(INPUT|TEXTAREA|SELECT)$/;

/** A media adapter over `video` (and hls.js's instance, `getHls()`, for qualities). */
export function mediaOfVideo(video, getHls = () => null) {
  return {
    paused: () => video.paused,
    play: () => video.play()?.catch?.(() => {}),
    pause: () => video.pause(),
    muted: () => video.muted,
    setMuted: (muted) => { video.muted = muted; },
    volume: () => video.volume,
    setVolume: (value) => { video.volume = value; },
    qualities: () => hlsQualities(getHls()),
    quality: () => (getHls() && !getHls().autoLevelEnabled ? getHls().currentLevel : -1),
    setQuality: (index) => setHlsQuality(getHls(), index),
    live: () => false,
    behind: () => null,
    jumpToLive: () => {},
  };
}

/** hls.js's renditions as [{index, label}] (tallest first), or [] with fewer than two. */
export function hlsQualities(hls) {
  const levels = hls?.levels ?? [];
  if (levels.length < 2) return [];
  return levels
    .map((level, index) => ({ index, height: level.height || 0, label: levelLabel(level) }))
    .sort((a, b) => b.height - a.height);
}

function levelLabel(level) {
  if (level.height) return `${level.height}p`;
  return level.bitrate ? `${Math.round(level.bitrate / 1000)} kbps` : level.name || gettext("Stream");
}

/** Pick hls.js's rendition `index` (-1: automatic). */
export function setHlsQuality(hls, index) {
  if (!hls) return;
  hls.currentLevel = index; // -1 turns automatic switching back on
}

const timeText = (seconds) => {
  if (!Number.isFinite(seconds) || seconds < 0) return "0:00";
  const s = Math.floor(seconds);
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
};

// The viewer's caption style: size and background, kept in the browser for every player.
const CAPTION_STYLE_KEY = "liveshop.captionStyle";
const CAPTION_STYLES = { size: ["small", "medium", "large", "xlarge"], background: ["box", "shadow", "light"] };

function styleCaptions(box, menu, video) {
  // A paused video keeps the cue boxes it drew: showing its track again draws them in the new style.
  const redraw = () => {
    for (const track of video.textTracks) {
      if (track.mode !== "showing") continue;
      track.mode = "hidden";
      track.mode = "showing";
    }
  };
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(CAPTION_STYLE_KEY) || "{}");
  } catch {
    /* no storage here (a frame on another site): the defaults */
  }
  for (const select of menu.querySelectorAll("select[data-caption]")) {
    const what = select.dataset.caption;
    const apply = (value) => {
      if (!CAPTION_STYLES[what].includes(value)) return;
      select.value = value;
      box.dataset[what === "size" ? "ccSize" : "ccBackground"] = value;
    };
    apply(saved[what]);
    select.addEventListener("change", () => {
      apply(select.value);
      redraw();
      saved = { ...saved, [what]: select.value };
      try {
        localStorage.setItem(CAPTION_STYLE_KEY, JSON.stringify(saved));
      } catch {
        /* kept for this page only */
      }
    });
  }
  menu.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !menu.open) return;
    menu.open = false;
    menu.querySelector("summary").focus();
    event.stopPropagation();
  });
}

export function attachControls(box, video, media, { onSound = () => {} } = {}) {
  const bar = box.querySelector(".player-controls");
  if (!bar) return null;
  const control = (name) => bar.querySelector(`[data-control="${name}"]`);
  const [play, mute, volume, seek, live, captions, captionStyle, quality, pip, fullscreen] = [
    "play", "mute", "volume", "seek", "live", "captions", "caption-style", "quality", "pip", "fullscreen",
  ].map(control);
  const timeNow = bar.querySelector('[data-field="time"]');
  const timeTotal = bar.querySelector('[data-field="duration"]');
  let shownQualities = "";
  let seeking = false;

  const fullscreenElement = () => document.fullscreenElement || document.webkitFullscreenElement;
  const canFullscreen = () =>
    Boolean(box.requestFullscreen || box.webkitRequestFullscreen || video.webkitEnterFullscreen);
  const canPip = () => Boolean(document.pictureInPictureEnabled && !video.disablePictureInPicture);
  const tracks = () => [...video.textTracks].filter((t) => t.kind === "captions" || t.kind === "subtitles");
  const ownTracks = () => [...video.querySelectorAll("track")].map((el) => el.track);
  const captionsOn = () => tracks().some((t) => t.mode === "showing");

  // update() runs on every timeupdate and once a second: write only what changed (an unchanged
  // `hidden` written again still wakes keepClearOfLowerThird's observer, which reads the layout).
  function label(button, text) {
    if (button && button.getAttribute("aria-label") !== text) button.setAttribute("aria-label", text);
    if (button && button.title !== text) button.title = text;
  }
  const setHidden = (el, hidden) => {
    if (el.hidden !== hidden) el.hidden = hidden;
  };
  const setText = (el, text) => {
    if (el.textContent !== text) el.textContent = text;
  };
  const setAttr = (el, name, value) => {
    if (el.getAttribute(name) !== value) el.setAttribute(name, value);
  };
  const setData = (el, name, value) => {
    if (el.dataset[name] !== value) el.dataset[name] = value;
  };

  function update() {
    const paused = media.paused();
    setData(bar, "paused", String(paused));
    label(play, paused ? gettext("Play") : gettext("Pause"));
    const muted = media.muted() || media.volume() === 0;
    setData(bar, "muted", String(muted));
    label(mute, muted ? gettext("Unmute") : gettext("Mute"));
    if (volume && document.activeElement !== volume) volume.value = String(muted ? 0 : media.volume());
    if (seek && !seeking) {
      const duration = Number.isFinite(video.duration) ? video.duration : 0;
      if (seek.max !== String(duration || 1)) seek.max = String(duration || 1);
      seek.value = String(video.currentTime || 0);
      setAttr(seek, "aria-valuetext", interpolate(gettext("%(time)s of %(duration)s"), { time: timeText(video.currentTime), duration: timeText(duration) }));
      if (seek.disabled !== !duration) seek.disabled = !duration;
    }
    if (timeNow) setText(timeNow, timeText(video.currentTime));
    if (timeTotal) setText(timeTotal, timeText(video.duration));
    if (live) {
      // Paused, a live show runs on without the viewer; playing, a stall or a slow catch-up can
      // leave them far behind too (a media server's playlist holds only seconds: hls.js itself
      // moves a paused viewer on when their moment leaves it, IVS keeps about as little).
      const behind = media.live() ? media.behind() : null;
      setHidden(live, !(media.live() && (paused || (behind !== null && behind > BEHIND_LIVE_S))));
    }
    if (captions) {
      setHidden(captions, tracks().length === 0);
      setAttr(captions, "aria-pressed", String(captionsOn()));
    }
    if (captionStyle) setHidden(captionStyle, tracks().length === 0);
    if (quality) updateQuality();
    if (pip) {
      setHidden(pip, !canPip());
      label(pip, document.pictureInPictureElement === video ? gettext("Exit picture in picture") : gettext("Picture in picture"));
    }
    if (fullscreen) {
      setHidden(fullscreen, !canFullscreen());
      label(fullscreen, fullscreenElement() ? gettext("Exit full screen") : gettext("Full screen"));
    }
  }

  function updateQuality() {
    const list = media.qualities();
    const key = JSON.stringify(list);
    if (key !== shownQualities) {
      shownQualities = key;
      quality.replaceChildren(
        new Option(gettext("Auto"), "-1"),
        ...list.map((q) => new Option(q.label, String(q.index))),
      );
    }
    setHidden(quality.closest(".pc-quality"), list.length === 0);
    if (document.activeElement !== quality) quality.value = String(media.quality());
  }

  const togglePlay = () => (media.paused() ? media.play() : media.pause());
  function setMuted(muted) {
    if (!muted && media.volume() === 0) media.setVolume(0.5);
    media.setMuted(muted);
    onSound(muted);
    update();
  }
  function changeVolume(delta) {
    const value = Math.min(1, Math.max(0, Math.round((media.volume() + delta) * 100) / 100));
    media.setVolume(value);
    if (media.muted() && value > 0) setMuted(false);
    update();
    const percent = new Intl.NumberFormat(locale(), { style: "percent" }).format(value);
    announce(interpolate(gettext("Volume %(percent)s"), { percent }));
  }
  function seekBy(delta) {
    if (!Number.isFinite(video.duration)) return;
    video.currentTime = Math.min(video.duration, Math.max(0, video.currentTime + delta));
  }
  // Cues without a line of their own sit three lines up from the bottom, above the bar. A paused
  // video keeps the cue boxes it already drew: showing the track again draws them lifted.
  function liftCues(track) {
    let moved = false;
    for (const cue of track?.cues ?? []) {
      if (cue.line !== "auto") continue;
      cue.line = -3;
      moved = true;
    }
    if (moved && track.mode === "showing") {
      track.mode = "hidden";
      track.mode = "showing";
    }
  }
  for (const element of video.querySelectorAll("track")) {
    element.addEventListener("load", () => liftCues(element.track));
  }

  function toggleCaptions() {
    const all = tracks();
    if (!all.length) return;
    const on = !captionsOn();
    const preferred = ownTracks().find((t) => t.language === document.documentElement.lang) || ownTracks()[0] || all[0];
    for (const track of all) track.mode = on && track === preferred ? "showing" : "disabled";
    if (on) liftCues(preferred);
    update();
  }
  async function toggleFullscreen() {
    try {
      if (fullscreenElement()) await (document.exitFullscreen || document.webkitExitFullscreen).call(document);
      else if (box.requestFullscreen) await box.requestFullscreen();
      else if (box.webkitRequestFullscreen) box.webkitRequestFullscreen();
      else if (video.webkitEnterFullscreen) video.webkitEnterFullscreen(); // iOS: the video alone
    } catch {
      /* refused (not from a user gesture): nothing changes */
    }
    update();
  }
  async function togglePip() {
    try {
      if (document.pictureInPictureElement === video) await document.exitPictureInPicture();
      else await video.requestPictureInPicture();
    } catch {
      /* refused (no video yet): nothing changes */
    }
    update();
  }
  function jumpToLive() {
    media.jumpToLive();
    if (media.paused()) media.play();
    update();
  }

  // A polite live region for what the keyboard changed without a visible focus change.
  const status = bar.querySelector('[data-field="status"]');
  function announce(text) {
    if (status) status.textContent = text;
  }

  play?.addEventListener("click", togglePlay);
  mute?.addEventListener("click", () => setMuted(!(media.muted() || media.volume() === 0)));
  volume?.addEventListener("input", () => {
    const value = Number(volume.value);
    media.setVolume(value);
    media.setMuted(value === 0);
    onSound(value === 0);
    update();
  });
  if (seek) {
    seek.addEventListener("input", () => {
      seeking = true;
      if (timeNow) timeNow.textContent = timeText(Number(seek.value));
    });
    seek.addEventListener("change", () => {
      video.currentTime = Number(seek.value);
      seeking = false;
    });
  }
  live?.addEventListener("click", jumpToLive);
  captions?.addEventListener("click", toggleCaptions);
  if (captionStyle) styleCaptions(box, captionStyle, video);
  quality?.addEventListener("change", () => media.setQuality(Number(quality.value)));
  pip?.addEventListener("click", togglePip);
  fullscreen?.addEventListener("click", toggleFullscreen);
  video.addEventListener("click", () => box.dataset.screen === "none" || box.dataset.screen === "replay" ? togglePlay() : null);
  video.addEventListener("dblclick", toggleFullscreen);

  for (const type of ["play", "pause", "playing", "volumechange", "durationchange", "loadedmetadata", "seeked",
    "enterpictureinpicture", "leavepictureinpicture"]) {
    video.addEventListener(type, update);
  }
  video.addEventListener("timeupdate", () => {
    if (timeNow || seek) update();
  });
  video.textTracks.addEventListener?.("addtrack", update);
  video.textTracks.addEventListener?.("change", update);
  document.addEventListener("fullscreenchange", update);
  document.addEventListener("webkitfullscreenchange", update);

  // The keyboard: anywhere but a form field or another widget that uses the key itself.
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const slider = target.tagName === "INPUT" && target.type === "range";
    if (slider ? key.startsWith("Arrow") : FIELD.test(target.tagName) || target.isContentEditable) return;
    if (target.closest?.("dialog[open]") || !playerIsOn()) return;
    const onButton = target.tagName === "BUTTON" || target.tagName === "A" || target.tagName === "SUMMARY";
    const actions = {
      k: togglePlay,
      " ": onButton ? null : togglePlay, // Space on a button presses that button
      m: () => setMuted(!(media.muted() || media.volume() === 0)),
      f: toggleFullscreen,
      c: toggleCaptions,
      l: () => media.live() && jumpToLive(),
      ArrowUp: () => changeVolume(VOLUME_STEP),
      ArrowDown: () => changeVolume(-VOLUME_STEP),
      ArrowRight: () => seekBy(SEEK_STEP_S),
      ArrowLeft: () => seekBy(-SEEK_STEP_S),
    };
    const action = actions[key];
    if (!action) return;
    event.preventDefault();
    action();
  });
  const playerIsOn = () => !bar.hidden && getComputedStyle(bar).display !== "none";

  // The bar fades while playing and nobody moves the pointer (never for keyboard focus in it).
  let idleTimer = 0;
  const wake = () => {
    box.classList.remove("is-idle");
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (!media.paused() && !bar.contains(document.activeElement)) box.classList.add("is-idle");
    }, IDLE_MS);
  };
  for (const type of ["pointermove", "pointerdown", "focusin", "keydown"]) box.addEventListener(type, wake);
  video.addEventListener("pause", wake);

  // Quality lists and the live edge change without a <video> event: look once a second.
  setInterval(() => {
    if (!document.hidden) update();
  }, 1000);
  update();
  keepClearOfLowerThird(box);
  return { update, toggleCaptions, togglePlay };
}

/** Keep fixed buttons (the cart's) off the lower third of a phone-sized player: a button that
 * would cover it moves to the top of the window (`data-clear-player`) until the player moves on. */
export function keepClearOfLowerThird(box, selectors = [".cart-button"]) {
  const picture = box.querySelector("video") || box; // the picture, not the bar under it on phones
  const check = () => {
    const player = picture.getBoundingClientRect();
    const lowerThird = { top: player.bottom - player.height / 3, bottom: player.bottom };
    for (const el of document.querySelectorAll(selectors.join(","))) {
      el.removeAttribute("data-clear-player");
      const rect = el.getBoundingClientRect();
      const covers = rect.height > 0 && rect.left < player.right && rect.right > player.left
        && rect.top < lowerThird.bottom && rect.bottom > lowerThird.top;
      if (covers) el.setAttribute("data-clear-player", "");
    }
  };
  let frame = 0;
  const soon = () => {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; check(); });
  };
  window.addEventListener("scroll", soon, { passive: true });
  window.addEventListener("resize", soon);
  new MutationObserver(soon).observe(document.body, { subtree: true, attributes: true, attributeFilter: ["hidden"] });
  check();
  return check;
}
