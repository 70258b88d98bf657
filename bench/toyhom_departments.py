"""Department labels of the Toyhom Chinese medical dialogue data mapped onto the product's taxonomy.

    python -m bench.toyhom_departments

The triage benchmark asks our service which department a patient's question belongs to and compares
the answer with the department the question was filed under in a public data set:
https://github.com/Toyhom/Chinese-medical-dialogue-data (MIT License, "Copyright (c) 2019 Toyhom").
Its CSVs have the header ``department,title,ask,answer``. Only the 内科 sample
(``样例_内科5000-6000.csv``: 7,644 rows) is staged, read-only, under
../shared/data/toyhom-chinese-medical-dialogue, once with the original GB18030 bytes and once transcoded
to UTF-8; the six full CSVs (男科, 内科, 妇产科, 肿瘤科, 儿科, 外科) are not available. The data set is
never copied into this repository: only the label names below were taken from it, and
``load_cases`` reads the questions from wherever the data set lies at run time.

``DEPARTMENT_MAP`` sends each raw ``department`` label to the ``name`` of the closest clinical
department in backend/core/knowledge/starter/departments.json.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TAXONOMY_PATH = PROJECT_ROOT / "backend" / "core" / "knowledge" / "starter" / "departments.json"
DATA_ROOT = PROJECT_ROOT.parent / "shared" / "data" / "toyhom-chinese-medical-dialogue"

# Every label in the staged CSVs, with its row count there (7,644 rows; counts are per copy of the file).
DEPARTMENT_MAP: dict[str, str] = {
    # 3,121 rows. In Chinese hospitals 肝病科 is usually run together with 感染科 (感染科/肝病科); about
    # two thirds of these questions are on viral hepatitis (乙肝, 大三阳/小三阳, 丙肝), which the starter
    # knowledge base also files under 感染科. The rest (肝硬化, 脂肪肝, 酒精肝) would also fit 消化内科.
    "肝病科": "感染科",
    "消化科": "消化内科",  # 1,414
    "神经科": "神经内科",  # 1,104; a sub-department of 内科 here (epilepsy, headache, stroke ...)
    "心血管科": "心血管内科",  # 1,080
    "内分泌科": "内分泌科",  # 558
    "呼吸科": "呼吸内科",  # 152
    "肾内科": "肾内科",  # 80
    "感染科": "感染科",  # 45
    "血液科": "血液科",  # 40
    "风湿免疫科": "风湿免疫科",  # 18
}
# Left out on purpose:
# - 普通内科 (32 rows, "general internal medicine"): too generic to be a triage target. Its questions are
#   mostly about stomach pain (消化内科) but also facial palsy, dehydration, hip necrosis; 全科医学科 is
#   a different service (general practice), so no taxonomy name is the right answer for the label itself.

_ENCODINGS = ("utf-8", "gb18030")


def _decode(raw: bytes) -> tuple[str, bool]:
    """The file's text and whether it decoded cleanly: UTF-8 if it is valid UTF-8, else GB18030 (which
    covers GBK/GB2312). Undecodable bytes become U+FFFD in the encoding that produces fewest of them."""
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    for encoding in _ENCODINGS:
        try:
            return raw.decode(encoding), True
        except UnicodeDecodeError:
            pass
    texts = [raw.decode(encoding, errors="replace") for encoding in _ENCODINGS]
    return min(texts, key=lambda text: text.count("\ufffd")), False


def _file_rows(path: Path) -> list[tuple[str, str]]:
    """(department, ask) for every readable row of one CSV; rows that are malformed, lack a column, or
    hold undecodable bytes are skipped. An empty list if the header has no department or ask column."""
    text, clean = _decode(path.read_bytes())
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or "department" not in header or "ask" not in header:
        return []
    department_at, ask_at = header.index("department"), header.index("ask")
    width = max(department_at, ask_at) + 1
    rows: list[tuple[str, str]] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            continue
        if len(row) < width:
            continue
        department, ask = row[department_at].strip(), row[ask_at].strip()
        if not clean and ("\ufffd" in department or "\ufffd" in ask):
            continue
        rows.append((department, ask))
    return rows


def iter_rows(root: Path) -> Iterator[tuple[str, str]]:
    """(raw department label, ask text) for every readable row of the CSVs under root, files in sorted
    path order. A file whose rows equal those of a file already read (the data set ships the same sample
    both as GB18030 and as UTF-8) is skipped, so no question is counted twice."""
    seen: list[list[tuple[str, str]]] = []
    for path in sorted(root.rglob("*.csv")):
        rows = _file_rows(path)
        if not rows or rows in seen:
            continue
        seen.append(rows)
        yield from rows


def load_cases(root: Path, limit: int | None = None) -> list[tuple[str, str]]:
    """(ask text, taxonomy department name) for the rows under root whose department is in DEPARTMENT_MAP
    and whose ask is not empty, in file and row order; at most limit of them if limit is given."""
    cases: list[tuple[str, str]] = []
    if limit is not None and limit <= 0:
        return cases
    for department, ask in iter_rows(root):
        target = DEPARTMENT_MAP.get(department)
        if target is None or not ask:
            continue
        cases.append((ask, target))
        if limit is not None and len(cases) >= limit:
            break
    return cases


def taxonomy_names(path: Path = TAXONOMY_PATH) -> set[str]:
    """The Chinese ``name`` of every department in the product's taxonomy."""
    rows: list[dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    return {row["name"] for row in rows}


def main() -> None:
    names = taxonomy_names()
    unknown = sorted(set(DEPARTMENT_MAP.values()) - names)
    assert not unknown, f"DEPARTMENT_MAP targets missing from {TAXONOMY_PATH.name}: {unknown}"

    raw = Counter(department for department, _ in iter_rows(DATA_ROOT))
    total = sum(raw.values())
    cases = load_cases(DATA_ROOT)
    mapped = Counter(target for _, target in cases)

    print(f"{total} rows under {DATA_ROOT}, {len(raw)} distinct department labels")
    print("rows per raw label:")
    for label, count in raw.most_common():
        print(f"  {label:<8}{count:>6}  -> {DEPARTMENT_MAP.get(label, '(not mapped)')}")
    share = len(cases) / total if total else 0.0
    print(f"mapped: {len(cases)} of {total} rows ({share:.1%})")
    print("distribution over taxonomy names:")
    for name, count in mapped.most_common():
        print(f"  {name:<8}{count:>6}  {count / len(cases):6.1%}")


if __name__ == "__main__":
    main()
