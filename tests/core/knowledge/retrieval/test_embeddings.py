"""The default hashing embedder: what retrieval relies on."""

from __future__ import annotations

import numpy as np

from backend.core.knowledge.retrieval.embeddings import HashingEmbeddings

CORPUS = [
    "高血压是以体循环动脉血压增高为主要特征的临床综合征，可有头痛、头晕、心悸。",
    "糖尿病患者常有多饮、多尿、多食和体重下降。",
    "Glaucoma is a group of eye diseases that damage the optic nerve.",
    "Asthma causes wheezing, breathlessness and chest tightness.",
]


def fitted(dim: int = 512) -> HashingEmbeddings:
    embedder = HashingEmbeddings(dim)
    embedder.fit(CORPUS)
    return embedder


def test_a_question_embeds_the_same_alone_as_in_a_batch() -> None:
    # Questions take the memoised single-text path, documents the batch path: they must agree,
    # or questions would be compared with documents in a slightly different space.
    embedder = fitted()
    questions = ["高血压有哪些症状？", "What are the symptoms of glaucoma?"]
    batch = embedder.embed_array(questions)
    for row, question in enumerate(questions):
        assert np.array_equal(embedder.embed_array([question])[0], batch[row])


def test_the_same_question_gets_each_stores_own_idf() -> None:
    # The memo holds only the store-independent features: two stores fitted on different corpora
    # must still weight the same question differently.
    one, other = fitted(), HashingEmbeddings(512)
    other.fit(CORPUS[2:])
    question = "What causes asthma and glaucoma?"
    assert not np.array_equal(one.embed_array([question]), other.embed_array([question]))


def test_vectors_are_unit_length_and_match_their_own_text_best() -> None:
    embedder = fitted()
    vectors = embedder.embed_array(CORPUS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = embedder.embed_array(["哮喘 wheezing breathlessness"])[0]
    assert int(np.argmax(vectors @ query)) == 3


def test_text_without_features_embeds_to_zero() -> None:
    assert not fitted().embed_array(["？！…"]).any()
