// Dialogs the QA answer, the inbox and the knowledge base open: a stored document passage by
// passage (GET /api/v1/kb/stores/{store}/documents/{id}), opened from a cited source with the cited
// passage highlighted, and a disease card from the knowledge graph (GET /api/v1/kg/diseases/{name}).

import { ApiError, describeError } from "/common/api.js";
import { modal } from "/common/dialog.js";
import { h } from "/common/dom.js";
import { formatNumber, lang, t } from "/common/i18n.js";
import { call } from "../auth.js";

/** A source from the starter disease store, or any record id of a disease. */
export function isDiseaseSource(source) {
  return source.store === "diseases" || /^disease[-_:]/.test(source.doc_id || "");
}

/** "妊娠期高血压（Hypertensive Disorders of Pregnancy）" -> "妊娠期高血压". */
export function diseaseName(title) {
  return String(title || "").split(/[（(]/)[0].trim() || String(title || "");
}

function entry(label, value) {
  if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return null;
  return [h("dt", {}, label), h("dd", {}, value)];
}

const textLang = (text) => (/[\u4e00-\u9fff]/.test(text || "") ? "zh-CN" : "en");
const squash = (text) => String(text ?? "").replace(/\s+/g, " ").trim();

/**
 * The index of the passage a source's snippet was cut from, or -1. A snippet is the sentences of
 * one passage that answer the question (not always adjacent), its whitespace collapsed, shortened
 * with "…" past a length: the passage holding most of those sentences is the one cited. A snippet
 * the answer wrote from the knowledge graph is no passage's text and is not located.
 */
export function citedPassage(passages, snippet) {
  const core = squash(snippet).replace(/…$/, "").trim();
  if (core.length < 8) return -1;
  const sentences = core
    .split(/(?<=[。！？；!?;.])\s*/)
    .map((piece) => piece.trim())
    .filter((piece) => piece.length >= 8);
  const texts = passages.map(squash);
  let best = -1;
  let bestCount = 0;
  texts.forEach((text, index) => {
    const count = sentences.filter((sentence) => text.includes(sentence)).length;
    if (count > bestCount) [best, bestCount] = [index, count];
  });
  return best;
}

function metadataValue(value) {
  if (Array.isArray(value) && value.every((item) => item === null || typeof item !== "object")) {
    return value.join(lang() === "en" ? ", " : "、");
  }
  if (value !== null && typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** The cited source of an answer: its document in full, the cited passage highlighted. */
export function openSource(source) {
  openStoredDocument({ store: source.store, id: source.doc_id, title: source.title, source });
}

/** A stored document (from the knowledge-base screen). */
export function openDocument(store, id, title = "") {
  openStoredDocument({ store, id, title, source: null });
}

function openStoredDocument({ store, id, title, source }) {
  const view = { doc: null, error: null, cited: -1, scrolled: false };
  let dialog = null;

  dialog = modal({
    title: () => (source ? t("source.heading", { n: source.number }) : t("doc.heading", { id })),
    className: "dialog-wide dialog-source",
    build(body, close) {
      const doc = view.doc;
      body.append(
        h(
          "dl",
          { class: "meta" },
          entry(t("source.title"), doc?.title || title),
          entry(t("source.store"), store),
          entry(t("source.doc"), id),
          source ? entry(t("source.score"), formatNumber(Number(source.score) || 0, 4)) : null,
        ),
      );
      const snippet = source?.snippet || "";
      // The excerpt the answer cites, unless it is shown highlighted in the full text below.
      if (snippet && !(doc && view.cited >= 0)) {
        body.append(
          h("h3", {}, t("source.passage")),
          h("blockquote", { class: "passage", lang: textLang(snippet) }, snippet),
        );
      }
      if (view.error) {
        const gone = view.error instanceof ApiError && view.error.status === 404;
        body.append(
          gone
            ? h("p", { class: source ? "hint" : "error", role: source ? "status" : "alert" }, t(source ? "source.gone" : "doc.not_found"))
            : h("p", { class: "error", role: "alert" }, describeError(view.error)),
        );
      } else if (!doc) {
        body.append(h("p", { class: "hint", role: "status" }, t("source.loading")));
      } else {
        body.append(renderPassages(doc, source ? view.cited : -1, Boolean(source)));
      }
      if (source && isDiseaseSource(source)) {
        body.append(
          h(
            "div",
            { class: "actions" },
            h(
              "button",
              {
                type: "button",
                class: "primary",
                onclick: () => {
                  close();
                  openDiseaseCard(diseaseName(source.title));
                },
              },
              t("source.open_card"),
            ),
          ),
        );
      }
    },
  });

  call(`/api/v1/kb/stores/${encodeURIComponent(store)}/documents/${encodeURIComponent(id)}`)
    .then((doc) => {
      view.doc = {
        title: String(doc?.title ?? ""),
        metadata: doc?.metadata && typeof doc.metadata === "object" ? doc.metadata : {},
        passages: Array.isArray(doc?.passages) ? doc.passages.map((p) => String(p ?? "")) : [],
      };
      view.cited = source ? citedPassage(view.doc.passages, source.snippet) : -1;
    })
    .catch((error) => {
      view.error = error;
    })
    .finally(() => {
      if (!dialog.dialog.open) return;
      dialog.rerender();
      const cited = dialog.body.querySelector(".passage-cited");
      if (cited && !view.scrolled) {
        view.scrolled = true;
        cited.scrollIntoView({ block: "center" });
      }
    });
}

function renderPassages(doc, cited, fromSource) {
  const count = doc.passages.length;
  const metadata = Object.entries(doc.metadata).filter(([, value]) => value !== null && value !== "");
  return h(
    "div",
    { class: "document" },
    h("h3", {}, t("source.document", { count })),
    fromSource
      ? h("p", { class: "hint" }, cited >= 0 ? t("source.cited_hint", { n: cited + 1 }) : t("source.not_located"))
      : null,
    h(
      "ol",
      { class: "passages" },
      doc.passages.map((text, index) =>
        h(
          "li",
          { class: index === cited ? "passage-item passage-cited" : "passage-item", dataset: { index: String(index) } },
          index === cited ? h("span", { class: "badge badge-cited" }, t("source.cited")) : null,
          h("p", { lang: textLang(text) }, text),
        ),
      ),
    ),
    metadata.length
      ? h(
          "details",
          { class: "doc-metadata" },
          h("summary", {}, t("source.metadata")),
          h(
            "dl",
            { class: "meta" },
            metadata.map(([key, value]) => entry(key, metadataValue(value))),
          ),
        )
      : null,
  );
}

const LIST_FIELDS = [
  "causes",
  "checks",
  "treatment",
  "drugs",
  "prevention",
  "foods_recommended",
  "foods_avoid",
];

function list(items) {
  return h("ul", { class: "plain-list" }, items.map((item) => h("li", {}, item)));
}

export function openDiseaseCard(name) {
  const state = { name, card: null, error: null };
  let dialog = null;

  const load = async () => {
    state.card = null;
    state.error = null;
    dialog?.rerender();
    try {
      state.card = await call(`/api/v1/kg/diseases/${encodeURIComponent(state.name)}`);
    } catch (error) {
      state.error = error;
    }
    dialog?.rerender();
  };

  const follow = (other) => {
    state.name = other;
    load();
  };

  dialog = modal({
    title: () => {
      const card = state.card;
      if (!card) return t("card.heading");
      return lang() === "en" && card.name_en ? `${card.name_en}（${card.name}）` : card.name;
    },
    className: "dialog-card",
    build(body) {
      if (state.error) {
        const notFound = state.error instanceof ApiError && state.error.status === 404;
        body.append(
          h("p", { class: "error", role: "alert" }, notFound ? t("card.not_found", { name: state.name }) : describeError(state.error)),
        );
        return;
      }
      if (!state.card) {
        body.append(h("p", { class: "hint", role: "status" }, t("card.loading")));
        return;
      }
      body.append(renderCard(state.card, follow));
    },
  });
  load();
}

function renderCard(card, follow) {
  const en = lang() === "en";
  const symptoms = (card.symptoms || []).map((name, i) => {
    const english = (card.symptoms_en || [])[i];
    return en && english ? `${english}（${name}）` : name;
  });
  const complications = (card.relations?.has_complication || []).map((item) =>
    item.disease
      ? h(
          "button",
          {
            type: "button",
            class: "link",
            "aria-label": t("card.open_linked", { name: item.disease }),
            onclick: () => follow(item.disease),
          },
          item.name,
        )
      : item.name,
  );
  const complicationOf = (card.complication_of || []).map((item) =>
    h(
      "button",
      { type: "button", class: "link", "aria-label": t("card.open_linked", { name: item.name }), onclick: () => follow(item.name) },
      item.name,
    ),
  );
  const contagious =
    card.contagious === true ? t("common.yes") : card.contagious === false ? t("common.no") : null;
  const description = en && card.description_en ? card.description_en : card.description;

  const rows = [
    en ? entry(t("card.name_zh"), card.name) : entry(t("card.name_en"), card.name_en),
    entry(t("card.aliases"), (card.aliases || []).join(en ? ", " : "、")),
    entry(t("card.department"), card.department),
    entry(t("card.description"), description),
    entry(t("card.symptoms"), symptoms.length ? list(symptoms) : null),
    entry(t("card.susceptible"), card.susceptible),
    ...LIST_FIELDS.map((field) => entry(t(`card.${field}`), (card[field] || []).length ? list(card[field]) : null)),
    entry(t("card.complications"), complications.length ? list(complications) : null),
    entry(t("card.complication_of"), complicationOf.length ? list(complicationOf) : null),
    entry(t("card.course"), card.course),
    entry(t("card.cure_rate"), card.cure_rate),
    entry(t("card.contagious"), contagious),
  ];
  const redFlags = (card.red_flags || []).length
    ? h("div", { class: "warning" }, h("h3", {}, t("card.red_flags")), list(card.red_flags))
    : null;
  return h("div", { class: "disease-card" }, redFlags, h("dl", { class: "facts" }, rows));
}
