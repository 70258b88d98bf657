"""How much a term of a question counts in the lexical query (question_terms.json, reviewed data).

Patient questions carry their own phrasing (怎么办, 请问, 我想问, 最近, 吗 ...) that answers rarely
repeat; BM25 gives those words a high idf because answers rarely contain them, and an answer that
happens to is pulled ahead of the one about the question's subject. The weights are measured, not
picked: a term's share of question/answer pairs whose answer repeats it, against the average share,
on a public dialogue corpus (bench/question_terms.py regenerates the file and says how). Only the
terms that clearly come back less than the average are listed, never a word of the medical
dictionary; any other term weighs 1, so English questions and a doctor's terse query are untouched.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

WEIGHTS_PATH = Path(__file__).with_name("question_terms.json")


@lru_cache(maxsize=1)
def question_term_weights() -> dict[str, float]:
    data = json.loads(WEIGHTS_PATH.read_text(encoding="utf-8"))
    weights: dict[str, float] = data["weights"]
    for term, weight in weights.items():
        if not 0 < weight <= 1:
            raise ValueError(f"question_terms.json: {term} weighs {weight}, outside (0, 1]")
    return weights
