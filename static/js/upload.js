// Studio videos: the upload form and live processing progress on the list and video pages.
// The file goes up in parts (recordings.views.resumable): straight to S3 with presigned part
// URLs, or to our own server when media are on disk. A dropped part is sent again; after a page
// reload the same file, chosen again, goes on from the parts that arrived (the upload's id is
// remembered in localStorage). Without JavaScript the form posts the whole file normally and the
// pages show the progress at load time.
import { csrfToken, getJson, jsonBody, jsonHeaders, post } from "./lib/http.js";
import { gettext, interpolate } from "./lib/i18n.js";

function humanSize(bytes) {
  const units = ["bytes", "KB", "MB", "GB"];
  let size = bytes, unit = 0;
  while (size >= 1024 && unit < units.length - 1) { size /= 1024; unit += 1; }
  return unit ? `${size.toFixed(1).replace(/\.0$/, "")} ${units[unit]}` : `${size} bytes`;
}

function humanDuration(seconds) {
  const total = Math.round(seconds);
  const parts = [[Math.floor(total / 3600), "h"], [Math.floor(total / 60) % 60, "min"], [total >= 3600 ? 0 : total % 60, "s"]];
  return parts.filter(([n]) => n).map(([n, unit]) => `${n} ${unit}`).join(" ") || "0 s";
}

/** The video's length as this browser reads it, or null when it cannot (a format it does not
 * play): the server then checks it after the upload. */
function videoDuration(file) {
  return new Promise((resolve) => {
    const video = document.createElement("video");
    const url = URL.createObjectURL(file);
    let timer = null;
    const done = (value) => {
      clearTimeout(timer);
      URL.revokeObjectURL(url);
      resolve(value);
    };
    video.preload = "metadata";
    video.muted = true;
    video.addEventListener("loadedmetadata", () => done(Number.isFinite(video.duration) ? video.duration : null), { once: true });
    video.addEventListener("error", () => done(null), { once: true });
    timer = setTimeout(() => done(null), 5000);
    video.src = url;
  });
}

// --- Processing progress -------------------------------------------------------------------

function showProgress(root, data) {
  root.dataset.status = data.status;
  const status = root.querySelector("[data-role=status]");
  if (status) {
    status.textContent = data.statusLabel;
    status.className = `status status-video-${data.status}`;
  }
  const fill = root.querySelector("[data-role=fill]");
  if (fill) {
    fill.style.width = `${data.progress}%`;
    fill.parentElement.setAttribute("aria-valuenow", String(data.progress));
  }
  const percent = root.querySelector("[data-role=percent]");
  if (percent) percent.textContent = `${data.progress}%`;
  const reason = root.querySelector("[data-role=reason]");
  if (reason && data.failureReason) { reason.textContent = data.failureReason; reason.hidden = false; }
}

function watchProgress(element) {
  const url = element.dataset.progressUrl;
  let failures = 0;
  const tick = async () => {
    try {
      const response = await getJson(url);
      if (!response.ok) throw new Error(String(response.status));
      const data = await response.json();
      failures = 0;
      showProgress(element, data);
      if (data.status === "ready" || data.status === "failed") {
        // The editor, the thumbnail or the failure notice come with the page itself.
        window.location.reload();
        return;
      }
    } catch {
      failures += 1;
    }
    setTimeout(tick, Math.min(10000, 1500 * (1 + failures)));
  };
  setTimeout(tick, 1500);
}

// The bars' widths come from their aria-valuenow (no style attribute: the Content-Security-Policy
// allows no inline styles).
document.querySelectorAll("[role=progressbar] > .progress-fill").forEach((fill) => {
  fill.style.width = `${Number(fill.parentElement.getAttribute("aria-valuenow")) || 0}%`;
});
document.querySelectorAll("[data-progress-url]").forEach(watchProgress);

// --- Upload form ---------------------------------------------------------------------------

const REMEMBERED = "liveshop.uploads"; // {fingerprint: {statusUrl, name, size, title}}
const PARALLEL_PARTS = 3;
const PART_RETRIES = 5; // then the page says to choose the file again, which resumes

function rememberedUploads() {
  try {
    return JSON.parse(localStorage.getItem(REMEMBERED)) || {};
  } catch {
    return {};
  }
}

function remember(key, value) {
  const all = rememberedUploads();
  if (value) all[key] = value;
  else delete all[key];
  try {
    localStorage.setItem(REMEMBERED, JSON.stringify(all));
  } catch {
    // Private browsing or a full storage: the upload still works, it just cannot resume.
  }
}

/** The same file for the same brand, as far as a browser can tell without reading it. */
function fingerprint(brand, file) {
  return [brand, file.name, file.size, file.lastModified].join("|");
}

const SIGNED_OUT = gettext("You were signed out. Sign in again, then choose the same file to go on from where it stopped.");
const wait = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** The upload form: its file picker and drop zone, and the upload with its progress bar. */
function setUpUploadForm(form) {
  const input = form.querySelector("input[type=file]");
  const errors = form.querySelector("[data-role=errors]");
  const statusBox = form.querySelector("[data-role=upload-status]");
  const fill = form.querySelector("[data-role=upload-fill]");
  const statusText = form.querySelector("[data-role=upload-text]");
  const submit = form.querySelector("[data-role=submit]");
  const fileName = form.querySelector("[data-role=file-name]");
  const resumeBox = form.querySelector("[data-role=resume]");
  const brand = form.dataset.brand;
  const maxBytes = Number(form.dataset.maxBytes);
  const maxSeconds = Number(form.dataset.maxSeconds) || Infinity;

  input.addEventListener("change", () => {
    const file = input.files[0];
    fileName.textContent = file ? `${file.name} (${humanSize(file.size)})` : gettext("Choose a video");
    const title = form.querySelector("input[name=title]");
    const known = file && rememberedUploads()[fingerprint(brand, file)];
    if (known && !title.value) title.value = known.title;
    if (file && !title.value) title.value = file.name.replace(/\.[^.]+$/, "").replace(/[-_]+/g, " ");
  });
  const dropzone = form.querySelector(".dropzone");
  ["dragenter", "dragover"].forEach((name) => dropzone.addEventListener(name, (event) => {
    event.preventDefault();
    dropzone.classList.add("is-over");
  }));
  ["dragleave", "drop"].forEach((name) => dropzone.addEventListener(name, () => dropzone.classList.remove("is-over")));
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      input.dispatchEvent(new Event("change"));
    }
  });

  function showErrors(messages) {
    errors.replaceChildren();
    const strong = document.createElement("strong");
    strong.textContent = gettext("The video was not uploaded.");
    errors.append(strong);
    for (const message of messages) {
      const p = document.createElement("p");
      p.textContent = message;
      errors.append(p);
    }
    errors.hidden = false;
    errors.scrollIntoView({ block: "nearest" });
  }

  function errorMessages(body) {
    if (!body || !body.errors) return [body?.error || gettext("Something went wrong; try again.")];
    return Object.values(body.errors).flat().map((error) => error.message || String(error));
  }

  function progress(fraction, label) {
    const percent = Math.min(100, Math.round(fraction * 100));
    fill.style.width = `${percent}%`;
    fill.parentElement.setAttribute("aria-valuenow", String(percent));
    statusText.textContent = label || interpolate(gettext("Uploading… %(percent)s"), { percent: `${percent}%` });
  }

  // Uploads this browser started for this brand and did not finish: say so, offer to discard.
  async function showUnfinished() {
    const unfinished = Object.entries(rememberedUploads()).filter(([key]) => key.startsWith(`${brand}|`));
    if (!unfinished.length || !resumeBox) return;
    resumeBox.replaceChildren();
    for (const [key, known] of unfinished) {
      const response = await getJson(known.statusUrl).catch(() => null);
      if (response && !response.ok && response.status !== 503) {
        remember(key, null); // finished, given up or expired meanwhile
        continue;
      }
      const state = response ? await jsonBody(response) : null;
      const percent = state ? Math.floor((state.receivedBytes / state.size) * 100) : null;
      const line = document.createElement("p");
      const file = `“${known.name}” (${humanSize(known.size)})`;
      const unfinished = percent === null
        ? interpolate(gettext("%(file)s was not finished."), { file })
        : interpolate(gettext("%(file)s was not finished: %(percent)s arrived."), { file, percent: `${percent}%` });
      line.textContent = `${unfinished} ${gettext("Choose the same file to go on from there.")} `;
      const discard = document.createElement("button");
      discard.type = "button";
      discard.className = "button secondary small";
      discard.textContent = gettext("Discard");
      discard.addEventListener("click", async () => {
        await fetch(known.statusUrl, { method: "DELETE", credentials: "same-origin", headers: jsonHeaders(form) }).catch(() => null);
        remember(key, null);
        line.remove();
        resumeBox.hidden = !resumeBox.childElementCount;
      });
      line.append(discard);
      resumeBox.append(line);
    }
    resumeBox.hidden = !resumeBox.childElementCount;
  }

  // XMLHttpRequest, not fetch: only it reports upload progress.
  function send(method, url, data, { headers = {}, onProgress } = {}) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open(method, url);
      for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
      request.upload.addEventListener("progress", (event) => {
        if (onProgress) onProgress(event.loaded);
      });
      request.addEventListener("load", () => resolve(request));
      request.addEventListener("error", () => reject(new Error(gettext("The connection was lost during the upload."))));
      request.addEventListener("abort", () => reject(new Error(gettext("The upload was stopped."))));
      request.send(data);
    });
  }

  function parse(request) {
    try { return JSON.parse(request.responseText); } catch { return null; }
  }

  class PartRefused extends Error {}

  async function uploadInParts(file) {
    const key = fingerprint(brand, file);
    let state = null;
    const known = rememberedUploads()[key];
    if (known) {
      const response = await getJson(known.statusUrl);
      const body = await jsonBody(response);
      if (response.ok && !body) throw new Error(SIGNED_OUT);
      if (response.ok) state = body;
      else remember(key, null);
    }
    if (!state) {
      const start = new FormData();
      start.append("title", form.querySelector("input[name=title]").value);
      start.append("filename", file.name);
      start.append("size", String(file.size));
      start.append("content_type", file.type);
      const response = await post(form.dataset.startUrl, start, { form });
      const body = await jsonBody(response);
      if (!response.ok) return { ok: false, body };
      if (!body) throw new Error(SIGNED_OUT);
      state = body;
      remember(key, { statusUrl: state.statusUrl, name: file.name, size: file.size, title: state.title });
    } else {
      progress(state.receivedBytes / file.size, gettext("Going on from where the upload stopped…"));
    }
    const sending = new Map(); // part number -> bytes sent so far
    let arrived = state.receivedBytes;
    const show = () => progress((arrived + [...sending.values()].reduce((a, b) => a + b, 0)) / file.size);

    async function sendPart(part) {
      const from = (part.number - 1) * state.partSize;
      const blob = file.slice(from, Math.min(from + state.partSize, file.size));
      const ours = new URL(part.url, window.location.href).origin === window.location.origin;
      const headers = ours ? { "X-CSRFToken": csrfToken(form), Accept: "application/json" } : {};
      for (let attempt = 1; ; attempt += 1) {
        try {
          const answer = await send("PUT", part.url, blob, { headers, onProgress: (loaded) => { sending.set(part.number, loaded); show(); } });
          sending.delete(part.number);
          // Our server answers the part's number: a login page after a redirect (the session
          // ended) is not an arrived part.
          if (ours && answer.status < 300 && parse(answer)?.number !== part.number) throw new PartRefused(SIGNED_OUT);
          if (answer.status < 300) {
            arrived += blob.size;
            show();
            return;
          }
          // An expired part URL (S3 answers 403): ask for fresh ones. Anything else is a refusal.
          if (!ours && answer.status === 403) return;
          throw new PartRefused(errorMessages(ours ? parse(answer) : null)[0]);
        } catch (error) {
          sending.delete(part.number);
          if (error instanceof PartRefused) throw error;
          if (attempt >= PART_RETRIES) {
            throw new Error(gettext("The connection was lost. Choose the same file again to go on from where it stopped."));
          }
          const seconds = 2 ** (attempt - 1);
          statusText.textContent = interpolate(gettext("Connection lost; trying again in %(seconds)s s…"), { seconds });
          await wait(seconds * 1000);
        }
      }
    }

    let stalled = 0; // rounds that got no part through (S3 refusing every URL, not only expired ones)
    while (state.parts.length) {
      if (stalled >= 3) return { ok: false, body: { error: gettext("Storage refused the video's parts; try again later.") } };
      const before = state.receivedBytes;
      const queue = [...state.parts];
      const worker = async () => {
        while (queue.length) await sendPart(queue.shift());
      };
      await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, queue.length) }, worker));
      const response = await getJson(state.statusUrl);
      const body = await jsonBody(response);
      if (response.ok && !body) throw new Error(SIGNED_OUT);
      if (!response.ok) {
        if (response.status < 500) remember(key, null);
        return { ok: false, body };
      }
      state = body;
      arrived = state.receivedBytes;
      stalled = state.receivedBytes > before ? 0 : stalled + 1;
    }
    progress(1, gettext("Checking the video…"));
    const response = await post(state.completeUrl, new FormData(), { form });
    if (response.status < 500) remember(key, null); // made, or refused and thrown away
    return { ok: response.ok, body: await jsonBody(response) };
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = input.files[0];
    if (!file) return showErrors([gettext("Choose a video file to upload.")]);
    // Refused here, before a byte is sent: the server would refuse them too, after the wait.
    if (file.size > maxBytes) {
      return showErrors([interpolate(gettext("This file is %(size)s; videos may be at most %(max)s."), { size: humanSize(file.size), max: humanSize(maxBytes) })]);
    }
    const seconds = await videoDuration(file);
    if (seconds !== null && seconds > maxSeconds + 0.5) {
      return showErrors([
        interpolate(gettext("This video is %(length)s long; videos may be at most %(max)s. Trim it, or split it into parts, and upload those."), { length: humanDuration(seconds), max: humanDuration(maxSeconds) }),
      ]);
    }
    errors.hidden = true;
    if (resumeBox) resumeBox.hidden = true;
    statusBox.hidden = false;
    submit.disabled = true;
    progress(0);
    try {
      const result = await uploadInParts(file);
      if (result.ok && result.body?.redirect) {
        window.location.assign(result.body.redirect);
        return;
      }
      showErrors(errorMessages(result.body));
    } catch (error) {
      showErrors([error.message]);
    }
    statusBox.hidden = true;
    submit.disabled = false;
  });

  showUnfinished();
}

const form = document.querySelector("form.upload-form");
if (form) setUpUploadForm(form);
