// The patient portal: the pre-consultation dialogue (POST /api/v1/sessions, then messages, submit,
// erase), its triage result with an emergency banner for red flags, and health questions
// (POST /api/v1/health/qa). The session token stays in this tab's sessionStorage and is sent as
// a bearer token; it never appears in a URL.

import { ApiError, apiFetch } from "/common/api.js";
import { confirmDialog } from "/common/dialog.js";
import { $, $$, cooldown, fill, h, show } from "/common/dom.js";
import { bindLanguageToggle, lang, onLangChange, setupI18n, t } from "/common/i18n.js";
import { hush, say, sayError } from "/common/ui.js";
import { STRINGS } from "./strings.js";

setupI18n(STRINGS, "medqa.patient.lang");
bindLanguageToggle($("#lang-toggle"));

const SESSION_KEY = "medqa.patient.session";
// The dialogue asks only what is still missing, in this order: a step it skips is simply not shown.
const STEPS = {
  complaint: 1,
  duration: 2,
  severity: 3,
  symptoms: 4,
  profile: 5,
  age: 5,
  sex: 5,
  pregnancy: 5,
  history: 6,
  past_illnesses: 6,
  allergies: 6,
  medications: 6,
};

// --- tabs -------------------------------------------------------------------------------------

const tabs = $$('[role="tab"]');

function selectTab(tab, { focus = false } = {}) {
  for (const other of tabs) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    show($(`#${other.getAttribute("aria-controls")}`), selected);
  }
  if (focus) tab.focus();
}

for (const tab of tabs) {
  tab.addEventListener("click", () => selectTab(tab));
  tab.addEventListener("keydown", (event) => {
    const index = tabs.indexOf(tab);
    let next = null;
    if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
    else if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
    else if (event.key === "Home") next = tabs[0];
    else if (event.key === "End") next = tabs[tabs.length - 1];
    if (next) {
      event.preventDefault();
      selectTab(next, { focus: true });
    }
  });
}

// --- emergency banner -------------------------------------------------------------------------

const emergency = { chat: null, qa: null }; // red-flag names, from the dialogue and the last question

function renderEmergency() {
  const banner = $("#emergency");
  const names = [...new Set([...(emergency.chat || []), ...(emergency.qa || [])])];
  const active = emergency.chat !== null || emergency.qa !== null;
  if (!active) {
    fill(banner);
    show(banner, false);
    return;
  }
  const wasHidden = banner.hidden;
  fill(
    banner,
    h("p", { class: "emergency-heading" }, h("span", { "aria-hidden": "true" }, "⚠ "), t("emergency.heading")),
    h("p", {}, t("emergency.body")),
    names.length ? h("p", { class: "emergency-flags" }, `${t("emergency.flags")}${names.join(t("list.separator"))}`) : null,
    h("a", { class: "call", href: "tel:120" }, t("emergency.call")),
  );
  show(banner, true);
  if (wasHidden) banner.scrollIntoView({ block: "start" });
}

function flagsOf(triage) {
  if (!triage) return null;
  const flags = Array.isArray(triage.red_flags) ? triage.red_flags : [];
  if (!triage.emergency && !flags.length) return null;
  return flags.map((flag) => flag.name);
}

// --- the pre-consultation session ---------------------------------------------------------------

let session = loadSession(); // {id, token}
let chat = freshChat();
let busy = false;

function freshChat() {
  return { messages: [], stage: null, triage: null, recordId: null };
}

function loadSession() {
  try {
    const value = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    return value && typeof value.id === "string" && typeof value.token === "string" ? value : null;
  } catch {
    return null;
  }
}

function saveSession() {
  try {
    if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    else sessionStorage.removeItem(SESSION_KEY);
  } catch {
    // storage disabled: the session lasts as long as the page
  }
}

function sessionPath(suffix = "") {
  return `/api/v1/sessions/${encodeURIComponent(session.id)}${suffix}`;
}

/** The session is gone (expired, erased elsewhere): back to the start, saying why. */
function endSession(noticeKey) {
  session = null;
  saveSession();
  chat = freshChat();
  emergency.chat = null;
  for (const id of ["#chat-error", "#submit-error", "#session-error", "#submit-done"]) hush($(id));
  $("#chat-input").value = "";
  renderEmergency();
  renderChat({ full: true });
  if (noticeKey) say($("#chat-notice"), () => t(noticeKey));
  else hush($("#chat-notice"));
}

const isGone = (error) => error instanceof ApiError && (error.status === 404 || error.status === 401);

function speaker(role) {
  return h("span", { class: "speaker", dataset: { role } }, t(role === "patient" ? "chat.you" : "chat.assistant"));
}

function messageItem(message) {
  return h(
    "li",
    { class: `msg msg-${message.role === "patient" ? "patient" : "assistant"}` },
    speaker(message.role),
    h("span", { class: "msg-text" }, message.text),
  );
}

function appendMessage(message) {
  chat.messages.push(message);
  $("#chat-log").append(messageItem(message));
  const log = $("#chat-log");
  log.lastElementChild?.scrollIntoView({ block: "nearest" });
}

function renderStep() {
  const step = $("#chat-step");
  if (chat.stage === "done") step.textContent = t("chat.step_done");
  else if (chat.stage in STEPS) step.textContent = t("chat.step", { n: STEPS[chat.stage], stage: t(`stage.${chat.stage}`) });
  else step.textContent = "";
}

// Names only: to a patient a score next to a disease reads like a diagnosis (or a verdict).
function nameList(items) {
  return h(
    "ul",
    { class: "scored" },
    (items || []).map((item) => h("li", {}, h("span", {}, item.name))),
  );
}

function renderTriage() {
  const triage = chat.triage;
  show($("#triage"), Boolean(triage));
  if (!triage) {
    fill($("#triage-body"));
    return;
  }
  const flags = (triage.red_flags || []).map((flag) => flag.name);
  fill(
    $("#triage-body"),
    flags.length ? [h("h3", {}, t("triage.red_flags")), h("ul", { class: "flags" }, flags.map((name) => h("li", {}, name)))] : null,
    h("h3", {}, t("triage.departments")),
    nameList((triage.departments || []).slice(0, 3)),
    (triage.possible_conditions || []).length
      ? [h("h3", {}, t("triage.conditions")), nameList(triage.possible_conditions.slice(0, 3))]
      : null,
    triage.advice ? [h("h3", {}, t("triage.advice")), h("p", { class: "pre" }, triage.advice)] : null,
  );
}

function renderSubmit() {
  show($("#submit"), Boolean(chat.triage) || Boolean(chat.recordId));
  show($("#submit-button"), !chat.recordId);
  show($("#submit-intro"), !chat.recordId);
  const done = $("#submit-done");
  if (chat.recordId) {
    const id = chat.recordId;
    say(done, () => t("submit.done", { id }));
  } else hush(done);
}

function renderChat({ full = false } = {}) {
  const active = Boolean(session);
  show($("#chat-start"), !active);
  show($("#chat"), active);
  show($("#session-actions"), active);
  if (full) fill($("#chat-log"), chat.messages.map(messageItem));
  // After submitting, the dialogue is closed: new messages would be refused (409).
  show($("#chat-form"), active && !chat.recordId);
  renderStep();
  renderTriage();
  renderSubmit();
}

function setBusy(value) {
  busy = value;
  show($("#chat-typing"), value);
  const send = $("#chat-send");
  send.disabled = value || Boolean(send.dataset.cooldownUntil);
  $("#chat-log").setAttribute("aria-busy", String(value));
}

const chatContext = () => ({
  fields: { text: t("chat.input") },
  409: t("chat.submitted_already"),
});

async function startSession() {
  const button = $("#chat-start-button");
  hush($("#chat-notice"));
  hush($("#chat-error"));
  button.disabled = true;
  button.textContent = t("chat.starting");
  try {
    const created = await apiFetch("/api/v1/sessions", { method: "POST", json: { language: lang() } });
    session = { id: created.session_id, token: created.token };
    saveSession();
    chat = freshChat();
    chat.stage = created.stage;
    renderChat({ full: true });
    appendMessage({ role: "assistant", text: created.reply });
    $("#chat-input").focus();
  } catch (error) {
    sayError($("#session-error"), error);
    if (error instanceof ApiError && error.status === 429) cooldown(button, error.retryAfter);
  } finally {
    button.textContent = t("chat.start");
    if (!button.dataset.cooldownUntil) button.disabled = false;
  }
}

async function sendMessage() {
  if (busy || !session) return;
  const input = $("#chat-input");
  const text = input.value.trim();
  hush($("#chat-error"));
  if (!text) {
    say($("#chat-error"), () => t("chat.empty"));
    input.focus();
    return;
  }
  input.value = "";
  appendMessage({ role: "patient", text });
  setBusy(true);
  try {
    const answer = await apiFetch(sessionPath("/messages"), { method: "POST", json: { text }, token: session.token });
    chat.stage = answer.stage;
    chat.triage = answer.triage || null;
    appendMessage({ role: "assistant", text: answer.reply });
    const flags = flagsOf(chat.triage);
    if (flags) {
      emergency.chat = flags;
      renderEmergency();
    }
    renderChat();
  } catch (error) {
    // Not sent: the message leaves the log and goes back into the box.
    chat.messages.pop();
    $("#chat-log").lastElementChild?.remove();
    if (isGone(error)) {
      endSession("chat.expired");
      return;
    }
    input.value = text;
    sayError($("#chat-error"), error, chatContext);
    if (error instanceof ApiError && (error.status === 429 || error.status === 503)) cooldown($("#chat-send"), error.retryAfter);
  } finally {
    setBusy(false);
    if (session && !chat.recordId && $("#emergency").hidden) input.focus();
  }
}

async function submitSummary() {
  const button = $("#submit-button");
  hush($("#submit-error"));
  button.disabled = true;
  button.textContent = t("submit.busy");
  try {
    const result = await apiFetch(sessionPath("/submit"), { method: "POST", token: session.token });
    chat.recordId = result.record_id;
    renderChat();
  } catch (error) {
    if (isGone(error)) {
      endSession("chat.expired");
      return;
    }
    sayError($("#submit-error"), error, () => ({ 409: t("chat.not_finished") }));
    if (error instanceof ApiError && error.status === 429) cooldown(button, error.retryAfter);
  } finally {
    button.textContent = t("submit.button");
    if (!button.dataset.cooldownUntil) button.disabled = false;
  }
}

async function eraseSession() {
  hush($("#session-error"));
  if (!session) return;
  if (!(await confirmDialog(() => t("session.erase_confirm"), { confirmLabel: () => t("session.erase") }))) return;
  try {
    await apiFetch(sessionPath(), { method: "DELETE", token: session.token });
  } catch (error) {
    if (!isGone(error)) {
      sayError($("#session-error"), error);
      return;
    }
    // Already gone: nothing is left to erase.
  }
  endSession("session.erased");
  $("#chat-start-button").focus();
}

async function newSession() {
  if (chat.messages.length > 1 && !chat.recordId) {
    if (!(await confirmDialog(() => t("session.new_confirm"), { confirmLabel: () => t("session.new"), danger: false }))) return;
  }
  endSession(null);
  startSession();
}

async function restoreSession() {
  if (!session) {
    renderChat({ full: true });
    return;
  }
  try {
    const state = await apiFetch(sessionPath(), { token: session.token });
    chat = {
      messages: (state.history || []).map((m) => ({ role: m.role === "patient" ? "patient" : "assistant", text: String(m.text ?? "") })),
      stage: state.stage,
      triage: state.triage || null,
      recordId: state.record_id || null,
    };
    emergency.chat = flagsOf(chat.triage);
    renderEmergency();
    renderChat({ full: true });
    say($("#chat-notice"), () => t("chat.restored"));
  } catch (error) {
    if (isGone(error)) endSession("chat.expired");
    else {
      renderChat({ full: true });
      sayError($("#session-error"), error);
    }
  }
}

$("#chat-start-button").addEventListener("click", startSession);
$("#chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sendMessage();
});
$("#chat-input").addEventListener("keydown", (event) => {
  // Enter sends; Shift+Enter is a new line; Enter that confirms an IME composition is left alone.
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
    event.preventDefault();
    $("#chat-form").requestSubmit();
  }
});
$("#submit-button").addEventListener("click", submitSummary);
$("#session-erase").addEventListener("click", eraseSession);
$("#session-new").addEventListener("click", newSession);

// --- health questions ---------------------------------------------------------------------------

let answer = null;

function renderAnswer() {
  show($("#qa-result"), Boolean(answer));
  if (!answer) return;
  $("#qa-answer").textContent = answer.answer;
  $("#qa-see").textContent = answer.see_a_doctor || "";
  show($("#qa-see-heading"), Boolean(answer.see_a_doctor));
  const sources = answer.sources || [];
  show($("#qa-sources-heading"), sources.length > 0);
  fill(
    $("#qa-sources"),
    sources.map((source) =>
      h(
        "li",
        {},
        h(
          "details",
          {},
          h("summary", {}, `[${source.number}] ${source.title}`),
          h("p", { class: "passage" }, source.snippet),
        ),
      ),
    ),
  );
  $("#qa-disclaimer").textContent = answer.disclaimer || "";
}

$("#qa-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("#qa-question");
  const button = $("#qa-ask");
  const question = input.value.trim();
  hush($("#qa-error"));
  if (!question) {
    say($("#qa-error"), () => t("qa.empty"));
    input.focus();
    return;
  }
  button.disabled = true;
  button.textContent = t("qa.asking");
  $("#qa-result").setAttribute("aria-busy", "true");
  try {
    answer = await apiFetch("/api/v1/health/qa", { method: "POST", json: { question } });
    emergency.qa = answer.emergency ? (answer.red_flags || []).map((flag) => flag.name) : null;
    renderEmergency();
    renderAnswer();
  } catch (error) {
    sayError($("#qa-error"), error, () => ({ fields: { question: t("qa.question") } }));
    if (error instanceof ApiError && (error.status === 429 || error.status === 503)) cooldown(button, error.retryAfter);
  } finally {
    $("#qa-result").setAttribute("aria-busy", "false");
    button.textContent = t("qa.ask");
    if (!button.dataset.cooldownUntil) button.disabled = false;
  }
});

onLangChange(() => {
  renderEmergency();
  renderStep();
  renderTriage();
  for (const el of $$("#chat-log .speaker")) el.textContent = t(el.dataset.role === "patient" ? "chat.you" : "chat.assistant");
});

restoreSession();
