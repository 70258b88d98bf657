"""Text analysis for the lexical index: the terms a passage or a question is made of.

- Chinese: every character and every pair of neighbouring characters of a CJK run, plus the
  dictionary words of three characters or more found in it (a two-character word is already a
  bigram). The dictionary is the knowledge graph's names and aliases and, optionally, a user word
  list (LEXICON_USER_DICT); matching is Aho-Corasick over the run, all matches, so no segmenter's
  guess can hide a word. No jieba: its 5 MB dictionary and model would load in every worker.
- Other scripts: words, lower-cased, English stopwords dropped, Snowball-stemmed (PyStemmer, C).
- NFKC first, so full-width letters and digits meet their ASCII forms.

Terms need no namespace: unigrams have one character, bigrams two, dictionary words three or more,
and Latin words never contain CJK characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import ahocorasick
import Stemmer

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_CJK_START = 0x3400
MIN_WORD = 3  # dictionary words shorter than this are bigrams already
MAX_WORD = 12

# English words that carry no topic: without this, "What is the ..." matches every English passage.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "and",
        "or",
        "but",
        "not",
        "no",
        "if",
        "so",
        "than",
        "then",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "she",
        "they",
        "them",
        "his",
        "her",
        "their",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "have",
        "has",
        "had",
        "there",
        "here",
        "about",
        "into",
        "over",
        "under",
        "again",
        "very",
        "just",
        "any",
        "some",
        "all",
        "each",
        "more",
        "most",
        "other",
        "such",
        "only",
        "own",
        "same",
        "too",
        "also",
        "get",
        "got",
    ]
)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    return Stemmer.Stemmer("english")


def read_user_dictionary(path: str) -> list[str]:
    """Words of a user dictionary file: one per line, the word first (jieba/THUOCL `word<TAB>freq`)."""
    if not path:
        return []
    words = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        word = line.split("\t", 1)[0].split(" ", 1)[0].strip()
        if word:
            words.append(word)
    return words


class Analyzer:
    """Turns text into index terms. Immutable after construction; safe to share between threads."""

    def __init__(self, words: Iterable[str] = ()) -> None:
        automaton = ahocorasick.Automaton()
        count = 0
        for word in words:
            key = unicodedata.normalize("NFKC", word).strip().lower()
            wanted = MIN_WORD <= len(key) <= MAX_WORD and _RUN.fullmatch(key) and ord(key[0]) >= _CJK_START
            if wanted and key not in automaton:
                automaton.add_word(key, key)
                count += 1
        self.words = count
        self._automaton: Any = None
        if count:
            automaton.make_automaton()
            self._automaton = automaton

    def terms(self, text: str) -> list[str]:
        """The terms of `text` in reading order, repeated as often as they occur (term frequency)."""
        out: list[str] = []
        stem = _stemmer().stemWord
        for run in _RUN.findall(unicodedata.normalize("NFKC", text).lower()):
            if ord(run[0]) >= _CJK_START:
                out.extend(run)
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
                if self._automaton is not None and len(run) >= MIN_WORD:
                    out.extend(word for _, word in self._automaton.iter(run))
            elif run not in STOPWORDS:
                out.append(stem(run))
        return out
