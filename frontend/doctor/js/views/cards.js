// Dialogs the QA answer and the inbox open: a cited source's passage, and a disease card from the
// knowledge graph (GET /api/v1/kg/diseases/{name}).

import { ApiError, describeError } from "../common/api.js";
import { modal } from "../common/dialog.js";
import { h } from "../common/dom.js";
import { formatNumber, lang, t } from "../common/i18n.js";
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

export function openSource(source) {
  modal({
    title: () => t("source.heading", { n: source.number }),
    className: "dialog-source",
    build(body, close) {
      body.append(
        h(
          "dl",
          { class: "meta" },
          entry(t("source.title"), source.title),
          entry(t("source.store"), source.store),
          entry(t("source.doc"), source.doc_id),
          entry(t("source.score"), formatNumber(Number(source.score) || 0, 4)),
        ),
        h("h3", {}, t("source.passage")),
        h("blockquote", { class: "passage", lang: /[\u4e00-\u9fff]/.test(source.snippet || "") ? "zh-CN" : "en" }, source.snippet),
        h("p", { class: "hint" }, t("source.note")),
        isDiseaseSource(source)
          ? h(
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
            )
          : null,
      );
    },
  });
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
