/* The pages' words in the viewer's language, and numbers, prices and times in their locale.
 *
 * The server renders the current language's script catalogue into the page
 * (<script id="js-catalog" type="application/json">, liveshop/i18n.py; none for English, the
 * source language) and sets <html lang>. Strings are marked with gettext(msgid) / ngettext(singular,
 * plural, n), msgids written as string literals, so `manage.py makemessages -d djangojs` finds them (locale/<lang>/LC_MESSAGES/
 * djangojs.po); placeholders are "%(name)s", filled by interpolate() after translating (never a
 * template literal inside gettext: the extractor needs the literal string).
 */

let catalog;

function entries() {
  if (catalog === undefined) {
    const el = document.getElementById("js-catalog");
    try {
      catalog = el ? JSON.parse(el.textContent) : {};
    } catch {
      catalog = {};
    }
  }
  return catalog;
}

/** `msgid` in the page's language (itself when untranslated). */
export function gettext(msgid) {
  const found = entries()[msgid];
  if (typeof found === "string" && found) return found;
  if (Array.isArray(found) && found[0]) return found[0];
  return msgid;
}

/** The singular or plural of a counted phrase. English and German (the shipped languages) both
 * use the first form for 1 and the second for everything else. */
export function ngettext(singular, plural, n) {
  const index = n === 1 ? 0 : 1;
  const found = entries()[singular];
  if (Array.isArray(found) && found[index]) return found[index];
  return index === 0 ? singular : plural;
}

/** "%(name)s" placeholders of `format` filled from `values`. */
export function interpolate(format, values) {
  return format.replace(/%\((\w+)\)s/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** The page's language ("de"), as the server chose it (the switcher's cookie or the browser's
 * Accept-Language). */
export function language() {
  return (document.documentElement.lang || "en").toLowerCase();
}

/** The locale for numbers, prices and dates: the browser's own variant of the page's language
 * where it has one ("de-CH" for a Swiss browser on a German page), else the language itself. */
export function locale() {
  const lang = language().split("-")[0];
  const preferred = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  return preferred.find((tag) => tag && tag.toLowerCase().split("-")[0] === lang) || lang;
}
