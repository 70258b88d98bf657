// Modal dialogs on the native <dialog> element: focus moves in and is trapped, Esc closes, and
// focus returns to what opened it. An open dialog is rebuilt in the new language on a switch.
// Shared by both UIs (frontend/common, served at /common/).

import { h } from "./dom.js";
import { onLangChange, t } from "./i18n.js";

let counter = 0;
const open = new Set();

const text = (value) => (typeof value === "function" ? value() : value);

onLangChange(() => {
  for (const entry of open) entry.render();
});

/**
 * modal({title, className, build(body, close)}) opens a dialog; returns {dialog, body, close}.
 * `title` is a string or a function returning one; `build` fills the body and is run again on a
 * language switch, so it should build from state rather than from the DOM.
 */
export function modal({ title, className = "", build }) {
  counter += 1;
  const headingId = `dialog-heading-${counter}`;
  const opener = document.activeElement;
  const heading = h("h2", { id: headingId });
  const body = h("div", { class: "dialog-body" });
  const closeButton = h("button", { type: "button", class: "dialog-close secondary" });
  const dialog = h(
    "dialog",
    { class: `dialog ${className}`.trim(), "aria-labelledby": headingId },
    h("div", { class: "dialog-header" }, heading, closeButton),
    body,
  );
  const close = () => {
    if (dialog.open) dialog.close();
  };
  const entry = {
    render() {
      heading.textContent = text(title);
      closeButton.textContent = t("common.close");
      body.replaceChildren();
      if (build) build(body, close);
    },
  };
  closeButton.addEventListener("click", close);
  // A click on the backdrop (outside the dialog box) closes, as Esc does.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) close();
  });
  dialog.addEventListener("close", () => {
    open.delete(entry);
    dialog.remove();
    if (opener && typeof opener.focus === "function" && document.contains(opener)) opener.focus();
  });
  document.body.append(dialog);
  entry.render();
  open.add(entry);
  dialog.showModal();
  return { dialog, body, close, rerender: () => entry.render() };
}

/** Ask before something that cannot be undone; resolves to true when confirmed. */
export function confirmDialog(message, { confirmLabel = () => t("common.confirm"), danger = true } = {}) {
  return new Promise((resolve) => {
    let answer = false;
    let first = true;
    const { dialog } = modal({
      title: () => t("common.confirm_heading"),
      className: "dialog-confirm",
      build(body, close) {
        const cancel = h("button", { type: "button", class: "secondary", onclick: close }, t("common.cancel"));
        const ok = h(
          "button",
          {
            type: "button",
            class: danger ? "danger" : "primary",
            onclick: () => {
              answer = true;
              close();
            },
          },
          text(confirmLabel),
        );
        body.append(h("p", {}, text(message)), h("div", { class: "actions" }, cancel, ok));
        if (first) queueMicrotask(() => cancel.focus());
        first = false;
      },
    });
    dialog.addEventListener("close", () => resolve(answer));
  });
}
