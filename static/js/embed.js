/* Liveshop's embed loader: the one script a brand pastes on its own site (docs/embed.md).
 *
 *   <script src="https://<liveshop>/embed.js" data-liveshop-event="brand/event"></script>
 *   <script src="https://<liveshop>/embed.js" data-liveshop-brand="brand"></script>  (its next show)
 *   <script src="https://<liveshop>/embed.js" data-liveshop-brand="brand" data-liveshop-view="shows"></script>
 *   <script src="https://<liveshop>/embed.js" data-liveshop-video="brand/video"></script>  (an uploaded video)
 *
 * It puts an iframe of Liveshop's embed page where the script is (or into the element named by
 * data-liveshop-target), sizes it to its content (the page reports its height), floats it as a
 * mini-player in a corner while it plays and the shopper scrolls past it, and lets it take the
 * whole screen on request (a phone's "full screen"). Messages go both ways over postMessage,
 * checked for origin and source on each side: events arrive on the container as DOM events
 * ("liveshop:product.shown", ...) and through container.liveshop.on(); commands go through
 * container.liveshop.play() / pause() / openProduct(idOrSku).
 *
 * A classic script with no dependencies, written for any shop's page: it adds no global but
 * window.Liveshop, sets styles through the CSSOM only (a shop's CSP may forbid style attributes),
 * and never uses eval.
 *
 * Its few words (the frame's title, the mini player's close button, the link offered when the
 * player does not load) are in the shopper's language: data-liveshop-lang="de" when the shop
 * names one, else the browser's (as the frame, which follows the browser's Accept-Language),
 * else the page's <html lang>; English when none is known. Messages for the shop's developers
 * (a missing attribute, the protocol's error reasons) stay English.
 */
(function () {
  "use strict";

  var PROTOCOL = 1;
  var NAMESPACE = "embed";
  var SLUG = /^[A-Za-z0-9_-]{1,80}$/;
  var READY_TIMEOUT_MS = 15000; // no "ready" by then: the frame was refused (not allow-listed) or failed
  // The frame says "ready" at its DOMContentLoaded, before its load event: loaded without it (a
  // frame the browser refused by frame-ancestors still fires load), the shopper need not wait 15 s.
  var READY_AFTER_LOAD_MS = 2000;
  var MINI_WIDTH = 320;
  var EVENTS = ["ready", "player.state", "product.shown", "product.clicked", "product.opened", "cart.add", "checkout.done", "error"];
  // The loader's words by language (English is the key); tests/test_i18n.py checks each is here.
  var WORDS = {
    "de": {
      "Live shopping show": "Live-Shopping-Show",
      "Shoppable video": "Video zum Einkaufen",
      "Close the mini player": "Mini-Player schließen",
      "Watch the show on Liveshop": "Show auf Liveshop ansehen",
      "Watch the video on Liveshop": "Video auf Liveshop ansehen"
    }
  };

  var script = document.currentScript;
  if (!script || script.getAttribute("data-liveshop-mounted")) return;
  script.setAttribute("data-liveshop-mounted", "1");
  var ORIGIN = new URL(script.src, window.location.href).origin;
  var registry = (window.Liveshop = window.Liveshop || { protocol: PROTOCOL, players: [] });

  /** The first supported language of: the script's data-liveshop-lang, the browser's, the page's. */
  function pickLanguage() {
    var wanted = [script.getAttribute("data-liveshop-lang") || ""]
      .concat(navigator.languages || [navigator.language || ""])
      .concat([document.documentElement.lang || ""]);
    for (var i = 0; i < wanted.length; i++) {
      var code = String(wanted[i]).toLowerCase().split("-")[0];
      if (code === "en" || Object.prototype.hasOwnProperty.call(WORDS, code)) return code;
    }
    return "en";
  }
  var LANGUAGE = pickLanguage();

  function t(text) {
    var words = WORDS[LANGUAGE];
    return (words && words[text]) || text;
  }

  function pairPath(value, prefix) {
    var parts = value.split("/");
    if (parts.length === 2 && SLUG.test(parts[0]) && SLUG.test(parts[1])) return prefix + parts[0] + "/" + parts[1] + "/";
    return null;
  }

  function framePath(el) {
    var event = el.getAttribute("data-liveshop-event");
    var video = el.getAttribute("data-liveshop-video");
    var brand = el.getAttribute("data-liveshop-brand");
    if (event) {
      return pairPath(event, "/embed/e/");
    } else if (video) {
      return pairPath(video, "/embed/v/"); // a brand's published uploaded video (/v/<brand>/<video>/)
    } else if (brand && SLUG.test(brand)) {
      // data-liveshop-view="shows": the brand's shows to pick from; else its next show.
      return "/embed/b/" + brand + (el.getAttribute("data-liveshop-view") === "shows" ? "/shows/" : "/");
    }
    return null;
  }

  function css(el, styles) {
    for (var name in styles) el.style[name] = styles[name];
  }

  function mount() {
    var path = framePath(script);
    var target = script.getAttribute("data-liveshop-target");
    var container = document.createElement("div");
    container.className = "liveshop-embed";
    css(container, { position: "relative", width: "100%" });
    var host = target ? document.querySelector(target) : null;
    if (host) host.appendChild(container);
    else script.parentNode.insertBefore(container, script.nextSibling);
    if (!path) {
      container.textContent = "Liveshop: name a show (data-liveshop-event=\"brand/event\"), a video (data-liveshop-video=\"brand/video\") or a brand (data-liveshop-brand=\"brand\").";
      return;
    }
    var frame = document.createElement("iframe");
    frame.src = ORIGIN + path + "#parent=" + encodeURIComponent(window.location.origin);
    var isVideo = path.indexOf("/embed/v/") === 0;
    frame.title = script.getAttribute("data-liveshop-title") || (isVideo ? t("Shoppable video") : t("Live shopping show"));
    frame.allow = "autoplay; fullscreen; picture-in-picture; clipboard-write; web-share";
    frame.setAttribute("allowfullscreen", "");
    frame.setAttribute("loading", "eager");
    css(frame, { display: "block", width: "100%", height: "640px", border: "0", background: "transparent" });
    container.appendChild(frame);
    registry.players.push(new Player(container, frame, path, isVideo));
  }

  function Player(container, frame, path, isVideo) {
    var self = this;
    var handlers = {};
    var state = { ready: false, navigating: false, playing: false, layout: "inline", dismissed: false, height: 640, miniHeight: 180 };
    var closer = null;

    function post(message) {
      if (!frame.contentWindow) return false;
      message.liveshop = NAMESPACE;
      message.v = PROTOCOL;
      frame.contentWindow.postMessage(message, ORIGIN); // only Liveshop's page may read it
      return true;
    }

    function command(name, data) {
      var message = { type: "command", command: name };
      for (var key in data || {}) message[key] = data[key];
      return post(message);
    }

    function emit(type, data) {
      (handlers[type] || []).forEach(function (handler) {
        try {
          handler(data);
        } catch (error) {
          console.error(error);
        }
      });
      container.dispatchEvent(new CustomEvent("liveshop:" + type, { detail: data, bubbles: true }));
    }

    function onMessage(event) {
      // Only Liveshop's frame, and only this one: another window, frame or origin is ignored.
      if (event.source !== frame.contentWindow || event.origin !== ORIGIN) return;
      var data = event.data;
      if (!data || data.liveshop !== NAMESPACE || data.v !== PROTOCOL || typeof data.type !== "string") return;
      if (data.type === "resize") return resize(data);
      if (data.type === "ui.expand") return setLayout(state.layout === "full" ? "inline" : "full");
      if (data.type === "ui.collapse") return setLayout("inline");
      if (data.type === "navigating") {
        state.navigating = true; // moving on to the replay: its "ready" is to come, loads aside
        clearTimeout(readyTimer);
        readyTimer = setTimeout(offerTheShow, READY_TIMEOUT_MS, UNREACHABLE);
        return;
      }
      if (data.type === "ready") {
        state.ready = true;
        clearTimeout(readyTimer);
        var fallback = container.querySelector(".liveshop-fallback"); // a slow first load after all
        if (fallback) fallback.remove();
      }
      if (data.type === "player.state") {
        state.playing = data.state === "playing";
        updateMini();
      }
      if (EVENTS.indexOf(data.type) >= 0) emit(data.type, data);
    }

    function resize(data) {
      var height = Math.round(Number(data.height));
      if (!(height >= 100 && height <= 20000)) return;
      if (data.layout === "mini") state.miniHeight = height;
      else if (data.layout !== "full") state.height = height;
      applyLayout();
    }

    // Layouts: inline (in the page), mini (floating in a corner while playing), full (the screen).
    function setLayout(layout) {
      if (layout === state.layout) return;
      state.layout = layout;
      command("layout", { layout: layout });
      applyLayout();
    }

    function applyLayout() {
      var layout = state.layout;
      container.style.minHeight = layout === "inline" ? "" : state.height + "px"; // the page does not jump
      document.documentElement.style.overflow = layout === "full" ? "hidden" : "";
      if (layout === "inline") {
        css(frame, { position: "", inset: "", right: "", bottom: "", zIndex: "", boxShadow: "", borderRadius: "", width: "100%", height: state.height + "px" });
      } else if (layout === "mini") {
        var width = Math.min(MINI_WIDTH, Math.round(window.innerWidth * 0.6));
        css(frame, { position: "fixed", inset: "", right: "16px", bottom: "16px", zIndex: "2147483000", width: width + "px", height: state.miniHeight + "px", boxShadow: "0 8px 28px rgba(0,0,0,.35)", borderRadius: "12px" });
      } else {
        css(frame, { position: "fixed", inset: "0", right: "", bottom: "", zIndex: "2147483000", width: "100%", height: "100%", boxShadow: "", borderRadius: "0" });
      }
      showCloser(layout === "mini");
    }

    function showCloser(show) {
      if (!show) {
        if (closer) closer.remove();
        closer = null;
        return;
      }
      if (closer) return;
      closer = document.createElement("button");
      closer.type = "button";
      closer.textContent = "\u00d7";
      closer.setAttribute("aria-label", t("Close the mini player"));
      css(closer, { position: "fixed", right: "8px", bottom: state.miniHeight + 8 + "px", zIndex: "2147483001", width: "28px", height: "28px", borderRadius: "14px", border: "0", background: "#111", color: "#fff", font: "18px/28px sans-serif", cursor: "pointer", padding: "0" });
      closer.addEventListener("click", function () {
        state.dismissed = true;
        setLayout("inline");
      });
      document.body.appendChild(closer);
    }

    var inView = true;
    function updateMini() {
      if (state.layout === "full") return;
      var float = !inView && state.playing && !state.dismissed;
      setLayout(float ? "mini" : "inline");
      if (inView) state.dismissed = false; // scrolled back: it may float again next time
    }

    if ("IntersectionObserver" in window) {
      new IntersectionObserver(function (entries) {
        inView = entries[entries.length - 1].intersectionRatio > 0.25;
        updateMini();
      }, { threshold: [0, 0.25, 0.5] }).observe(container);
    }

    function offerTheShow(reason) {
      if (state.ready || container.querySelector(".liveshop-fallback")) return;
      // Refused (this site is not on the brand's list) or unreachable: offer the show itself.
      var link = document.createElement("a");
      link.href = ORIGIN + path.replace(/^\/embed/, ""); // the show's, the video's or the brand's own page
      link.target = "_blank";
      link.rel = "noopener";
      link.className = "liveshop-fallback";
      link.textContent = isVideo ? t("Watch the video on Liveshop") : t("Watch the show on Liveshop");
      link.lang = LANGUAGE;
      container.appendChild(link);
      emit("error", { type: "error", reason: reason });
    }
    var UNREACHABLE = "The player did not load within 15 s: is Liveshop reachable?";
    var readyTimer = setTimeout(offerTheShow, READY_TIMEOUT_MS, UNREACHABLE);
    frame.addEventListener("load", function () {
      if (state.ready || state.navigating) return;
      clearTimeout(readyTimer); // each load (the frame may move on to a replay) waits for its "ready"
      readyTimer = setTimeout(offerTheShow, READY_AFTER_LOAD_MS, "The player was refused: is this site on the brand's embed list?");
    });

    window.addEventListener("message", onMessage);

    this.element = container;
    this.frame = frame;
    this.play = function () { return command("play"); };
    this.pause = function () { return command("pause"); };
    this.openProduct = function (ref) {
      return command("openProduct", typeof ref === "number" ? { productId: ref } : { sku: String(ref) });
    };
    this.on = function (type, handler) {
      (handlers[type] = handlers[type] || []).push(handler);
      return self;
    };
    Object.defineProperty(this, "ready", { get: function () { return state.ready; } });
    Object.defineProperty(this, "layout", { get: function () { return state.layout; } });
    container.liveshop = this;
  }

  mount();
})();
