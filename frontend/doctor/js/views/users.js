// User administration (admins): list accounts, create one, change a role or a password, delete.

import { describeError, fieldMessage } from "/common/api.js";
import { confirmDialog, modal } from "/common/dialog.js";
import { $, fill, h } from "/common/dom.js";
import { formatTime, onLangChange, t } from "/common/i18n.js";
import { hush, say, sayError } from "/common/ui.js";
import { call, current } from "../auth.js";
import { notify } from "../notice.js";

const USERNAME = /^[a-z0-9][a-z0-9_.-]{2,31}$/;
const MIN_PASSWORD = 10;
const ROLES = ["doctor", "admin"];

let users = [];
let loaded = false;

const context = () => ({
  fields: { username: t("users.username"), password: t("users.password"), role: t("users.role") },
  404: t("users.not_found"),
});

export function init() {
  $("#users-refresh").addEventListener("click", () => load());
  $("#users-create").addEventListener("submit", (event) => {
    event.preventDefault();
    create();
  });
  onLangChange(render);
}

export function enter() {
  load();
}

export function reset() {
  users = [];
  loaded = false;
  hush($("#users-error"));
  hush($("#users-create-error"));
  $("#users-create").reset();
  render();
}

async function load() {
  hush($("#users-error"));
  try {
    const answer = await call("/api/v1/admin/users");
    users = Array.isArray(answer.users) ? answer.users : [];
    loaded = true;
  } catch (error) {
    sayError($("#users-error"), error, context);
  }
  render();
}

function render() {
  const me = current()?.username;
  const rows = users.map((user) => {
    const select = h(
      "select",
      {
        "aria-label": t("users.role_label", { name: user.username }),
        disabled: user.username === me,
        onchange: (event) => changeRole(user, event.target.value),
      },
      ROLES.map((role) => h("option", { value: role, selected: role === user.role }, t(`role.${role}`))),
    );
    return h(
      "tr",
      {},
      h("th", { scope: "row" }, user.username, user.username === me ? h("span", { class: "hint" }, ` ${t("users.you")}`) : null),
      h("td", {}, select),
      h("td", { class: "nowrap" }, user.created_at ? formatTime(user.created_at) : ""),
      h(
        "td",
        {},
        h(
          "div",
          { class: "row-actions" },
          h(
            "button",
            {
              type: "button",
              class: "secondary small",
              "aria-label": t("users.reset_label", { name: user.username }),
              onclick: () => resetPassword(user),
            },
            t("users.reset"),
          ),
          h(
            "button",
            {
              type: "button",
              class: "danger small",
              disabled: user.username === me,
              "aria-label": t("users.delete_label", { name: user.username }),
              onclick: () => remove(user),
            },
            t("common.delete"),
          ),
        ),
      ),
    );
  });
  fill($("#users-rows"), rows);
}

async function create() {
  const errorBox = $("#users-create-error");
  hush(errorBox);
  const username = $("#users-new-name").value.trim().toLowerCase();
  const password = $("#users-new-password").value;
  const role = $("#users-new-role").value;
  if (!USERNAME.test(username)) {
    say(errorBox, () => fieldMessage(t("users.username"), t("users.username_hint")));
    $("#users-new-name").focus();
    return;
  }
  if (password.length < MIN_PASSWORD) {
    say(errorBox, () => fieldMessage(t("users.password"), t("users.password_hint")));
    $("#users-new-password").focus();
    return;
  }
  try {
    await call("/api/v1/admin/users", { method: "POST", json: { username, password, role } });
    $("#users-create").reset();
    notify(() => t("users.created", { name: username }));
    load();
  } catch (error) {
    sayError(errorBox, error, () => ({ ...context(), 409: t("users.taken") }));
  }
}

async function changeRole(user, role) {
  hush($("#users-error"));
  try {
    await call(`/api/v1/admin/users/${encodeURIComponent(user.username)}`, { method: "PATCH", json: { role } });
    notify(() => t("users.role_saved", { name: user.username, role: t(`role.${role}`) }));
  } catch (error) {
    sayError($("#users-error"), error, () => ({ ...context(), 409: t("users.self_conflict") }));
  }
  load();
}

function resetPassword(user) {
  const view = { error: null, busy: false };
  let dialog = null;
  let typed = "";
  dialog = modal({
    title: () => t("users.reset_heading", { name: user.username }),
    build(body, close) {
      const input = h("input", {
        id: "users-reset-password",
        type: "password",
        minlength: String(MIN_PASSWORD),
        maxlength: "256",
        required: true,
        autocomplete: "new-password",
        oninput: (event) => {
          typed = event.target.value;
        },
      });
      input.value = typed;
      const form = h(
        "form",
        {
          class: "stack",
          method: "post",
          action: "/",
          novalidate: true,
          onsubmit: async (event) => {
            event.preventDefault();
            if (typed.length < MIN_PASSWORD) {
              view.error = () => fieldMessage(t("users.new_password"), t("users.password_hint"));
              dialog.rerender();
              return;
            }
            view.busy = true;
            try {
              await call(`/api/v1/admin/users/${encodeURIComponent(user.username)}`, {
                method: "PATCH",
                json: { password: typed },
              });
              close();
              notify(() => t("users.password_saved", { name: user.username }));
            } catch (error) {
              view.error = () => describeError(error, context());
              view.busy = false;
              dialog.rerender();
            }
          },
        },
        h("div", { class: "field" }, h("label", { for: "users-reset-password" }, t("users.new_password")), input),
        view.error ? h("p", { class: "error", role: "alert" }, view.error()) : null,
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "secondary", onclick: close }, t("common.cancel")),
          h("button", { type: "submit", class: "primary", disabled: view.busy }, t("common.save")),
        ),
      );
      body.append(form);
      queueMicrotask(() => input.focus());
    },
  });
}

async function remove(user) {
  hush($("#users-error"));
  if (!(await confirmDialog(() => t("users.confirm_delete", { name: user.username }), { confirmLabel: () => t("common.delete") })))
    return;
  try {
    await call(`/api/v1/admin/users/${encodeURIComponent(user.username)}`, { method: "DELETE" });
    notify(() => t("users.deleted", { name: user.username }));
  } catch (error) {
    sayError($("#users-error"), error, () => ({ ...context(), 409: t("users.self_conflict") }));
  }
  load();
}
