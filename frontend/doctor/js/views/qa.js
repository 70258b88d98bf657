// Clinical QA: ask, read the answer with its numbered sources, entities, intents and whether it
// was cached or degraded.
//
// The answer is streamed (POST /api/v1/medical/qa/stream, server-sent events: meta, delta..., done)
// so an LLM's answer appears as it is written. Without an LLM the stream still works but sends the
// whole answer in one piece (done.mode "extractive") and is never cached; once the service has
// shown it has no LLM, questions go to the plain POST /api/v1/medical/qa, whose answers can come
// from the cache. When streaming is not available at all (404/405/501, or not an event stream)
// the plain endpoint answers instead.

import { ApiError } from "/common/api.js";
import { $, citedText, cooldown, fill, h, show } from "/common/dom.js";
import { formatNumber, has, onLangChange, t } from "/common/i18n.js";
import { hush, say, sayError } from "/common/ui.js";
import { call, current } from "../auth.js";
import { readEvents } from "../sse.js";
import { openDiseaseCard, openSource } from "./cards.js";

let state = null;
let controller = null;
let preferPlain = false; // learnt from the stream: the service has no LLM

const fieldLabels = () => ({ fields: { question: t("qa.question") } });

export function init() {
  $("#qa-form").addEventListener("submit", (event) => {
    event.preventDefault();
    ask();
  });
  $("#qa-stop").addEventListener("click", () => controller?.abort());
  $("#qa-question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      $("#qa-form").requestSubmit();
    }
  });
  onLangChange(render);
}

export function reset() {
  controller?.abort();
  controller = null;
  state = null;
  $("#qa-question").value = "";
  hush($("#qa-error"));
  setBusy(false);
  render();
}

function setBusy(busy) {
  const ask = $("#qa-ask");
  ask.textContent = t(busy ? "qa.asking" : "qa.ask");
  ask.dataset.i18n = busy ? "qa.asking" : "qa.ask";
  ask.disabled = busy || Boolean(ask.dataset.cooldownUntil);
  show($("#qa-stop"), busy);
}

async function ask() {
  const input = $("#qa-question");
  const question = input.value.trim();
  hush($("#qa-error"));
  if (!question) {
    say($("#qa-error"), () => t("qa.empty"));
    input.focus();
    return;
  }
  controller?.abort();
  const mine = new AbortController();
  controller = mine;
  state = {
    question,
    text: "",
    sources: [],
    entities: [],
    intents: [],
    disclaimer: "",
    mode: null,
    cached: null,
    degraded: false,
    took: null,
    streamed: false,
    busy: true,
    notice: null,
  };
  setBusy(true);
  render();
  try {
    const answered = !preferPlain && (await askStream(question, mine.signal));
    if (!answered) await askPlain(question, mine.signal);
  } catch (error) {
    if (error?.name === "AbortError") {
      if (state) state.notice = "qa.stopped";
    } else if (current()) {
      // (Signed out meanwhile: the sign-in screen already says why.)
      if (state && !state.text) state = null;
      sayError($("#qa-error"), error, fieldLabels);
      if (error instanceof ApiError && (error.status === 429 || error.status === 503)) {
        cooldown($("#qa-ask"), error.retryAfter);
      }
    }
  } finally {
    if (controller === mine) {
      controller = null;
      if (state) state.busy = false;
      setBusy(false);
      render();
    }
  }
}

/** True when the stream answered; false when the plain endpoint should be asked instead. */
async function askStream(question, signal) {
  let response;
  try {
    response = await call("/api/v1/medical/qa/stream", { method: "POST", json: { question }, raw: true, signal });
  } catch (error) {
    if (error instanceof ApiError && [404, 405, 501].includes(error.status)) {
      state.notice = "qa.fallback";
      return false;
    }
    throw error;
  }
  const type = response.headers.get("Content-Type") || "";
  if (!response.body || !type.includes("text/event-stream")) {
    state.notice = "qa.fallback";
    return false;
  }
  state.streamed = true;
  let finished = false;
  try {
    for await (const { event, data } of readEvents(response)) {
      if (event === "meta" && data && typeof data === "object") {
        state.sources = Array.isArray(data.sources) ? data.sources : [];
        state.entities = Array.isArray(data.entities) ? data.entities : [];
        state.intents = Array.isArray(data.intents) ? data.intents : [];
        state.disclaimer = typeof data.disclaimer === "string" ? data.disclaimer : "";
        render();
      } else if (event === "delta") {
        state.text += typeof data?.text === "string" ? data.text : "";
        renderText();
      } else if (event === "done") {
        state.mode = data?.mode || null;
        state.degraded = Boolean(data?.degraded);
        finished = true;
      }
    }
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    // The connection broke mid-stream: what arrived stays, marked incomplete.
  }
  if (!finished) {
    if (!state.text) {
      state.streamed = false;
      state.notice = "qa.fallback";
      return false;
    }
    state.notice = "qa.interrupted";
  }
  if (state.mode === "extractive") preferPlain = true;
  return true;
}

async function askPlain(question, signal) {
  const answer = await call("/api/v1/medical/qa", { method: "POST", json: { question }, signal });
  Object.assign(state, {
    text: String(answer.answer ?? ""),
    sources: answer.sources || [],
    entities: answer.entities || [],
    intents: answer.intents || [],
    disclaimer: answer.disclaimer || "",
    cached: Boolean(answer.cached),
    degraded: Boolean(answer.degraded),
    took: Number.isFinite(answer.took_ms) ? answer.took_ms : null,
    mode: answer.degraded
      ? "degraded"
      : !(answer.sources || []).length
        ? "not_found"
        : preferPlain
          ? "extractive"
          : null,
  });
}

function render() {
  const box = $("#qa-result");
  if (!state) {
    show(box, false);
    return;
  }
  show(box, true);
  renderBadges();
  renderText();
  show($("#qa-degraded"), state.degraded);
  $("#qa-disclaimer").textContent = state.disclaimer;
  const notice = $("#qa-notice");
  if (state.notice) say(notice, () => t(state?.notice || "qa.stopped"));
  else hush(notice);
  renderSources();
  renderEntities();
  renderIntents();
}

function badge(text, kind = "") {
  return h("li", { class: `badge ${kind}`.trim() }, text);
}

function renderBadges() {
  const items = [];
  if (state.mode) items.push(badge(t(`qa.mode.${state.mode}`), state.mode === "degraded" ? "badge-warn" : ""));
  if (state.streamed) items.push(badge(t("qa.streamed")));
  if (state.cached === true) items.push(badge(t("qa.cached"), "badge-ok"));
  if (state.cached === false) items.push(badge(t("qa.fresh")));
  if (state.degraded && state.mode !== "degraded") items.push(badge(t("qa.mode.degraded"), "badge-warn"));
  if (state.took !== null) items.push(badge(t("qa.took", { ms: formatNumber(state.took, 0) })));
  fill($("#qa-badges"), items);
}

function renderText() {
  const el = $("#qa-answer");
  // Busy: the live region waits for the whole answer instead of reading every piece.
  el.setAttribute("aria-busy", state.busy ? "true" : "false");
  el.classList.toggle("streaming", state.busy);
  if (state.busy) {
    el.textContent = state.text;
    return;
  }
  fill(
    el,
    citedText(
      state.text,
      (number) => {
        const source = state.sources.find((s) => s.number === number);
        if (source) openSource(source);
      },
      (number) => t("qa.cite_label", { n: number }),
    ),
  );
}

function renderSources() {
  const sources = state.sources;
  if (!sources.length) {
    fill($("#qa-sources"), state.busy ? null : h("li", { class: "hint" }, t("qa.no_sources")));
    return;
  }
  fill(
    $("#qa-sources"),
    sources.map((source) =>
      h(
        "li",
        { class: "source" },
        h("span", { class: "source-num" }, `[${source.number}]`),
        h(
          "div",
          { class: "source-body" },
          h("span", { class: "source-title" }, source.title),
          h(
            "span",
            { class: "source-meta" },
            `${source.store} · ${t("qa.score", { score: formatNumber(Number(source.score) || 0, 2) })}`,
          ),
        ),
        h(
          "button",
          {
            type: "button",
            class: "secondary small",
            "aria-label": t("qa.read_source_label", { n: source.number, title: source.title }),
            onclick: () => openSource(source),
          },
          t("qa.read_source"),
        ),
      ),
    ),
  );
}

function typeName(type) {
  return has(`type.${type}`) ? t(`type.${type}`) : type;
}

function renderEntities() {
  const entities = state.entities;
  if (!entities.length) {
    fill($("#qa-entities"), state.busy ? null : h("li", { class: "hint" }, t("common.none")));
    return;
  }
  fill(
    $("#qa-entities"),
    entities.map((entity) =>
      h(
        "li",
        {},
        entity.type === "disease"
          ? h(
              "button",
              {
                type: "button",
                class: "chip chip-disease",
                "aria-label": t("qa.entity_card", { name: entity.name }),
                onclick: () => openDiseaseCard(entity.name),
              },
              h("span", { class: "chip-name" }, entity.name),
              h("span", { class: "chip-type" }, typeName(entity.type)),
            )
          : h(
              "span",
              { class: `chip chip-${entity.type}` },
              h("span", { class: "chip-name" }, entity.name),
              h("span", { class: "chip-type" }, typeName(entity.type)),
            ),
      ),
    ),
  );
}

function renderIntents() {
  const intents = state.intents;
  if (!intents.length) {
    fill($("#qa-intents"), state.busy ? null : h("li", { class: "hint" }, t("common.none")));
    return;
  }
  fill(
    $("#qa-intents"),
    intents.map((intent) => h("li", { class: "tag" }, has(`intent.${intent}`) ? t(`intent.${intent}`) : intent)),
  );
}
