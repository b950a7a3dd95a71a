/* The share button of event and replay pages (loaded by templates/events/_share_meta.html): the
 * phone's own share sheet (Web Share API) where there is one, else the link copied to the
 * clipboard with a visible "Link copied". It shares the page's canonical URL and title, the same
 * ones its Open Graph tags give link previews. */

import { gettext, interpolate } from "../lib/i18n.js";

const slot = document.querySelector(".watch-meta");
const canonical = document.querySelector('link[rel="canonical"]');
const ogTitle = document.querySelector('meta[property="og:title"]');
const STATUS_MS = 2500;

const ICON =
  '<svg aria-hidden="true" viewBox="0 0 24 24" width="16" height="16"><path d="M12 3v12M7 8l5-5 5 5M5 13v6a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2v-6" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/></svg>';

/** The share sheet is for phones and tablets; a desktop browser that has one gets the copy. */
function usesShareSheet() {
  return typeof navigator.share === "function" && window.matchMedia("(pointer: coarse)").matches;
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No async clipboard (a page served over plain http, an older browser): a selected field.
    const field = Object.assign(document.createElement("textarea"), { value: text, readOnly: true });
    field.className = "share-copy-field";
    document.body.append(field);
    field.select();
    let copied = false;
    try { copied = document.execCommand("copy"); } catch { copied = false; }
    field.remove();
    return copied;
  }
}

/** The button the page rendered (templates/events/_share_button.html: in place from the first
 * paint, so nothing shifts), else one made here. */
function markup() {
  const rendered = slot.querySelector(".share");
  if (rendered) return rendered;
  const wrap = document.createElement("span");
  wrap.className = "share";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "share-button";
  button.innerHTML = ICON;
  button.append(Object.assign(document.createElement("span"), { textContent: gettext("Share") }));
  const status = document.createElement("span");
  status.className = "share-status";
  status.setAttribute("role", "status");
  wrap.append(button, status);
  slot.append(wrap);
  return wrap;
}

function wire(wrap) {
  const url = canonical ? canonical.href : window.location.href;
  const title = ogTitle ? ogTitle.content : document.title;
  const button = wrap.querySelector(".share-button");
  const status = wrap.querySelector(".share-status");
  button.setAttribute("aria-label", usesShareSheet() ? gettext("Share this show") : gettext("Share: copy this show's link"));
  let timer = 0;

  const say = (text) => {
    status.textContent = text;
    wrap.dataset.state = text ? "said" : "";
    clearTimeout(timer);
    if (text) timer = setTimeout(() => say(""), STATUS_MS);
  };

  button.addEventListener("click", async () => {
    if (usesShareSheet()) {
      try {
        await navigator.share({ title, url });
        return;
      } catch (error) {
        if (error && error.name === "AbortError") return; // the viewer closed the sheet
      }
    }
    say((await copyText(url)) ? gettext("Link copied") : interpolate(gettext("Copy this link: %(url)s"), { url }));
  });
}

if (slot) wire(markup());
