// UI strings in two languages: Chinese by default, English on request; the choice is kept in
// localStorage. Static markup names its strings with data-i18n="key" (text) and
// data-i18n-attr="attribute:key;attribute:key"; code calls t("key", {vars}).
// Shared by both UIs (frontend/common, served at /common/).

export const LANGUAGES = ["zh", "en"];
const HTML_LANG = { zh: "zh-CN", en: "en" };

let dictionaries = { zh: {}, en: {} };
let storageKey = "medqa.lang";
let current = "zh";
const listeners = new Set();

export function setupI18n(dicts, key) {
  dictionaries = dicts;
  storageKey = key;
  let saved = null;
  try {
    saved = localStorage.getItem(storageKey);
  } catch {
    saved = null; // storage disabled: Chinese, the default
  }
  current = LANGUAGES.includes(saved) ? saved : "zh";
  applyLanguage();
}

export function lang() {
  return current;
}

/** The locale for dates and numbers. */
export function locale() {
  return current === "zh" ? "zh-CN" : "en-GB";
}

export function t(key, vars = {}) {
  let text = dictionaries[current]?.[key] ?? dictionaries.zh?.[key];
  if (text === undefined) {
    console.warn(`missing UI string: ${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** Whether a key exists (for optional translations, e.g. of codes the API may add later). */
export function has(key) {
  return key in (dictionaries[current] || {}) || key in (dictionaries.zh || {});
}

export function setLang(next) {
  if (!LANGUAGES.includes(next) || next === current) return;
  current = next;
  try {
    localStorage.setItem(storageKey, next);
  } catch {
    // not remembered, but still switched
  }
  applyLanguage();
  for (const listener of listeners) listener(current);
}

export function onLangChange(listener) {
  listeners.add(listener);
}

/** Translate the static markup under root. */
export function translate(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attribute, key] = pair.split(":").map((s) => s.trim());
      if (attribute && key) el.setAttribute(attribute, t(key));
    }
  }
}

function applyLanguage() {
  document.documentElement.lang = HTML_LANG[current];
  translate(document);
  const title = document.querySelector("title[data-i18n]");
  if (title) document.title = title.textContent;
}

/** A button that switches to the other language; labelled in the language it switches to. */
export function bindLanguageToggle(button) {
  const render = () => {
    const other = current === "zh" ? "en" : "zh";
    button.textContent = t("lang.switch");
    button.setAttribute("lang", HTML_LANG[other]);
    button.setAttribute("aria-label", t("lang.switch_label"));
  };
  button.addEventListener("click", () => setLang(current === "zh" ? "en" : "zh"));
  onLangChange(render);
  render();
}

export function formatTime(seconds) {
  if (!Number.isFinite(seconds)) return "";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(
    new Date(seconds * 1000),
  );
}

export function formatClock(date) {
  return new Intl.DateTimeFormat(locale(), { timeStyle: "medium" }).format(date);
}

export function formatNumber(value, digits = 0) {
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(value);
}
