// The audit log (admins): who read or changed which record, newest first; filter by actor or
// record, and page back in time with `before` (the id of the oldest entry shown).

import { $, fill, h, show } from "/common/dom.js";
import { formatTime, has, onLangChange, t } from "/common/i18n.js";
import { hush, sayError } from "/common/ui.js";
import { call } from "../auth.js";

let entries = [];
let loaded = false;
let more = false;
let filters = { actor: "", record: "", limit: 100 };

export function init() {
  $("#audit-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    filters = {
      actor: $("#audit-actor").value.trim(),
      record: $("#audit-record").value.trim(),
      limit: Number($("#audit-limit").value) || 100,
    };
    load(false);
  });
  $("#audit-more").addEventListener("click", () => load(true));
  onLangChange(render);
}

export function enter() {
  load(false);
}

export function reset() {
  entries = [];
  loaded = false;
  more = false;
  filters = { actor: "", record: "", limit: 100 };
  $("#audit-filters").reset();
  hush($("#audit-error"));
  render();
}

async function load(older) {
  hush($("#audit-error"));
  const before = older && entries.length ? entries[entries.length - 1].id : undefined;
  try {
    const answer = await call("/api/v1/admin/audit", { query: { ...filters, before } });
    const page = Array.isArray(answer.entries) ? answer.entries : [];
    entries = older ? [...entries, ...page] : page;
    more = page.length >= filters.limit;
    loaded = true;
  } catch (error) {
    sayError($("#audit-error"), error, () => ({
      fields: { actor: t("audit.actor"), record: t("audit.record"), limit: t("audit.limit") },
    }));
  }
  render();
}

function render() {
  const rows = entries.map((entry) =>
    h(
      "tr",
      {},
      h("td", { class: "nowrap" }, formatTime(entry.at)),
      h("td", {}, entry.actor),
      h("td", {}, has(`role.${entry.role}`) ? t(`role.${entry.role}`) : entry.role || ""),
      h("td", {}, has(`action.${entry.action}`) ? t(`action.${entry.action}`) : entry.action, h("code", { class: "hint" }, ` ${entry.action}`)),
      h("td", { class: "mono" }, entry.record),
    ),
  );
  if (loaded && !rows.length) rows.push(h("tr", {}, h("td", { colspan: "5", class: "empty" }, t("audit.empty"))));
  fill($("#audit-rows"), rows);
  show($("#audit-more"), more);
}
