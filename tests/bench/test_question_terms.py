"""The question-term table: phrasing only, and what its generator gives from the data."""

from __future__ import annotations

import pytest

from backend.core.knowledge.retrieval.analysis import Analyzer
from backend.core.knowledge.retrieval.question_terms import question_term_weights
from bench.question_terms import THUOCL, TOYHOM, starter_words, weights


def test_no_word_of_the_medical_dictionary_is_down_weighted() -> None:
    """The graph's names, aliases and symptoms (and THUOCL, when staged) name a subject: they weigh 1."""
    assert not set(question_term_weights()) & set(starter_words())


def test_a_term_answers_never_repeat_is_listed_and_one_they_repeat_is_not() -> None:
    pairs = [("请问胃痛怎么办", "胃痛可服药")] * 30 + [("头晕", "头晕多休息")] * 30
    table, average = weights(pairs, Analyzer(), {"胃痛"})
    assert "请问" in table
    assert "么办" in table
    assert "胃痛" not in table  # a medical word: never listed
    assert "头晕" not in table  # repeated by every answer
    assert 0 < average < 1


@pytest.mark.skipif(not (TOYHOM.exists() and THUOCL.exists()), reason="public data sets not staged")
def test_the_table_is_what_the_data_give() -> None:
    from bench.question_terms import main

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.argv", ["question_terms", "--check"])
        main()
