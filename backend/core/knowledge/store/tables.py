"""The knowledge stores' tables in the system of record (migration 0002_knowledge creates them).

A store is a log of write batches, as on disk (repository.py): `kb_batches` holds each batch with the
chunks it added (`kb_chunks`) and the ids it removed; `kb_documents` and `kb_records` hold the live
documents (whole, so a store can be exported and re-chunked) and structured disease records;
`kb_embeddings` the stored vectors of a batch's chunks per model, computed once. `kb_stores` has
one row per store with its live version; a deleted store keeps its row (deleted_at set) so a store
created again under the name continues the version sequence and no replica mistakes it for the old.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

from backend.core.db.schema import metadata


def _batch_key() -> ForeignKeyConstraint:
    """A row belongs to one batch, and goes with it (a deleted store's batches are deleted)."""
    return ForeignKeyConstraint(
        ["store", "version"], ["kb_batches.store", "kb_batches.version"], ondelete="CASCADE"
    )


kb_stores = Table(
    "kb_stores",
    metadata,
    Column("name", Text, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("batch_id", Text, nullable=False),
    Column("info", JSONB, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("deleted_at", Double, nullable=True),
)

kb_batches = Table(
    "kb_batches",
    metadata,
    Column("store", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("batch_id", Text, nullable=False, unique=True),
    Column("deleted", JSONB, nullable=False),
    Column("info", JSONB, nullable=False),
    Column("created_at", Double, nullable=False),
    ForeignKeyConstraint(["store"], ["kb_stores.name"], ondelete="CASCADE"),
)

kb_chunks = Table(
    "kb_chunks",
    metadata,
    Column("store", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("ordinal", Integer, primary_key=True),  # the chunk's place in its batch: its index key
    Column("doc_id", Text, nullable=False),
    Column("position", Integer, nullable=False),  # its place in its document
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("metadata", JSONB, nullable=False),
    _batch_key(),
)

kb_documents = Table(
    "kb_documents",
    metadata,
    Column("store", Text, primary_key=True),
    Column("doc_id", Text, primary_key=True),
    Column("version", Integer, nullable=False),  # the batch that added it
    Column("ordinal", Integer, nullable=False),  # its place in that batch: store order
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("metadata", JSONB, nullable=False),
    _batch_key(),
    Index("kb_documents_order", "store", "version", "ordinal"),
)

kb_records = Table(
    "kb_records",
    metadata,
    Column("store", Text, primary_key=True),
    Column("doc_id", Text, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("record", JSONB, nullable=False),
    _batch_key(),
    Index("kb_records_order", "store", "version", "ordinal"),
)

kb_embeddings = Table(
    "kb_embeddings",
    metadata,
    Column("store", Text, primary_key=True),
    Column("model", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("vectors", LargeBinary, nullable=False),  # a .npy file: float32 rows, one per chunk
    _batch_key(),
)
