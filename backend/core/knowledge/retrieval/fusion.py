"""Fusing the lexical and the dense ranking of one store (FUSION: rrf or weighted, chosen on dev).

- rrf: reciprocal-rank fusion, sum of 1 / (RRF_K + rank) over both lists; robust to the two
  scores' different scales.
- weighted: FUSION_WEIGHT x lexical relevance + (1 - FUSION_WEIGHT) x dense relevance.
Either way each fused hit's `score` stays a relevance in [0, 1] for thresholds: the weighted blend
of its lexical relevance and its dense relevance (the cosine rescaled from DENSE_FLOOR..1 to 0..1).
"""

from __future__ import annotations

from typing import Literal

RRF_K = 60
Fusion = Literal["rrf", "weighted"]


def dense_relevance(cosine: float, floor: float) -> float:
    return max(0.0, min(1.0, (cosine - floor) / (1 - floor)))


def fuse(
    lexical: list[tuple[float, str]],
    dense: list[tuple[float, str]],
    *,
    method: Fusion,
    weight: float,
    floor: float,
    top_k: int,
) -> list[tuple[float, float, str]]:
    """(rank score, relevance, key) best first, from (relevance, key) and (cosine, key) lists."""
    lex = {key: score for score, key in lexical}
    den = {key: dense_relevance(cosine, floor) for cosine, key in dense}
    relevance = {key: weight * lex.get(key, 0.0) + (1 - weight) * den.get(key, 0.0) for key in lex | den}
    if method == "weighted":
        rank = relevance
    else:
        rank = dict.fromkeys(relevance, 0.0)
        for results in (lexical, dense):
            for position, (_, key) in enumerate(results):
                rank[key] += 1 / (RRF_K + position + 1)
    ordered = sorted(rank, key=lambda key: rank[key], reverse=True)[:top_k]
    return [(rank[key], relevance[key], key) for key in ordered]
