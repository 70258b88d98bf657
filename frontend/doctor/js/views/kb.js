// Knowledge-base management (admins): list stores, browse a store's documents page by page
// (GET /api/v1/kb/stores/{store}/documents?offset&limit) to read or delete them, import files
// (parsed here, sent in batches to POST /api/v1/kb/stores/{store}/documents with a progress bar),
// delete a document by id or a whole store.

import { ApiError, describeError, fieldMessage } from "/common/api.js";
import { confirmDialog } from "/common/dialog.js";
import { $, fill, h, show } from "/common/dom.js";
import { formatNumber, formatTime, onLangChange, t } from "/common/i18n.js";
import { hush, say, sayError } from "/common/ui.js";
import { call } from "../auth.js";
import { batches, DOC_ID, parseFiles, STORE_NAME } from "../kbparse.js";
import { notify } from "../notice.js";
import { openDocument } from "./cards.js";

const MAX_PROBLEMS_SHOWN = 20;
const MAX_WAITS = 5; // per batch, on 429 / 503 with Retry-After
const DOCS_PAGE_SIZE = 20; // the API allows up to 500

let stores = [];
let loaded = false;
let importing = null; // {controller, cancelled}
let problems = [];
let docs = freshDocs();
let docsLoading = 0;

function freshDocs() {
  return { store: "", page: 1, items: [], total: 0, loaded: false };
}

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
  $("#kb-docs-store").addEventListener("change", (event) => browse(event.target.value));
  $("#kb-docs-prev").addEventListener("click", () => {
    if (docs.page > 1) {
      docs.page -= 1;
      loadDocs();
    }
  });
  $("#kb-docs-next").addEventListener("click", () => {
    if (docs.page < docPages()) {
      docs.page += 1;
      loadDocs();
    }
  });
  onLangChange(() => {
    render();
    renderDocs();
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
  docs = freshDocs();
  docsLoading += 1; // answers still on their way are dropped
  for (const id of ["#kb-error", "#kb-import-error", "#kb-doc-error", "#kb-import-status", "#kb-docs-error"]) hush($(id));
  show($("#kb-import-progress-box"), false);
  $("#kb-import").reset();
  $("#kb-doc").reset();
  render();
  renderDocs();
  renderProblems();
}

/** The store list; the document page shown is read again too (counts and pages may have moved). */
async function load() {
  hush($("#kb-error"));
  try {
    const answer = await call("/api/v1/kb/stores");
    stores = Array.isArray(answer.stores) ? answer.stores : [];
    loaded = true;
  } catch (error) {
    sayError($("#kb-error"), error);
  }
  let pending = null;
  if (docs.store && loaded && !stores.some((store) => store.name === docs.store)) {
    docs = freshDocs(); // the store is gone
    docsLoading += 1;
    hush($("#kb-docs-error"));
  } else if (docs.store) {
    pending = loadDocs();
  }
  render();
  renderDocs();
  await pending;
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
          "div",
          { class: "row-actions" },
          h(
            "button",
            {
              type: "button",
              class: "secondary small",
              "aria-label": t("kb.docs.browse_label", { store: store.name }),
              onclick: () => {
                browse(store.name);
                $("#kb-docs-heading").focus();
              },
            },
            t("kb.docs.browse"),
          ),
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
    ),
  );
  if (loaded && !rows.length) rows.push(h("tr", {}, h("td", { colspan: "8", class: "empty" }, t("kb.empty"))));
  fill($("#kb-rows"), rows);
  fill($("#kb-store-names"), stores.map((store) => h("option", { value: store.name })));
  renderStoreChoice();
}

// --- browsing a store's documents -------------------------------------------------------------

function renderStoreChoice() {
  const select = $("#kb-docs-store");
  const names = stores.map((store) => store.name);
  if (docs.store && !names.includes(docs.store)) names.push(docs.store);
  fill(
    select,
    h("option", { value: "" }, t("kb.docs.choose")),
    names.map((name) => h("option", { value: name }, name)),
  );
  select.value = docs.store;
}

function docPages() {
  return Math.max(1, Math.ceil(docs.total / DOCS_PAGE_SIZE));
}

function browse(store) {
  docs = { ...freshDocs(), store };
  hush($("#kb-docs-error"));
  renderStoreChoice();
  if (store) loadDocs();
  else {
    docsLoading += 1;
    renderDocs();
  }
}

async function loadDocs() {
  const ticket = ++docsLoading;
  const { store, page } = docs;
  hush($("#kb-docs-error"));
  $("#kb-docs-table").setAttribute("aria-busy", "true");
  try {
    const answer = await call(`/api/v1/kb/stores/${encodeURIComponent(store)}/documents`, {
      query: { offset: (page - 1) * DOCS_PAGE_SIZE, limit: DOCS_PAGE_SIZE },
    });
    if (ticket !== docsLoading) return;
    docs.items = Array.isArray(answer.documents) ? answer.documents : [];
    docs.total = Number(answer.total) || 0;
    docs.loaded = true;
    if (docs.page > docPages()) {
      // Past the end (documents were deleted meanwhile): the last page instead.
      docs.page = docPages();
      if (docs.total) loadDocs();
    }
  } catch (error) {
    if (ticket !== docsLoading) return;
    docs.items = [];
    docs.total = 0;
    docs.loaded = false;
    sayError($("#kb-docs-error"), error, () => ({ 404: t("kb.docs.store_gone", { store }) }));
  } finally {
    if (ticket === docsLoading) {
      $("#kb-docs-table").setAttribute("aria-busy", "false");
      renderDocs();
    }
  }
}

function renderDocs() {
  const { store, items, total, page } = docs;
  const rows = items.map((doc) => {
    const id = String(doc.id ?? "");
    return h(
      "tr",
      { dataset: { id } },
      h("td", { class: "mono" }, id),
      h("td", {}, String(doc.title ?? "")),
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
              "aria-label": t("kb.docs.view_label", { id }),
              onclick: () => openDocument(store, id, String(doc.title ?? "")),
            },
            t("kb.docs.view"),
          ),
          h(
            "button",
            {
              type: "button",
              class: "danger small",
              "aria-label": t("kb.docs.delete_label", { id }),
              onclick: () => deleteListedDocument(store, id),
            },
            t("common.delete"),
          ),
        ),
      ),
    );
  });
  fill($("#kb-docs-rows"), rows);
  show($("#kb-docs-list"), docs.loaded && rows.length > 0);
  const count = $("#kb-docs-count");
  if (!docs.loaded) count.textContent = "";
  else if (!total) count.textContent = t("kb.docs.none", { store });
  else {
    const from = (page - 1) * DOCS_PAGE_SIZE + 1;
    count.textContent = t("kb.docs.count", { store, total, from, to: from + items.length - 1 });
  }
  $("#kb-docs-page").textContent = docs.loaded ? t("kb.docs.page", { page, pages: docPages() }) : "";
  show($("#kb-docs-pager"), docs.loaded && docPages() > 1);
  $("#kb-docs-prev").disabled = page <= 1;
  $("#kb-docs-next").disabled = page >= docPages();
}

async function deleteListedDocument(store, id) {
  hush($("#kb-docs-error"));
  if (!(await confirmDialog(() => t("kb.doc.confirm", { store, id }), { confirmLabel: () => t("common.delete") }))) return;
  try {
    await call(`/api/v1/kb/stores/${encodeURIComponent(store)}/documents/${encodeURIComponent(id)}`, { method: "DELETE" });
    notify(() => t("kb.doc.deleted", { store, id }));
  } catch (error) {
    sayError($("#kb-docs-error"), error, () => ({ 404: t("kb.doc.not_found") }));
  }
  await load(); // the store's counts, and this page again
  // The row (and the button that had the focus) is gone: keep the keyboard in this section.
  if (!document.activeElement || document.activeElement === document.body) $("#kb-docs-heading").focus();
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
