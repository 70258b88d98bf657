// Calls to the same-origin /api and one error type for everything that can go wrong, with a
// message in the user's language for each status the services answer (see backend/core/errors.py:
// {"error": {"code", "message", "request_id", ...}}, Retry-After on 429 and 503).
// Shared by both UIs (frontend/common, served at /common/).

import { formatClock, lang, t } from "./i18n.js";

export class ApiError extends Error {
  constructor({ status = 0, code = "", message = "", requestId = null, retryAfter = null, details = [] }) {
    super(message || code || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status; // 0: the request never got an answer (network down, aborted)
    this.code = code;
    this.serverMessage = message;
    this.requestId = requestId;
    this.retryAfter = retryAfter; // seconds, or null
    this.details = details;
  }
}

/** Seconds from a Retry-After header: delta-seconds or an HTTP date. */
export function parseRetryAfter(value) {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** The ApiError for a non-2xx response (its JSON error body when it has one). */
export async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null; // e.g. an HTML error page from a proxy
  }
  const error = (body && typeof body === "object" && body.error) || {};
  const retryAfter =
    parseRetryAfter(response.headers.get("Retry-After")) ??
    (Number.isFinite(error.retry_after) ? error.retry_after : null);
  return new ApiError({
    status: response.status,
    code: typeof error.code === "string" ? error.code : "",
    message: typeof error.message === "string" ? error.message : "",
    requestId: typeof error.request_id === "string" ? error.request_id : response.headers.get("X-Request-ID"),
    retryAfter,
    details: Array.isArray(error.details) ? error.details : [],
  });
}

/**
 * fetch() for the API. Options: method, json (a body to send as JSON), form (an object sent as
 * application/x-www-form-urlencoded), query (an object; empty values left out), token (Bearer),
 * signal, raw (return the Response itself, for streams). Resolves to the parsed JSON, or null
 * for 204; rejects with an ApiError.
 */
export async function apiFetch(path, options = {}) {
  const { method = "GET", json, form, query, token, signal, raw = false } = options;
  const headers = { Accept: raw ? "text/event-stream, application/json" : "application/json" };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = new URLSearchParams(form);
  }
  if (token) headers.Authorization = `Bearer ${token}`;
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
    }
    const text = params.toString();
    if (text) url += `?${text}`;
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body, signal, credentials: "same-origin", cache: "no-store" });
  } catch (exc) {
    if (exc?.name === "AbortError") throw exc;
    throw new ApiError({ status: 0, code: "network" });
  }
  if (!response.ok) throw await errorFrom(response);
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("json")) return null;
  try {
    return await response.json();
  } catch {
    throw new ApiError({ status: response.status, code: "bad_response" });
  }
}

const PYDANTIC_TYPES = {
  missing: "err.field.missing",
  string_too_short: "err.field.too_short",
  string_too_long: "err.field.too_long",
  too_short: "err.field.too_few",
  too_long: "err.field.too_many",
  string_pattern_mismatch: "err.field.pattern",
  literal_error: "err.field.choice",
  enum: "err.field.choice",
  extra_forbidden: "err.field.extra",
  int_parsing: "err.field.number",
  float_parsing: "err.field.number",
  greater_than_equal: "err.field.range",
  less_than_equal: "err.field.range",
  json_invalid: "err.field.json",
};

/** One line per invalid field: "Question: must not be empty". */
export function validationLines(details, fieldLabels = {}) {
  return details.map((detail) => {
    const loc = (Array.isArray(detail.loc) ? detail.loc : []).filter(
      (part) => !["body", "query", "path", "header"].includes(part),
    );
    const names = loc.map((part) =>
      typeof part === "number" ? t("err.field.item", { n: part + 1 }) : fieldLabels[part] || String(part),
    );
    const key = PYDANTIC_TYPES[detail.type];
    // Our own messages (value_error...) are in English: shown as they are.
    const problem = key ? t(key) : detail.msg || t("err.field.invalid");
    return names.length ? `${names.join(" › ")}${t("err.field_sep")}${problem}` : problem;
  });
}

/** Sentences joined as the language writes them: no space after "。" in Chinese. */
export function joined(...parts) {
  return parts.filter(Boolean).join(lang() === "zh" ? "" : " ");
}

/** "Please correct: Username: has the wrong format", for checks made before sending. */
export function fieldMessage(label, problem) {
  return joined(t("err.validation"), `${label}${t("err.field_sep")}${problem}`);
}

function retryText(seconds) {
  if (!(seconds > 0)) return "";
  const at = formatClock(new Date(Date.now() + seconds * 1000));
  return t("err.retry_in", { seconds, time: at });
}

/**
 * The message to show for an error. `context` may give messages by status or code
 * ({404: "...", conflict: "..."}) and field labels for 422 ({fields: {question: "..."}}).
 */
export function describeError(error, context = {}) {
  if (!(error instanceof ApiError)) return t("err.unexpected");
  const { status, code } = error;
  const byCode = context[code];
  const byStatus = context[status];
  let text;
  if (status === 0) text = t(code === "bad_response" ? "err.bad_response" : "err.network");
  else if (byCode) text = byCode;
  else if (status === 429) {
    const what = code === "login_locked" ? t("err.login_locked") : t("err.rate_limited");
    text = joined(what, retryText(error.retryAfter) || t("err.retry_later"));
  } else if (status === 503) {
    text = joined(t("err.busy"), retryText(error.retryAfter) || t("err.retry_later"));
  } else if (status === 502 || status === 504) text = t("err.unreachable");
  else if (status === 422) {
    const lines = validationLines(error.details, context.fields);
    text = joined(t("err.validation"), lines.join(t("err.list_sep")));
    if (!lines.length && error.serverMessage && lang() === "en") text = joined(text, error.serverMessage);
  } else if (byStatus) text = byStatus;
  else if (status === 401) text = code === "invalid_credentials" ? t("err.invalid_credentials") : t("err.signin_expired");
  else if (status === 403) text = t("err.forbidden");
  else if (status === 404) text = t("err.not_found");
  else if (status === 409) text = t("err.conflict");
  else if (status === 413) text = t("err.too_large");
  else if (status >= 500) text = t("err.internal");
  else text = t("err.generic", { status });
  if (error.requestId && (status >= 500 || status === 0 || status === 409 || status === 404)) {
    text = joined(text, t("err.request_id", { id: error.requestId }));
  }
  return text;
}
