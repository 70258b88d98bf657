"""Kept for callers of the hashed-vector release: a hit now lives in retrieval/hits.py."""

from backend.core.knowledge.retrieval.hits import Hit

__all__ = ["Hit"]
