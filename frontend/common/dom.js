// DOM building without HTML strings: every piece of text becomes a text node (textContent), so
// nothing the API returns can ever be parsed as markup. Shared by both UIs
// (frontend/common, served at /common/).

/**
 * h("button", {class: "primary", type: "button", onclick: fn}, "Text", otherNode, [more])
 * Props: class, text, dataset (object), on<event> (function), hidden/disabled/... (booleans),
 * anything else goes through setAttribute. Children: strings and numbers become text nodes;
 * null, undefined and false are skipped; arrays are flattened.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

/** Show or hide with the hidden attribute (the CSS never overrides it). */
export function show(el, visible = true) {
  el.hidden = !visible;
}

/** Disable a button for `seconds`, e.g. until a Retry-After has passed. */
export function cooldown(button, seconds) {
  if (!button || !(seconds > 0)) return;
  button.disabled = true;
  const until = Date.now() + seconds * 1000;
  const previous = Number(button.dataset.cooldownUntil || 0);
  button.dataset.cooldownUntil = String(Math.max(until, previous));
  setTimeout(() => {
    if (Date.now() >= Number(button.dataset.cooldownUntil || 0)) {
      button.disabled = false;
      delete button.dataset.cooldownUntil;
    }
  }, seconds * 1000 + 50);
}

/** True while a cooldown() keeps the button disabled. */
export function coolingDown(button) {
  return Number(button?.dataset.cooldownUntil || 0) > Date.now();
}

/**
 * Text with citation markers like [1] or [2][3]: the markers become buttons calling onCite(n).
 * Only text nodes and buttons are created.
 */
export function citedText(text, onCite, labelFor) {
  const fragment = document.createDocumentFragment();
  const pattern = /\[(\d{1,3})\]/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) fragment.append(document.createTextNode(text.slice(last, match.index)));
    const number = Number(match[1]);
    fragment.append(
      h(
        "button",
        { type: "button", class: "cite", "aria-label": labelFor(number), onclick: () => onCite(number) },
        `[${number}]`,
      ),
    );
    last = match.index + match[0].length;
  }
  if (last < text.length) fragment.append(document.createTextNode(text.slice(last)));
  return fragment;
}
