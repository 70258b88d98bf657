// Messages shown in an element (errors, confirmations) that follow a language switch: the element
// keeps a function that renders its text. Shared by both UIs (frontend/common).

import { describeError } from "./api.js";
import { onLangChange } from "./i18n.js";

const speaking = new Map();

onLangChange(() => {
  for (const [el, render] of speaking) el.textContent = render();
});

/** Show render() in el (and again after each language switch). */
export function say(el, render) {
  if (!el) return;
  speaking.set(el, render);
  el.textContent = render();
  el.hidden = false;
}

/** Empty and hide el. */
export function hush(el) {
  if (!el) return;
  speaking.delete(el);
  el.textContent = "";
  el.hidden = true;
}

/** Show the message for an API error; context() gives describeError's context (field labels...). */
export function sayError(el, error, context = () => ({})) {
  if (error?.name === "AbortError") return;
  say(el, () => describeError(error, context()));
}
