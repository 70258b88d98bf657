"""Reviewed word lists as regular expressions, and numbers as patients write them.

One way to turn a rule file's list into a pattern, for who.toml (profile.py) and the dialogue's
rules alike: Chinese entries match anywhere (Chinese has no spaces to bound a word), English (ASCII)
ones as whole words, case-insensitive, longest entry first so "好像没有" wins over "好像".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_CN_VALUES = dict(zip("零一二两三四五六七八九", (0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True))
CN_NUMERALS = "零一二两三四五六七八九十百"


def alternation(words: Iterable[str]) -> str:
    """The words as one regex alternation (no group around it), longest first."""
    parts = [
        rf"(?<![a-z]){_spaced(word)}(?![a-z])" if word.isascii() else re.escape(word)
        for word in sorted(set(words), key=len, reverse=True)
    ]
    # An empty list must match nothing, not everything.
    return "|".join(parts) or r"(?!x)x"


def word_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """One pattern for a word list, found anywhere in a text."""
    return re.compile(alternation(words), re.IGNORECASE)


def any_pattern(patterns: Iterable[str]) -> re.Pattern[str]:
    """One pattern for a list of regular expressions."""
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns) or r"(?!x)x", re.IGNORECASE)


def _spaced(word: str) -> str:
    # "not really" also matches "not  really": patients' spacing varies.
    return r"\s+".join(re.escape(part) for part in word.split())


def parse_number(raw: str) -> float | None:
    """A number written in digits or in Chinese numerals up to 199 ("三十五", "十四", "两")."""
    if not raw:
        return None
    if raw[0].isdigit():
        try:
            return float(raw)
        except ValueError:
            return None
    if any(ch not in _CN_VALUES and ch not in "十百" for ch in raw):
        return None
    if "十" not in raw:
        return float(_CN_VALUES[raw[-1]]) if len(raw) == 1 else None
    tens, _, ones = raw.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    value = (_CN_VALUES.get(tens, 0) if tens else 1) * 10 + (_CN_VALUES.get(ones, 0) if ones else 0)
    return float(value)
