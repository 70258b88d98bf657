"""The CMtMedQA dev split (patients' first messages with coarse departments) against our taxonomy.

    python -m bench.cmtmedqa_departments

../shared/data/cmtmedqa-dev/CMtMedQA_dev.jsonl (from SupritYoung/Zhongjing, Apache-2.0) holds 400
real first messages of online consultations, each labelled with a coarse hospital department
(`cate1`). It is read at run time and never copied here. Its README asks us to map the taxonomy's
departments onto those coarse labels; COARSE is that map, one line per department:

- the set files allergy (过敏: allergic rhinitis, asthma, urticaria, chronic cough) under 皮肤科, as
  many Chinese hospitals run the allergy clinic from dermatology: 变态反应科 counts as 皮肤科;
- 皮肤性病科 and 皮肤科 are one label, as are 传染科 and 传染病科;
- 全科医学科, 急诊科, 康复医学科 and 临床营养科 match no label: a complaint sent there counts as a miss.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from bench.toyhom_departments import PROJECT_ROOT, taxonomy_names

DATA_PATH = PROJECT_ROOT.parent / "shared" / "data" / "cmtmedqa-dev" / "CMtMedQA_dev.jsonl"

COARSE: dict[str, str] = {
    "皮肤科": "皮肤科",
    "变态反应科": "皮肤科",
    "普外科": "外科",
    "骨科": "外科",
    "泌尿外科": "外科",
    "神经外科": "外科",
    "心胸外科": "外科",
    "烧伤科": "外科",
    "肛肠科": "外科",
    "乳腺外科": "外科",
    "医疗美容科": "整形美容",
    "儿科": "儿科",
    "新生儿科": "儿科",
    "小儿外科": "儿科",
    "眼科": "五官科",
    "耳鼻咽喉科": "五官科",
    "口腔科": "五官科",
    "妇科": "妇产科",
    "产科": "妇产科",
    "计划生育科": "妇产科",
    "生殖医学科": "妇产科",
    "肿瘤科": "肿瘤科",
    "中医科": "中医科",
    "呼吸内科": "内科",
    "消化内科": "内科",
    "神经内科": "内科",
    "心血管内科": "内科",
    "血液科": "内科",
    "肾内科": "内科",
    "内分泌科": "内科",
    "风湿免疫科": "内科",
    "老年医学科": "内科",
    "男科": "男科",
    "精神心理科": "心理科",
    "感染科": "传染病科",
}
_SAME_LABEL = {"皮肤性病科": "皮肤科", "传染科": "传染病科"}


def load_cases(path: Path = DATA_PATH) -> list[tuple[str, str]]:
    """(complaint, coarse label) for every line of the split, in file order."""
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            cases.append((row["complaint"], _SAME_LABEL.get(row["cate1"], row["cate1"])))
    return cases


def coarse_ranking(departments: list[str]) -> list[str]:
    """Our ranked departments as the split's labels, first occurrence kept ("?" for no label)."""
    return list(dict.fromkeys(COARSE.get(name, "?") for name in departments))


def main() -> None:
    unknown = sorted(set(COARSE) - taxonomy_names())
    assert not unknown, f"COARSE names departments the taxonomy lacks: {unknown}"
    cases = load_cases()
    print(f"{len(cases)} cases; labels:")
    for label, count in Counter(label for _, label in cases).most_common():
        print(f"  {label:<6}{count:>5}  {count / len(cases):6.1%}")
    unmapped = sorted(taxonomy_names() - set(COARSE))
    print("departments that match no label: " + "、".join(unmapped))


if __name__ == "__main__":
    main()
