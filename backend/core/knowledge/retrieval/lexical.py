"""The exact lexical index of a store: BM25 over analysed terms, in tantivy (kb/<store>/lexical/).

Why tantivy (bench/retrieval.py and the closing note of issue 14 have the figures): immutable,
memory-mapped segments that every worker shares from the page cache; a write is a new segment and
deletes are tombstones, merged in the background of the writer; block-max WAND top-k. Its BM25
(Lucene's idf, k1 1.2, b 0.75) ranks within 0.005 MRR of the best variant and parameters measured
with bm25s on huatuo26m-dev. Terms come from analysis.py and reach tantivy whitespace-separated.
What moved the ranking was the query's side: how much each of its terms counts (query_terms).
Measured there and not kept: separate unigram/bigram/word fields or boosts (within 0.003), an idf
boost (+0.004 MRR on huatuo, -6 points hit@1 on MedQuAD), pseudo-relevance feedback (-0.05),
dropping the commonest characters (+0.002). Graph synonyms (SYNONYM_WEIGHT) cost 0.005 on huatuo;
they stay for the disease records, which name things the way the graph does.

The index is derived data: built and caught up from the repository's batches by the writer
(indexer.py) under the store's lock, once per version for all workers. A commit holds whole
batches, so a reader sees a batch whole or not at all; the batch it reflects is written to VERSION
after the commit. Applying a batch first deletes whatever that batch added before, so a batch
applied again after a crash between the commit and VERSION is not doubled. (No marker document:
tantivy counts every document, even one without terms, in its BM25 statistics.) Each hit carries
its chunk, stored in the index: search and read come from one snapshot.

`Hit.score` is a relevance in [0, 1]: the BM25 score divided by the most the question's terms could
score (each term's idf x (k1 + 1), the limit of BM25's saturation), i.e. the share of the question's
weighted terms that the passage matches, and how strongly. It compares across questions and stores.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import tantivy

from backend.core.knowledge.retrieval.analysis import Analyzer
from backend.core.knowledge.retrieval.hits import Hit
from backend.core.knowledge.retrieval.question_terms import question_term_weights
from backend.core.knowledge.store.repository import Batch, KnowledgeRepository, chunk_key

K1 = 1.2  # tantivy's BM25 constants, for the relevance bound
WRITER_HEAP = 64_000_000
SYNONYM_WEIGHT = 0.5  # a graph synonym of a question's word counts half as much as the word
# A term said n times in a question counts n ** REPEAT: a patient's story repeats its words
# (疼 ... 疼一下疼一下) more than its subject needs; on huatuo26m-dev 0.5 ranks better than 1 or 0.
REPEAT = 0.5


def _schema() -> Any:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("key", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("doc", stored=False, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("batch", stored=False, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("terms", stored=False, tokenizer_name="whitespace", index_option="freq")
    builder.add_bytes_field("row", stored=True, indexed=False)
    return builder.build()


SCHEMA = _schema()


def lexical_dir(repository: KnowledgeRepository, store: str) -> Path:
    return repository.store_dir(store) / "lexical"


def read_lexicon(directory: Path) -> list[str]:
    path = directory / "lexicon.txt"
    return path.read_text(encoding="utf-8").split("\n") if path.exists() else []


def write_lexicon(directory: Path, words: Iterable[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / f".lexicon-{os.getpid()}"
    staging.write_text("\n".join(sorted(set(words))), encoding="utf-8")
    os.replace(staging, directory / "lexicon.txt")


def indexed_version(directory: Path) -> int:
    """The last batch the index holds (0 for none)."""
    try:
        return int((directory / "VERSION").read_text())
    except FileNotFoundError:
        return 0


def apply_batches(directory: Path, analyzer: Analyzer, batches: Iterable[Batch], version: int) -> int:
    """Add the batches' chunks and tombstone what they removed, in one commit; returns chunks added."""
    index = open_index(directory, create=True)
    writer = index.writer(heap_size=WRITER_HEAP, num_threads=1)
    added = 0
    for batch in batches:
        writer.delete_documents_by_term("batch", str(batch.version))  # a batch applied again
        # Deletes before adds: tantivy applies a delete to the documents added before it, so a
        # replaced document's new chunks in the same batch survive.
        for doc_id in batch.deleted:
            writer.delete_documents_by_term("doc", doc_id)
        for position, chunk in enumerate(batch.chunks):
            row = orjson.dumps(
                {
                    "d": chunk.doc_id,
                    "t": chunk.title,
                    "x": chunk.text,
                    "p": chunk.position,
                    "m": chunk.metadata,
                }
            )
            terms = analyzer.terms(f"{chunk.title}\n{chunk.text}")
            writer.add_document(
                tantivy.Document(
                    key=chunk_key(batch.version, position),
                    doc=chunk.doc_id,
                    batch=str(batch.version),
                    terms=" ".join(terms),
                    row=row,
                )
            )
            added += 1
    writer.commit()
    writer.wait_merging_threads()  # merges of the small new segments: the big ones are left alone
    staging = directory / f".VERSION-{os.getpid()}"
    staging.write_text(str(version))
    os.replace(staging, directory / "VERSION")
    return added


def open_index(directory: Path, *, create: bool = False) -> Any:
    if create:
        directory.mkdir(parents=True, exist_ok=True)
    return tantivy.Index(SCHEMA, path=str(directory), reuse=True)


MAX_CACHED_FREQUENCIES = 100_000  # per opened snapshot: a few MiB at most


class LexicalReader:
    """One opened snapshot of a store's lexical index. Thread-safe: tantivy searchers are."""

    def __init__(self, store: str, directory: Path, analyzer: Analyzer) -> None:
        self.store = store
        self.analyzer = analyzer
        self.version = indexed_version(directory)  # read first: the snapshot is at least this
        self._index = open_index(directory)
        self._searcher = self._index.searcher()
        self.size = self._searcher.num_docs
        # term -> document frequency in this snapshot (immutable, so never stale): asking tantivy
        # for every term of every question was an eighth of an uncached answer's time.
        self._frequencies: dict[str, int] = {}

    def query_terms(self, text: str, synonyms: Iterable[str] = ()) -> dict[str, float]:
        """Term -> weight: its count in the question to the power REPEAT, plus SYNONYM_WEIGHT per
        occurrence in a synonym, times what the term says about an answer (question_terms.py)."""
        said = question_term_weights()
        weights = {term: n**REPEAT for term, n in Counter(self.analyzer.terms(text)).items()}
        for synonym in synonyms:
            for term in self.analyzer.terms(synonym):
                weights[term] = weights.get(term, 0.0) + SYNONYM_WEIGHT
        return {term: weight * said.get(term, 1.0) for term, weight in weights.items()}

    def search(self, weights: dict[str, float], top_k: int) -> list[tuple[float, Any]]:
        """(relevance, address) of the best chunks, best first."""
        if not weights or self.size == 0:
            return []
        searcher = self._searcher
        total = max(1, searcher.num_docs)
        clauses = []
        bound = 0.0
        for term, weight in weights.items():
            query = tantivy.Query.term_query(SCHEMA, "terms", term)
            if weight != 1.0:
                query = tantivy.Query.boost_query(query, weight)
            clauses.append((tantivy.Occur.Should, query))
            # A term the store lacks weighs as its rarest term: with df 0 its idf would grow with
            # nothing but the store's size, and sink every passage of a small store.
            frequency = self._frequencies.get(term)
            if frequency is None:
                if len(self._frequencies) >= MAX_CACHED_FREQUENCIES:
                    self._frequencies = {}  # a rare flood of new terms; the common ones come back
                frequency = self._frequencies[term] = max(1, searcher.doc_freq("terms", term))
            bound += weight * math.log(1 + (total - frequency + 0.5) / (frequency + 0.5)) * (K1 + 1)
        found = searcher.search(tantivy.Query.boolean_query(clauses), top_k).hits
        return [(min(1.0, score / bound), address) for score, address in found]

    def hit(self, relevance: float, address: Any) -> Hit:
        document = self._searcher.doc(address)
        row = orjson.loads(document["row"][0])
        key = document["key"][0]
        return Hit(self.store, row["d"], row["t"], row["x"], round(relevance, 4), row["m"] or {}, key)

    def by_key(self, key: str) -> Any | None:
        """The address of a chunk by its key in this snapshot; None when it is deleted here."""
        found = self._searcher.search(tantivy.Query.term_query(SCHEMA, "key", key), 1).hits
        return found[0][1] if found else None
