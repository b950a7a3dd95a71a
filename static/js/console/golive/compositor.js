/* The outgoing video: each camera (or screen) frame with the overlays drawn into it, so every
 * viewer, a TV or a clip shared later, sees them (not a layer over one player).
 *
 * Where Chromium has Insertable Streams (MediaStreamTrackProcessor / MediaStreamTrackGenerator),
 * every source frame is drawn on an OffscreenCanvas with the overlays and leaves as a new
 * VideoFrame with the same timestamp: driven by the camera, so a background tab keeps its frame
 * rate. Elsewhere a canvas redrawn on each animation frame is captured (captureStream()).
 * Overlay changes apply on the next frame drawn.
 *
 * Overlays: the featured product's QR code (a PNG of its buy link, made on the server), its
 * picture and a name/price lower third in the corner the host picks; a logo or picture the host
 * drops in (the opposite top corner). `stamp` (bench/golive.py) draws the wall clock as 32 black
 * or white blocks along the top edge, for measuring latency from the HLS output. */

const STAMP_BITS = 32;

export function createCompositor({ width, height, fps = 30 }) {
  const overlay = { product: null, qr: null, picture: null, logo: null, corner: "bottom-right", show: true, stamp: false };
  const stats = { frames: 0, since: performance.now() };
  let source = null;
  let stopDrawing = () => {};

  function draw(ctx, frame, frameWidth, frameHeight) {
    // Cover the output with the source, centred, keeping its aspect ratio.
    const scale = Math.max(width / frameWidth, height / frameHeight);
    const w = frameWidth * scale;
    const h = frameHeight * scale;
    ctx.drawImage(frame, (width - w) / 2, (height - h) / 2, w, h);
    drawOverlays(ctx);
    stats.frames += 1;
  }

  function drawOverlays(ctx) {
    if (overlay.logo) drawLogo(ctx);
    if (overlay.show && overlay.product) drawProduct(ctx);
    if (overlay.stamp) drawStamp(ctx, Date.now());
  }

  function drawLogo(ctx) {
    const h = Math.round(height * 0.12);
    const w = Math.round((overlay.logo.width / overlay.logo.height) * h);
    const left = overlay.corner.endsWith("left");
    const x = left ? width - w - margin() : margin();
    ctx.drawImage(overlay.logo, x, margin() + (overlay.stamp ? stampBlock() : 0), w, h);
  }

  function margin() {
    return Math.round(height * 0.03);
  }

  function drawProduct(ctx) {
    const m = margin();
    const qrSize = Math.round(height * 0.3);
    const pad = Math.round(qrSize * 0.04);
    const pictureSize = overlay.picture ? qrSize : 0;
    const boxW = qrSize + pictureSize + pad * 3;
    const textH = Math.round(height * 0.13);
    const boxH = qrSize + pad * 2 + textH;
    const [top, left] = [overlay.corner.startsWith("top"), overlay.corner.endsWith("left")];
    const x = left ? m : width - boxW - m;
    const y = top ? m + (overlay.stamp ? stampBlock() : 0) : height - boxH - m;
    ctx.fillStyle = "rgba(255,255,255,0.94)";
    ctx.fillRect(x, y, boxW, boxH);
    if (overlay.picture) drawContained(ctx, overlay.picture, x + pad, y + pad, pictureSize, qrSize);
    if (overlay.qr) {
      ctx.imageSmoothingEnabled = false; // crisp modules: scannable from a phone
      ctx.drawImage(overlay.qr, x + pad * 2 + pictureSize, y + pad, qrSize, qrSize);
      ctx.imageSmoothingEnabled = true;
    }
    // Name, then price, under the pictures: each line fits the box's width.
    const { name, priceText } = overlay.product;
    const line = textH / 2;
    ctx.fillStyle = "#111";
    ctx.textBaseline = "middle";
    ctx.font = `600 ${Math.round(line * 0.8)}px system-ui, sans-serif`;
    ctx.fillText(fit(ctx, name, boxW - pad * 2), x + pad, y + pad + qrSize + line / 2);
    ctx.font = `${Math.round(line * 0.8)}px system-ui, sans-serif`;
    ctx.fillText(fit(ctx, priceText, boxW - pad * 2), x + pad, y + pad + qrSize + line * 1.5);
  }

  function drawContained(ctx, image, x, y, w, h) {
    const scale = Math.min(w / image.width, h / image.height);
    const dw = image.width * scale;
    const dh = image.height * scale;
    ctx.drawImage(image, x + (w - dw) / 2, y + (h - dh) / 2, dw, dh);
  }

  function fit(ctx, text, maxWidth) {
    if (ctx.measureText(text).width <= maxWidth) return text;
    let cut = text;
    while (cut.length > 1 && ctx.measureText(`${cut}…`).width > maxWidth) cut = cut.slice(0, -1);
    return `${cut}…`;
  }

  function stampBlock() {
    return Math.floor(width / (STAMP_BITS + 2));
  }

  function drawStamp(ctx, now) {
    // A black and a white block frame 32 bits of the clock (ms, low bits), most significant first.
    const block = stampBlock();
    const value = now % 2 ** STAMP_BITS;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, block, block);
    ctx.fillStyle = "#fff";
    ctx.fillRect(block, 0, block, block);
    for (let bit = 0; bit < STAMP_BITS; bit += 1) {
      const on = Math.floor(value / 2 ** (STAMP_BITS - 1 - bit)) % 2 === 1;
      ctx.fillStyle = on ? "#fff" : "#000";
      ctx.fillRect((bit + 2) * block, 0, block, block);
    }
  }

  function insertable(track) {
    const processor = new MediaStreamTrackProcessor({ track });
    const generator = new MediaStreamTrackGenerator({ kind: "video" });
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext("2d", { alpha: false });
    const controller = new AbortController();
    processor.readable
      .pipeThrough(new TransformStream({
        transform(frame, out) {
          try {
            draw(ctx, frame, frame.displayWidth, frame.displayHeight);
            out.enqueue(new VideoFrame(canvas, { timestamp: frame.timestamp }));
          } finally {
            frame.close();
          }
        },
      }), { signal: controller.signal })
      .pipeTo(generator.writable, { signal: controller.signal })
      .catch(() => {});
    stopDrawing = () => controller.abort();
    return generator;
  }

  function canvasCapture(track) {
    const video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.srcObject = new MediaStream([track]);
    video.play().catch(() => {});
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext("2d", { alpha: false });
    let handle = 0;
    const tick = () => {
      if (video.videoWidth) draw(ctx, video, video.videoWidth, video.videoHeight);
      handle = requestAnimationFrame(tick);
    };
    handle = requestAnimationFrame(tick);
    stopDrawing = () => {
      cancelAnimationFrame(handle);
      video.srcObject = null;
    };
    return canvas.captureStream(fps).getVideoTracks()[0];
  }

  return {
    overlay,
    /** The composited track of `track` (a camera's or a screen's video track). */
    start(track) {
      stopDrawing();
      source = track;
      stats.frames = 0;
      stats.since = performance.now();
      const useInsertable = "MediaStreamTrackProcessor" in window && "MediaStreamTrackGenerator" in window;
      return { track: useInsertable ? insertable(track) : canvasCapture(track), insertable: useInsertable };
    },
    stop() {
      stopDrawing();
      source?.stop();
      source = null;
    },
    /** Frames drawn per second since the last call. */
    frameRate() {
      const now = performance.now();
      const rate = (stats.frames * 1000) / Math.max(1, now - stats.since);
      stats.frames = 0;
      stats.since = now;
      return rate;
    },
  };
}

/** An image (an ImageBitmap) from `url` (same origin, or CORS-enabled), or null if it cannot
 * be drawn into the video (it would taint the canvas). */
export async function loadBitmap(url) {
  if (!url) return null;
  try {
    const response = await fetch(url, { credentials: "same-origin", mode: "cors" });
    if (!response.ok) return null;
    return await createImageBitmap(await response.blob());
  } catch {
    return null;
  }
}
