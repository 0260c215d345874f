// Every user-facing string of the web client comes from one catalogue per language
// (js/lang/en.js, js/lang/es.js). The language is the one chosen with the switch in the top
// bar (kept in localStorage), else the browser's first preferred language we have, else
// English. A key missing from a catalogue shows as ⟦key⟧, so a test can find it.
//
//   t("own.sending")                        -> "Sending…"
//   t("members.here", {n: 4})               -> "4 here"   (plural forms: "key.one" / "key.other")

import en from "./lang/en.js";
import es from "./lang/es.js";

export const CATALOGUES = { en, es };
export const LANGUAGES = [["en", "English"], ["es", "Español"]];
const STORAGE_KEY = "chatserver.lang";
const SWITCHED_KEY = "chatserver.lang_switched";

function choose() {
  const stored = localStorage.getItem(STORAGE_KEY);
  if (stored && CATALOGUES[stored]) return stored;
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (CATALOGUES[base]) return base;
  }
  return "en";
}

let current = choose();
let plurals = new Intl.PluralRules(current);

export function lang() {
  return current;
}

/** Switch language: remembered for this browser; the page reloads in it. */
export function setLang(code) {
  if (!CATALOGUES[code]) return;
  localStorage.setItem(STORAGE_KEY, code);
  sessionStorage.setItem(SWITCHED_KEY, "1"); // after the reload, focus goes to the view's heading
  location.reload();
}

/** True once after a reload caused by the language switch (then forgotten). */
export function justSwitched() {
  const switched = sessionStorage.getItem(SWITCHED_KEY) === "1";
  sessionStorage.removeItem(SWITCHED_KEY);
  return switched;
}

/** The string for `key` in the current language, with {name} placeholders filled in. */
export function t(key, vars = {}) {
  let text = CATALOGUES[current][key];
  if (text === undefined && typeof vars.n === "number") {
    text = CATALOGUES[current][`${key}.${plurals.select(vars.n)}`] ?? CATALOGUES[current][`${key}.other`];
  }
  if (text === undefined) return `⟦${key}⟧`;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** Fill the page's static words: data-i18n="key" (text) and data-i18n-<attr>="key" (attributes). */
export function translatePage(root = document) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("*")) {
    for (const name of Object.keys(el.dataset)) {
      if (!name.startsWith("i18n") || name === "i18n") continue;
      const attr = name.slice(4).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/^-/, "");
      el.setAttribute(attr, t(el.dataset[name]));
    }
  }
}
