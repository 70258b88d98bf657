// Knowledge-base management (admins): list stores, import files (parsed here, sent in batches to
// POST /api/v1/kb/stores/{store}/documents with a progress bar), delete a document or a store.

import { ApiError, describeError, fieldMessage } from "../common/api.js";
import { confirmDialog } from "../common/dialog.js";
import { $, fill, h, show } from "../common/dom.js";
import { formatNumber, formatTime, onLangChange, t } from "../common/i18n.js";
import { hush, say, sayError } from "../common/ui.js";
import { call } from "../auth.js";
import { batches, DOC_ID, parseFiles, STORE_NAME } from "../kbparse.js";
import { notify } from "../notice.js";

const MAX_PROBLEMS_SHOWN = 20;
const MAX_WAITS = 5; // per batch, on 429 / 503 with Retry-After

let stores = [];
let loaded = false;
let importing = null; // {controller, cancelled}
let problems = [];

export function init() {
  $("#kb-refresh").addEventListener("click", () => load());
  $("#kb-import").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!importing) runImport();
  });
  $("#kb-import-cancel").addEventListener("click", () => {
    if (importing) {
      importing.cancelled = true;
      importing.controller.abort();
    }
  });
  $("#kb-doc").addEventListener("submit", (event) => {
    event.preventDefault();
    deleteDocument();
  });
  onLangChange(() => {
    render();
    renderProblems();
  });
}

export function enter() {
  load();
}

export function reset() {
  importing?.controller.abort();
  importing = null;
  stores = [];
  loaded = false;
  problems = [];
  for (const id of ["#kb-error", "#kb-import-error", "#kb-doc-error", "#kb-import-status"]) hush($(id));
  show($("#kb-import-progress-box"), false);
  $("#kb-import").reset();
  $("#kb-doc").reset();
  render();
  renderProblems();
}

async function load() {
  hush($("#kb-error"));
  try {
    const answer = await call("/api/v1/kb/stores");
    stores = Array.isArray(answer.stores) ? answer.stores : [];
    loaded = true;
  } catch (error) {
    sayError($("#kb-error"), error);
  }
  render();
}

function render() {
  const rows = stores.map((store) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, store.name),
      h("td", { class: "num" }, formatNumber(store.version)),
      h("td", { class: "num" }, formatNumber(store.documents)),
      h("td", { class: "num" }, formatNumber(store.chunks)),
      h("td", {}, store.index_type),
      h("td", { class: "small-text" }, store.embedder),
      h("td", { class: "nowrap" }, store.built_at ? formatTime(store.built_at) : ""),
      h(
        "td",
        {},
        h(
          "button",
          {
            type: "button",
            class: "danger small",
            "aria-label": t("kb.delete_store_label", { store: store.name }),
            onclick: () => deleteStore(store.name),
          },
          t("kb.delete_store"),
        ),
      ),
    ),
  );
  if (loaded && !rows.length) rows.push(h("tr", {}, h("td", { colspan: "8", class: "empty" }, t("kb.empty"))));
  fill($("#kb-rows"), rows);
  fill($("#kb-store-names"), stores.map((store) => h("option", { value: store.name })));
}

async function deleteStore(name) {
  hush($("#kb-error"));
  if (!(await confirmDialog(() => t("kb.confirm_delete_store", { store: name }), { confirmLabel: () => t("kb.delete_store") })))
    return;
  try {
    await call(`/api/v1/kb/stores/${encodeURIComponent(name)}`, { method: "DELETE" });
    notify(() => t("kb.deleted_store", { store: name }));
  } catch (error) {
    sayError($("#kb-error"), error);
  }
  load();
}

async function deleteDocument() {
  const errorBox = $("#kb-doc-error");
  hush(errorBox);
  const store = $("#kb-doc-store").value.trim();
  const id = $("#kb-doc-id").value.trim();
  if (!STORE_NAME.test(store)) {
    say(errorBox, () => fieldMessage(t("kb.doc.store"), t("err.field.pattern")));
    $("#kb-doc-store").focus();
    return;
  }
  if (!DOC_ID.test(id)) {
    say(errorBox, () => fieldMessage(t("kb.doc.id"), t("err.field.pattern")));
    $("#kb-doc-id").focus();
    return;
  }
  if (!(await confirmDialog(() => t("kb.doc.confirm", { store, id }), { confirmLabel: () => t("common.delete") }))) return;
  try {
    await call(`/api/v1/kb/stores/${encodeURIComponent(store)}/documents/${encodeURIComponent(id)}`, { method: "DELETE" });
    notify(() => t("kb.doc.deleted", { store, id }));
    $("#kb-doc-id").value = "";
    load();
  } catch (error) {
    sayError(errorBox, error, () => ({ 404: t("kb.doc.not_found") }));
  }
}

// --- import -------------------------------------------------------------------------------------

function renderProblems() {
  const box = $("#kb-import-problems");
  if (!problems.length) {
    fill(box);
    show(box, false);
    return;
  }
  const shown = problems.slice(0, MAX_PROBLEMS_SHOWN).map((problem) => {
    const where = problem.line ? t("parse.location", { file: problem.file, line: problem.line }) : problem.file;
    return h("li", {}, `${where}: ${t(problem.key, problem.vars || {})}`);
  });
  if (problems.length > MAX_PROBLEMS_SHOWN) {
    shown.push(h("li", {}, t("kb.import.more", { count: problems.length - MAX_PROBLEMS_SHOWN })));
  }
  fill(box, h("p", {}, t("kb.import.skipped", { count: problems.length })), h("ul", {}, shown));
  show(box, true);
}

function progress(done, total) {
  const bar = $("#kb-import-progress");
  bar.max = Math.max(total, 1);
  bar.value = done;
  say($("#kb-import-status"), () => t("kb.import.progress", { done, total }));
}

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new DOMException("aborted", "AbortError"));
    });
  });

async function send(store, batch, signal) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await call(`/api/v1/kb/stores/${encodeURIComponent(store)}/documents`, {
        method: "POST",
        json: { documents: batch },
        signal,
      });
    } catch (error) {
      const wait =
        error instanceof ApiError && (error.status === 429 || error.status === 503) && attempt < MAX_WAITS
          ? error.retryAfter ?? 2
          : null;
      if (wait === null || wait > 120) throw error;
      say($("#kb-import-status"), () => describeError(error));
      await sleep(wait * 1000, signal);
    }
  }
}

async function runImport() {
  const errorBox = $("#kb-import-error");
  hush(errorBox);
  problems = [];
  renderProblems();
  const store = $("#kb-import-store").value.trim();
  const files = Array.from($("#kb-import-file").files || []);
  if (!STORE_NAME.test(store)) {
    say(errorBox, () => t("kb.import.need_store"));
    $("#kb-import-store").focus();
    return;
  }
  if (!files.length) {
    say(errorBox, () => t("kb.import.need_file"));
    $("#kb-import-file").focus();
    return;
  }
  const job = { controller: new AbortController(), cancelled: false };
  importing = job;
  const submit = $("#kb-import-submit");
  submit.disabled = true;
  show($("#kb-import-cancel"), true);
  show($("#kb-import-progress-box"), true);
  $("#kb-import-progress").removeAttribute("value"); // indeterminate while reading
  say($("#kb-import-status"), () => t("kb.import.parsing"));

  let done = 0;
  try {
    const parsed = await parseFiles(files);
    const split = batches(parsed.documents);
    problems = [
      ...parsed.problems,
      ...split.tooLarge.map(({ document }) => ({ file: document.id, line: null, key: "parse.too_large" })),
    ];
    renderProblems();
    const total = split.batches.reduce((sum, batch) => sum + batch.length, 0);
    if (!total) {
      show($("#kb-import-progress-box"), false);
      say(errorBox, () => t("kb.import.none"));
      return;
    }
    progress(0, total);
    for (const batch of split.batches) {
      if (job.cancelled) break;
      try {
        await send(store, batch, job.controller.signal);
      } catch (error) {
        if (error?.name === "AbortError") break;
        const from = done + 1;
        const to = done + batch.length;
        const finished = done;
        const context = () => ({
          fields: { documents: t("kb.import.file"), id: "id", title: "title", text: "text", metadata: "metadata" },
        });
        say(errorBox, () => t("kb.import.failed", { from, to, done: finished, error: describeError(error, context()) }));
        return;
      }
      done += batch.length;
      progress(done, total);
    }
    if (job.cancelled) say($("#kb-import-status"), () => t("kb.import.cancelled", { done }));
    else {
      const count = done;
      say($("#kb-import-status"), () => t("kb.import.done", { count, store }));
      $("#kb-import-file").value = "";
    }
  } catch (error) {
    sayError(errorBox, error);
  } finally {
    if (importing === job) importing = null;
    submit.disabled = false;
    show($("#kb-import-cancel"), false);
    if (done) load();
  }
}
