// Studio videos: the upload form (a progress bar while the file goes to the server, or straight
// to S3 with a presigned POST) and live processing progress on the list and video pages.
// Without JavaScript the form posts normally and the pages show the progress at load time.
import { getJson, jsonHeaders } from "./lib/http.js";

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

/** The upload form: its file picker and drop zone, and the upload with its progress bar. */
function setUpUploadForm(form) {
  const input = form.querySelector("input[type=file]");
  const errors = form.querySelector("[data-role=errors]");
  const statusBox = form.querySelector("[data-role=upload-status]");
  const fill = form.querySelector("[data-role=upload-fill]");
  const statusText = form.querySelector("[data-role=upload-text]");
  const submit = form.querySelector("[data-role=submit]");
  const fileName = form.querySelector("[data-role=file-name]");
  const maxBytes = Number(form.dataset.maxBytes);
  const maxSeconds = Number(form.dataset.maxSeconds) || Infinity;

  input.addEventListener("change", () => {
    const file = input.files[0];
    fileName.textContent = file ? `${file.name} (${humanSize(file.size)})` : "Choose a video";
    const title = form.querySelector("input[name=title]");
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
    strong.textContent = "The video was not uploaded.";
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
    if (!body || !body.errors) return [body?.error || "Something went wrong; try again."];
    return Object.values(body.errors).flat().map((error) => error.message || String(error));
  }

  // XMLHttpRequest, not fetch: only it reports upload progress.
  function send(url, data, { headers = {}, onProgress } = {}) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("POST", url);
      for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
      });
      request.addEventListener("load", () => resolve(request));
      request.addEventListener("error", () => reject(new Error("The connection was lost during the upload.")));
      request.send(data);
    });
  }

  function parse(request) {
    try { return JSON.parse(request.responseText); } catch { return null; }
  }

  function progress(fraction, label) {
    const percent = Math.round(fraction * 100);
    fill.style.width = `${percent}%`;
    fill.parentElement.setAttribute("aria-valuenow", String(percent));
    statusText.textContent = label || `Uploading… ${percent}%`;
  }

  async function uploadToServer(file) {
    const response = await send(form.action, new FormData(form), {
      headers: jsonHeaders(form),
      onProgress: (fraction) => progress(fraction, fraction >= 1 ? "Checking the video…" : null),
    });
    return { ok: response.status < 300, body: parse(response) };
  }

  async function uploadToS3(file) {
    const title = form.querySelector("input[name=title]").value;
    const start = new FormData();
    start.append("title", title);
    start.append("filename", file.name);
    start.append("size", String(file.size));
    start.append("content_type", file.type);
    const started = await send(form.dataset.startUrl, start, { headers: jsonHeaders(form) });
    const post = parse(started);
    if (started.status >= 300) return { ok: false, body: post };
    const s3Form = new FormData();
    for (const [name, value] of Object.entries(post.fields)) s3Form.append(name, value);
    s3Form.append("file", file); // S3 ignores every field after the file
    const stored = await send(post.url, s3Form, { onProgress: (fraction) => progress(fraction) });
    if (stored.status >= 300) {
      const reason = /<Message>([^<]*)</.exec(stored.responseText)?.[1] || `S3 answered ${stored.status}`;
      return { ok: false, body: { error: `The upload to storage failed: ${reason}.` } };
    }
    progress(1, "Checking the video…");
    const confirm = new FormData();
    confirm.append("title", title);
    confirm.append("token", post.token);
    const confirmed = await send(form.dataset.confirmUrl, confirm, { headers: jsonHeaders(form) });
    return { ok: confirmed.status < 300, body: parse(confirmed) };
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = input.files[0];
    if (!file) return showErrors(["Choose a video file to upload."]);
    // Refused here, before a byte is sent: the server would refuse them too, after the wait.
    if (file.size > maxBytes) return showErrors([`This file is ${humanSize(file.size)}; videos may be at most ${humanSize(maxBytes)}.`]);
    const seconds = await videoDuration(file);
    if (seconds !== null && seconds > maxSeconds + 0.5) {
      return showErrors([`This video is ${humanDuration(seconds)} long; videos may be at most ${humanDuration(maxSeconds)}. Trim it, or split it into parts, and upload those.`]);
    }
    errors.hidden = true;
    statusBox.hidden = false;
    submit.disabled = true;
    progress(0);
    try {
      const result = form.dataset.upload === "direct" ? await uploadToS3(file) : await uploadToServer(file);
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
}

const form = document.querySelector("form.upload-form");
if (form) setUpUploadForm(form);
