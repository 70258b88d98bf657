// Files -> knowledge-base documents {id, title, text, metadata}, read in the browser, following the
// rules of the server-side importers (backend/core/knowledge/importers: jsonl.py, csvfile.py,
// text.py). A bad row never fails the file: it is reported as a problem {file, line, key, vars}
// and skipped, and a repeated id keeps its first document.

export const DOC_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$/;
export const STORE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const TITLE_MAX = 300;
const TEXT_MAX = 200_000;
// A request body is at most 1 MiB (MAX_BODY_BYTES); keep a margin for the JSON around documents.
export const BATCH_BYTES = 900_000;
export const BATCH_DOCUMENTS = 200;
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;
const encoder = new TextEncoder();

export function withoutControls(value) {
  return value.replace(CONTROLS, "");
}

/** Bytes -> text: UTF-8 (a BOM is dropped), else GB18030 (common on Chinese Windows); null if neither. */
export function decode(buffer) {
  for (const encoding of ["utf-8", "gb18030"]) {
    try {
      return new TextDecoder(encoding, { fatal: true }).decode(buffer);
    } catch {
      // next encoding
    }
  }
  return null;
}

function kindOf(name) {
  const lower = name.toLowerCase();
  if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) return "jsonl";
  if (lower.endsWith(".csv")) return "csv";
  if (lower.endsWith(".md") || lower.endsWith(".markdown")) return "markdown";
  if (lower.endsWith(".txt")) return "text";
  return null;
}

/** Parse files (File objects) into {documents, problems}. */
export async function parseFiles(files) {
  const documents = [];
  const problems = [];
  const seen = new Map(); // id -> where it was first seen
  for (const file of files) {
    const kind = kindOf(file.name);
    if (!kind) {
      problems.push({ file: file.name, line: null, key: "parse.type" });
      continue;
    }
    const text = decode(await file.arrayBuffer());
    if (text === null) {
      problems.push({ file: file.name, line: null, key: "parse.encoding" });
      continue;
    }
    const items =
      kind === "jsonl" ? fromJsonl(text, file.name) : kind === "csv" ? fromCsv(text, file.name) : fromText(text, file.name, kind);
    for (const item of items) {
      if (item.problem) {
        problems.push(item.problem);
        continue;
      }
      const first = seen.get(item.document.id);
      if (first) {
        problems.push({ file: item.file, line: item.line, key: "parse.duplicate" });
        continue;
      }
      seen.set(item.document.id, true);
      documents.push(item.document);
    }
  }
  return { documents, problems };
}

/** Validate and clean one document, or say what is wrong with it. */
export function makeDocument(data) {
  const id = typeof data.id === "string" ? data.id.trim() : typeof data.id === "number" ? String(data.id) : "";
  if (!DOC_ID.test(id)) return { key: "parse.id" };
  const title = typeof data.title === "string" ? withoutControls(data.title).normalize("NFC").trim() : "";
  if (!title || title.length > TITLE_MAX) return { key: "parse.title" };
  const text = typeof data.text === "string" ? withoutControls(data.text).normalize("NFC").trim() : "";
  if (!text || text.length > TEXT_MAX) return { key: "parse.text" };
  const metadata = data.metadata ?? {};
  if (typeof metadata !== "object" || Array.isArray(metadata)) return { key: "parse.metadata" };
  return { document: { id, title, text, metadata } };
}

function* fromJsonl(text, file) {
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index].trim();
    if (!line) continue;
    const where = { file, line: index + 1 };
    let data;
    try {
      data = JSON.parse(line);
    } catch {
      yield { problem: { ...where, key: "parse.json" } };
      continue;
    }
    if (!data || typeof data !== "object" || Array.isArray(data)) {
      yield { problem: { ...where, key: "parse.object" } };
      continue;
    }
    // Fields other than the four a document has are kept, in its metadata.
    const { id, title, text: body, metadata, ...rest } = data;
    const extra = Object.keys(rest).length ? rest : null;
    const merged =
      extra && metadata && typeof metadata === "object" && !Array.isArray(metadata)
        ? { ...extra, ...metadata }
        : extra && metadata === undefined
          ? extra
          : metadata;
    const made = makeDocument({ id, title, text: body, metadata: merged });
    yield made.document ? { document: made.document, ...where } : { problem: { ...where, key: made.key } };
  }
}

/** RFC 4180 rows: quoted cells may hold commas, quotes ("") and line breaks. Yields [line, cells]. */
export function* csvRows(text) {
  let row = [];
  let cell = "";
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        if (c === "\n") line += 1;
        cell += c;
      }
      i += 1;
      continue;
    }
    if (c === '"' && cell === "") quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      row.push(cell);
      yield [rowLine, row];
      row = [];
      cell = "";
      line += 1;
      rowLine = line;
    } else cell += c;
    i += 1;
  }
  if (cell !== "" || row.length) {
    row.push(cell);
    yield [rowLine, row];
  }
}

const REQUIRED = ["id", "title", "text"];

function* fromCsv(text, file) {
  const rows = csvRows(text);
  const first = rows.next();
  if (first.done) {
    yield { problem: { file, line: 1, key: "parse.empty" } };
    return;
  }
  const header = first.value[1].map((cell) => cell.trim());
  const missing = REQUIRED.filter((column) => !header.includes(column));
  if (missing.length) {
    yield { problem: { file, line: 1, key: "parse.header", vars: { columns: missing.join(", ") } } };
    return;
  }
  for (const [line, cells] of rows) {
    if (!cells.some((cell) => cell.trim())) continue;
    const where = { file, line };
    if (cells.length !== header.length) {
      yield { problem: { ...where, key: "parse.cells" } };
      continue;
    }
    const values = Object.fromEntries(header.map((name, i) => [name, cells[i]]));
    // Empty cells mean "no value": left out of metadata.
    const metadata = Object.fromEntries(
      header.filter((name) => !REQUIRED.includes(name) && values[name].trim()).map((name) => [name, values[name]]),
    );
    const made = makeDocument({ id: values.id, title: values.title, text: values.text, metadata });
    yield made.document ? { document: made.document, ...where } : { problem: { ...where, key: made.key } };
  }
}

const ATX_HEADING = /^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$/;
const SETEXT_UNDERLINE = /^ {0,3}(=+|-+)[ \t]*$/;
const FRONT_MATTER = /^---[ \t]*\n[\s\S]*?\n---[ \t]*\n/;

function heading(content) {
  const lines = content.split("\n");
  let fence = false;
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    if (/^\s*(```|~~~)/.test(line)) {
      fence = !fence;
      continue;
    }
    if (fence) continue;
    const atx = ATX_HEADING.exec(line);
    if (atx) return atx[1].trim();
    const next = lines[i + 1] ?? "";
    if (line.trim() && SETEXT_UNDERLINE.test(next) && !SETEXT_UNDERLINE.test(line)) return line.trim();
  }
  return null;
}

function* fromText(raw, file, kind) {
  let content = raw.replace(/\r\n?/g, "\n").trim();
  if (kind === "markdown") content = content.replace(FRONT_MATTER, "").trim();
  if (!content) {
    yield { problem: { file, line: null, key: "parse.empty" } };
    return;
  }
  const stem = file.replace(/\.[^.]+$/, "");
  let title = ((kind === "markdown" && heading(content)) || stem).split(/\s+/).join(" ");
  if (title.length > TITLE_MAX) title = `${title.slice(0, TITLE_MAX - 1).trimEnd()}…`;
  const made = makeDocument({
    id: idFromName(file),
    title,
    text: content,
    metadata: { path: file, format: kind === "markdown" ? "markdown" : "text" },
  });
  yield made.document ? { document: made.document, file, line: null } : { problem: { file, line: null, key: made.key } };
}

/** The file name when it is a valid id; otherwise its ASCII runs plus a hash of the whole name. */
export function idFromName(name) {
  if (DOC_ID.test(name)) return name;
  const slug = (name.match(/[A-Za-z0-9]+(?:[._:/-][A-Za-z0-9]+)*/g) || []).join("-").slice(0, 150);
  return `${slug || "doc"}-${hash(name)}`;
}

/** 64-bit FNV-1a of the UTF-8 bytes, as 16 hex digits: a stable id suffix (not for security). */
export function hash(text) {
  let h = 0xcbf29ce484222325n;
  for (const byte of encoder.encode(text)) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

/** Documents in request-sized batches: at most BATCH_DOCUMENTS and about BATCH_BYTES each. */
export function batches(documents) {
  const result = [];
  const tooLarge = [];
  let current = [];
  let size = 0;
  documents.forEach((document, index) => {
    const bytes = encoder.encode(JSON.stringify(document)).length + 1;
    if (bytes > BATCH_BYTES) {
      tooLarge.push({ index, document });
      return;
    }
    if (current.length && (size + bytes > BATCH_BYTES || current.length >= BATCH_DOCUMENTS)) {
      result.push(current);
      current = [];
      size = 0;
    }
    current.push(document);
    size += bytes;
  });
  if (current.length) result.push(current);
  return { batches: result, tooLarge };
}
