// Cache statistics (admins): GET /api/v1/admin/cache/stats, and flushing one kind or all.

import { confirmDialog } from "/common/dialog.js";
import { $, fill, h } from "/common/dom.js";
import { formatNumber, has, onLangChange, t } from "/common/i18n.js";
import { hush, sayError } from "/common/ui.js";
import { call } from "../auth.js";
import { notify } from "../notice.js";

const COLUMNS = [
  "l1_hits",
  "l1_misses",
  "l2_hits",
  "l2_misses",
  "computes",
  "coalesced_in_worker",
  "coalesced_across_workers",
];

let stats = null;

const kindName = (kind) => (has(`kind.${kind}`) ? t(`kind.${kind}`) : kind);

export function init() {
  $("#cache-refresh").addEventListener("click", () => load());
  $("#cache-flush-all").addEventListener("click", () => flush(null));
  onLangChange(render);
}

export function enter() {
  load();
}

export function reset() {
  stats = null;
  hush($("#cache-error"));
  render();
}

async function load() {
  hush($("#cache-error"));
  try {
    stats = await call("/api/v1/admin/cache/stats");
  } catch (error) {
    sayError($("#cache-error"), error);
  }
  render();
}

function stat(label, value) {
  return h("div", { class: "stat" }, h("dt", {}, label), h("dd", {}, value));
}

function render() {
  if (!stats) {
    fill($("#cache-summary"));
    fill($("#cache-rows"));
    return;
  }
  const l2 = has(`l2.${stats.l2_state}`) ? t(`l2.${stats.l2_state}`) : stats.l2_state;
  fill(
    $("#cache-summary"),
    stat(t("cache.service"), stats.service),
    stat(t("cache.status"), t(stats.enabled ? "cache.enabled" : "cache.disabled")),
    stat(t("cache.l1_entries"), formatNumber(stats.l1_entries)),
    stat(t("cache.l1_max"), formatNumber(stats.l1_max_entries_per_worker)),
    stat(t("cache.l1_evictions"), formatNumber(stats.l1_evictions)),
    stat(t("cache.l2_state"), h("span", { class: `status l2-${stats.l2_state}` }, l2)),
    stat(t("cache.l2_errors"), formatNumber(stats.l2_errors)),
    stat(t("cache.l2_oversize"), formatNumber(stats.l2_skipped_oversize)),
  );
  const rows = Object.entries(stats.kinds || {}).map(([kind, values]) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, kindName(kind)),
      COLUMNS.map((column) => h("td", { class: "num" }, formatNumber(Number(values[column]) || 0))),
      h("td", { class: "num" }, `${formatNumber((Number(values.hit_ratio) || 0) * 100, 1)}%`),
      h(
        "td",
        {},
        h(
          "button",
          {
            type: "button",
            class: "secondary small",
            "aria-label": t("cache.flush_label", { kind: kindName(kind) }),
            onclick: () => flush(kind),
          },
          t("cache.flush"),
        ),
      ),
    ),
  );
  fill($("#cache-rows"), rows);
}

async function flush(kind) {
  hush($("#cache-error"));
  const name = () => kindName(kind ?? "all");
  if (!(await confirmDialog(() => t("cache.confirm_flush", { kind: name() }), { confirmLabel: () => t("cache.flush") }))) return;
  try {
    const result = await call("/api/v1/admin/cache/flush", { method: "POST", json: kind ? { kind } : {} });
    notify(() => t("cache.flushed", { kind: name(), l1: result.l1_removed, l2: result.l2_removed }));
  } catch (error) {
    sayError($("#cache-error"), error);
  }
  load();
}
