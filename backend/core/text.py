"""Text that arrives from anyone: one normal form, and nothing that is not text.

`CleanText` is the type of every free-text field and parameter the APIs accept. It brings the text
to Unicode NFC (so the same words always compare, hash and cache alike) and refuses control
characters other than tab and line breaks, and unpaired surrogates, which JSON can carry but no
encoder can write back: they would otherwise fail deep inside a store or a log line.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_FORBIDDEN = re.compile(rf"[{_CONTROLS}\ud800-\udfff]")
_CONTROL = re.compile(rf"[{_CONTROLS}]")


def without_controls(value: str) -> str:
    """For data an operator imports (form feeds from converted PDFs...), where dropping beats refusing."""
    return _CONTROL.sub("", value)


def clean_text(value: str) -> str:
    if _FORBIDDEN.search(value):
        raise ValueError("must not contain control characters or unpaired surrogates")
    return unicodedata.normalize("NFC", value)


# The same rule in the OpenAPI schema (ECMA-262 escapes), so clients and generated tests know it.
_SCHEMA_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]*$"

CleanText = Annotated[str, AfterValidator(clean_text), Field(json_schema_extra={"pattern": _SCHEMA_PATTERN})]


Language = Literal["zh", "en"]
CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff]")


def detect_language(text: str) -> Language:
    """Chinese when the text holds any CJK character: patients mix English words into Chinese."""
    return "zh" if CJK.search(text) else "en"
