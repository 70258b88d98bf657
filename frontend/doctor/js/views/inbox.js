// The consultation inbox: summaries patients submitted, newest first; filter by department and
// status, open one, mark it seen or done (GET/POST /api/v1/consultations...).
//
// The department filter offers the taxonomy (GET /api/v1/departments), labelled in the UI's
// language; its value is always the taxonomy's Chinese name, which is what records carry (triage
// stores the taxonomy name) and what the API filters on.

import { ApiError, describeError } from "/common/api.js";
import { modal } from "/common/dialog.js";
import { $, fill, h, show } from "/common/dom.js";
import { formatNumber, formatTime, has, lang, onLangChange, t } from "/common/i18n.js";
import { hush, sayError } from "/common/ui.js";
import { call } from "../auth.js";
import { openDiseaseCard } from "./cards.js";

const PAGE_SIZE = 20;
const STATUSES = ["new", "seen", "done"];

let state = fresh();
let taxonomy = []; // [{name, name_en}] from the service
let taxonomyLoaded = false;
const seenDepartments = new Set(); // in records but not in the taxonomy (older records)
let loading = 0;

function fresh() {
  return { page: 1, department: "", status: "", items: [], total: 0, loaded: false };
}

export function init() {
  $("#inbox-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    state.department = $("#inbox-department").value;
    state.status = $("#inbox-status").value;
    state.page = 1;
    load();
  });
  $("#inbox-refresh").addEventListener("click", () => load());
  $("#inbox-prev").addEventListener("click", () => {
    if (state.page > 1) {
      state.page -= 1;
      load();
    }
  });
  $("#inbox-next").addEventListener("click", () => {
    if (state.page < pages()) {
      state.page += 1;
      load();
    }
  });
  onLangChange(() => {
    renderDepartments();
    render();
  });
}

export function enter() {
  if (!taxonomyLoaded) loadDepartments();
  load();
}

export function reset() {
  state = fresh();
  seenDepartments.clear();
  $("#inbox-department").value = "";
  $("#inbox-status").value = "";
  hush($("#inbox-error"));
  renderDepartments();
  render();
}

async function loadDepartments() {
  try {
    const answer = await call("/api/v1/departments");
    taxonomy = (Array.isArray(answer.departments) ? answer.departments : [])
      .filter((d) => d && typeof d.name === "string" && d.name)
      .map((d) => ({ name: d.name, name_en: typeof d.name_en === "string" ? d.name_en : "" }));
    taxonomyLoaded = true;
  } catch {
    // Without it the filter still offers the departments of the records seen; tried again next time.
  }
  renderDepartments();
  render();
}

/** A department's name in the UI's language (records carry the taxonomy's Chinese name). */
function departmentLabel(name) {
  if (lang() !== "en") return name;
  return taxonomy.find((d) => d.name === name)?.name_en || name;
}

function renderDepartments() {
  const select = $("#inbox-department");
  const chosen = select.value || state.department;
  const known = new Set(taxonomy.map((d) => d.name));
  const extra = [...seenDepartments, chosen].filter((name) => name && !known.has(name));
  fill(
    select,
    h("option", { value: "" }, t("inbox.department_all")),
    taxonomy.map((d) => h("option", { value: d.name }, departmentLabel(d.name))),
    [...new Set(extra)].sort().map((name) => h("option", { value: name }, name)),
  );
  select.value = chosen;
}

function pages() {
  return Math.max(1, Math.ceil(state.total / PAGE_SIZE));
}

async function load() {
  const ticket = ++loading;
  hush($("#inbox-error"));
  $("#inbox-table").setAttribute("aria-busy", "true");
  try {
    const page = await call("/api/v1/consultations", {
      query: { department: state.department, status: state.status, page: state.page, page_size: PAGE_SIZE },
    });
    if (ticket !== loading) return;
    state.items = Array.isArray(page.items) ? page.items : [];
    state.total = Number(page.total) || 0;
    state.loaded = true;
    const known = new Set(taxonomy.map((d) => d.name));
    let added = false;
    for (const item of state.items) {
      if (typeof item.department === "string" && item.department && !known.has(item.department)) {
        added = !seenDepartments.has(item.department) || added;
        seenDepartments.add(item.department);
      }
    }
    if (added) renderDepartments();
    if (state.page > pages()) {
      state.page = pages();
      if (state.total) load();
    }
  } catch (error) {
    if (ticket !== loading) return;
    sayError($("#inbox-error"), error, () => ({ fields: { department: t("inbox.department"), status: t("inbox.status") } }));
  } finally {
    if (ticket === loading) {
      $("#inbox-table").setAttribute("aria-busy", "false");
      render();
    }
  }
}

const complaintOf = (item) => String(item.summary?.collected?.chief_complaint ?? "");
const statusText = (status) => (STATUSES.includes(status) ? t(`status.${status}`) : String(status));

function statusBadge(status) {
  return h("span", { class: `status status-${STATUSES.includes(status) ? status : "other"}` }, statusText(status));
}

function render() {
  const rows = state.items.map((item) => {
    const emergency = Boolean(item.summary?.triage?.emergency);
    const complaint = complaintOf(item);
    const time = formatTime(item.created_at);
    return h(
      "tr",
      { class: [emergency ? "row-emergency" : "", item.status === "new" ? "row-new" : ""].join(" ").trim(), dataset: { id: item.id } },
      h("td", { class: "nowrap" }, time),
      h("td", {}, departmentLabel(item.department || "")),
      h(
        "td",
        { class: "complaint" },
        emergency ? h("span", { class: "badge badge-danger" }, t("inbox.emergency")) : null,
        " ",
        complaint.length > 80 ? `${complaint.slice(0, 79)}…` : complaint,
      ),
      h("td", {}, statusBadge(item.status)),
      h(
        "td",
        {},
        h(
          "button",
          {
            type: "button",
            class: "secondary small",
            "aria-label": t("inbox.open_label", { time, complaint: complaint.slice(0, 40) }),
            onclick: () => openConsultation(item.id),
          },
          t("inbox.open"),
        ),
      ),
    );
  });
  if (state.loaded && !rows.length) {
    rows.push(h("tr", {}, h("td", { colspan: "5", class: "empty" }, t("inbox.empty"))));
  }
  fill($("#inbox-rows"), rows);
  $("#inbox-count").textContent = state.loaded ? t("inbox.count", { total: state.total }) : "";
  $("#inbox-page").textContent = state.loaded ? t("inbox.page", { page: state.page, pages: pages() }) : "";
  show($("#inbox-pager"), state.loaded && pages() > 1);
  $("#inbox-prev").disabled = state.page <= 1;
  $("#inbox-next").disabled = state.page >= pages();
}

function updateItem(record) {
  const index = state.items.findIndex((item) => item.id === record.id);
  if (index >= 0) {
    if (state.status && record.status !== state.status) {
      state.items.splice(index, 1);
      state.total = Math.max(0, state.total - 1);
    } else state.items[index] = record;
  }
  render();
}

// --- one summary ---------------------------------------------------------------------------

export function openConsultation(id) {
  const view = { record: null, error: null, busy: false, message: null, actionError: null };
  let dialog = null;

  const setStatus = async (status) => {
    view.busy = true;
    view.actionError = null;
    view.message = null;
    dialog.rerender();
    try {
      view.record = await call(`/api/v1/consultations/${encodeURIComponent(id)}/status`, {
        method: "POST",
        json: { status },
      });
      view.message = status;
      updateItem(view.record);
    } catch (error) {
      view.actionError = error;
    } finally {
      view.busy = false;
      dialog.rerender();
    }
  };

  dialog = modal({
    title: () => t("cons.heading"),
    className: "dialog-wide dialog-consultation",
    build(body) {
      if (view.error) {
        const gone = view.error instanceof ApiError && view.error.status === 404;
        body.append(h("p", { class: "error", role: "alert" }, gone ? t("cons.not_found") : describeError(view.error)));
        return;
      }
      if (!view.record) {
        body.append(h("p", { class: "hint", role: "status" }, t("common.loading")));
        return;
      }
      body.append(renderRecord(view.record));
      const actions = h(
        "div",
        { class: "actions sticky-actions" },
        [
          ["seen", "cons.mark_seen", "primary"],
          ["done", "cons.mark_done", "primary"],
          ["new", "cons.mark_new", "secondary"],
        ].map(([status, label, kind]) =>
          h(
            "button",
            {
              type: "button",
              class: kind,
              disabled: view.busy || view.record.status === status,
              onclick: () => setStatus(status),
            },
            t(label),
          ),
        ),
      );
      body.append(actions);
      if (view.message) body.append(h("p", { class: "success", role: "status" }, t("cons.marked", { status: statusText(view.message) })));
      if (view.actionError) body.append(h("p", { class: "error", role: "alert" }, describeError(view.actionError)));
    },
  });

  call(`/api/v1/consultations/${encodeURIComponent(id)}`)
    .then((record) => {
      view.record = record;
    })
    .catch((error) => {
      view.error = error;
      if (error instanceof ApiError && error.status === 404) {
        state.items = state.items.filter((item) => item.id !== id);
        render();
      }
    })
    .finally(() => dialog.rerender());
}

function field(label, value) {
  if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return null;
  return [h("dt", {}, label), h("dd", {}, value)];
}

const joiner = () => (lang() === "en" ? ", " : "、");

function scored(items, linkToCard = false) {
  return h(
    "ul",
    { class: "plain-list" },
    (items || []).map((item) =>
      h(
        "li",
        {},
        linkToCard
          ? h(
              "button",
              {
                type: "button",
                class: "link",
                "aria-label": t("qa.entity_card", { name: item.name }),
                onclick: () => openDiseaseCard(item.name),
              },
              item.name,
            )
          : item.name,
        Number.isFinite(item.score) ? h("span", { class: "score" }, ` ${formatNumber(item.score * 100, 0)}%`) : null,
      ),
    ),
  );
}

// The patient's part of a summary. Format 2 (slot filling) says what was said, what was denied and
// what was not asked or not answered; older records (no "format") hold only "collected", with
// history and allergies as text. Both stay readable.
const SLOT_ORDER = [
  "chief_complaint", "subject", "sites", "duration", "severity", "symptoms", "age", "sex", "pregnant",
  "past_illnesses", "allergies", "medications",
];

const slotLabel = (name) => (has(`slot.${name}`) ? t(`slot.${name}`) : String(name));
const listOf = (value) => (Array.isArray(value) ? value.map((item) => String(item ?? "")).filter(Boolean) : []);

function symptomNames(summary, names) {
  const english = lang() === "en" && summary.names_en && typeof summary.names_en === "object" ? summary.names_en : {};
  return listOf(names).map((name) => (typeof english[name] === "string" && english[name] ? english[name] : name));
}

function slotValue(summary, name, value) {
  if (value === null || value === undefined) return null;
  switch (name) {
    case "sites":
      return (Array.isArray(value) ? value : [])
        .map((site) => (site && typeof site === "object" ? (lang() === "en" ? site.en : site.zh) || site.code : site))
        .filter(Boolean)
        .join(joiner());
    case "duration": {
      const text = typeof value === "object" ? String(value.text ?? "") : String(value);
      const days = typeof value === "object" ? Number(value.days) : NaN;
      return Number.isFinite(days) && days > 0
        ? `${text} (${t("cons.days", { n: formatNumber(days, days < 1 ? 1 : 0) })})`
        : text;
    }
    case "severity": {
      if (typeof value !== "object") return String(value);
      const score = Number.isFinite(Number(value.score)) ? `${value.score}/10` : "";
      const words = value.text && String(value.text) !== String(value.score) ? String(value.text) : "";
      return [score, words ? `(${words})` : ""].filter(Boolean).join(" ");
    }
    case "symptoms":
      return symptomNames(summary, value).join(joiner());
    case "age":
      return Number.isFinite(Number(value)) ? formatNumber(Number(value), 2) : String(value);
    case "sex":
      return value === "male" || value === "female" ? t(`sex.${value}`) : String(value);
    case "pregnant":
      return value === true ? t("cons.pregnant_yes") : String(value);
    case "subject":
      return has(`subject.${value}`) ? t(`subject.${value}`) : String(value);
    default:
      return Array.isArray(value) ? listOf(value).join(joiner()) : String(value);
  }
}

function renderSlots(summary) {
  const said = summary.said && typeof summary.said === "object" ? summary.said : {};
  const denied = summary.denied && typeof summary.denied === "object" ? summary.denied : {};
  const notAnswered = summary.not_answered && typeof summary.not_answered === "object" ? summary.not_answered : {};
  const known = [...SLOT_ORDER, ...Object.keys(said).filter((name) => !SLOT_ORDER.includes(name))];
  const deniedSlots = listOf(denied.slots);
  const labels = (names) => listOf(names).map(slotLabel).join(joiner());
  const unanswered = [
    labels(notAnswered.slots),
    symptomNames(summary, notAnswered.symptoms).length
      ? `${t("slot.symptoms")}: ${symptomNames(summary, notAnswered.symptoms).join(joiner())}`
      : "",
  ].filter(Boolean);
  const llm = listOf(summary.filled_by_llm);
  const deniedFacts = [
    field(t("slot.symptoms"), symptomNames(summary, denied.symptoms).join(joiner())),
    deniedSlots.map((name) => field(slotLabel(name), t(name === "pregnant" ? "cons.not_pregnant" : "cons.none"))),
  ].flat(Infinity).filter(Boolean);
  const gapFacts = [
    field(t("cons.not_answered"), unanswered.join("; ")),
    field(t("cons.not_asked"), labels(summary.not_asked)),
  ].flat(Infinity).filter(Boolean);
  // A section with nothing in it says so: "nothing denied" is itself something a doctor reads.
  const section = (className, facts) =>
    facts.length ? h("dl", { class: `facts ${className}` }, facts) : h("p", { class: `hint ${className}` }, t("cons.nothing"));
  return [
    h("h3", {}, t("cons.said")),
    h(
      "dl",
      { class: "facts facts-said" },
      known.map((name) => field(slotLabel(name), slotValue(summary, name, said[name]))),
      field(t("cons.conflicting"), symptomNames(summary, summary.conflicting).join(joiner())),
      field(t("cons.notes"), summary.collected?.notes),
    ),
    h("h3", {}, t("cons.denied")),
    section("facts-denied", deniedFacts),
    h("h3", {}, t("cons.gaps")),
    section("facts-gaps", gapFacts),
    llm.length ? h("p", { class: "hint" }, t("cons.filled_by_llm", { slots: labels(llm) })) : null,
  ];
}

function renderLegacy(collected, sex) {
  return [
    h("h3", {}, t("cons.patient")),
    h(
      "dl",
      { class: "facts" },
      field(t("cons.chief_complaint"), collected.chief_complaint),
      field(t("cons.duration"), collected.duration),
      field(t("cons.severity"), collected.severity === null || collected.severity === undefined ? null : String(collected.severity)),
      field(t("cons.symptoms"), (collected.symptoms || []).join(joiner())),
      field(t("cons.denied_symptoms"), (collected.denied_symptoms || []).join(joiner())),
      field(t("cons.age"), collected.age === null || collected.age === undefined ? null : formatNumber(collected.age, 2)),
      field(t("cons.sex"), sex),
      field(t("cons.history"), collected.history),
      field(t("cons.allergies"), collected.allergies),
      field(t("cons.notes"), collected.notes),
    ),
  ];
}

function renderRecord(record) {
  const summary = record.summary || {};
  const collected = summary.collected || {};
  const triage = summary.triage || null;
  const sex = collected.sex === "male" || collected.sex === "female" ? t(`sex.${collected.sex}`) : collected.sex;
  const language = has(`lang.${summary.language}`) ? t(`lang.${summary.language}`) : summary.language;
  const parts = [
    h(
      "p",
      { class: "meta" },
      t("cons.meta", { id: record.id, time: formatTime(record.created_at), department: departmentLabel(record.department || "") }),
      " · ",
      statusBadge(record.status),
    ),
  ];
  if (triage?.emergency) parts.push(h("div", { class: "banner-emergency" }, t("cons.emergency")));
  parts.push(...(Number(summary.format) >= 2 ? renderSlots(summary) : renderLegacy(collected, sex)));
  parts.push(h("dl", { class: "facts" }, field(t("cons.language"), language)));
  if (triage) {
    parts.push(
      h("h3", {}, t("cons.triage")),
      h(
        "dl",
        { class: "facts" },
        field(t("cons.red_flags"), (triage.red_flags || []).map((flag) => flag.name).join(joiner())),
        field(t("cons.departments"), (triage.departments || []).length ? scored(triage.departments) : null),
        field(t("cons.conditions"), (triage.possible_conditions || []).length ? scored(triage.possible_conditions, true) : null),
        field(t("cons.advice"), triage.advice ? h("div", { class: "pre" }, triage.advice) : null),
      ),
    );
  }
  const transcript = summary.transcript || [];
  if (transcript.length) {
    parts.push(
      h("h3", {}, t("cons.transcript")),
      h(
        "ol",
        { class: "transcript" },
        transcript.map((message) =>
          h(
            "li",
            { class: `msg msg-${message.role === "patient" ? "patient" : "assistant"}` },
            h("span", { class: "speaker" }, t(message.role === "patient" ? "speaker.patient" : "speaker.assistant")),
            h("span", { class: "pre" }, message.text),
          ),
        ),
      ),
    );
  }
  return h("div", { class: "consultation" }, parts);
}

