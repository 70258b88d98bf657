"""backend/core/text.py: one normal form for free text, no control characters or broken surrogates."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from backend.core.text import CleanText, without_controls


class Model(BaseModel):
    text: CleanText


def test_text_is_brought_to_one_unicode_form() -> None:
    decomposed = "cafe\u0301 高血压"
    assert Model(text=decomposed).text == "café 高血压"


@pytest.mark.parametrize("bad", ["a\x00b", "bell\x07", "esc\x1b[31m", "c1\x85", "lone \ud800 surrogate"])
def test_control_characters_and_lone_surrogates_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        Model(text=bad)


def test_tabs_and_line_breaks_are_text() -> None:
    assert Model(text="第一行\n第二行\t完").text == "第一行\n第二行\t完"


def test_imported_text_loses_its_control_characters_instead() -> None:
    assert without_controls("page one\x0cpage two\x00") == "page onepage two"
