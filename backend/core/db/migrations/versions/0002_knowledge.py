"""Knowledge stores: batches, chunks, live documents and records, stored embeddings.

Revision ID: 0002_knowledge
Revises: 0001_records
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002_knowledge"
down_revision = "0001_records"
branch_labels = None
depends_on = None


def _batch_key() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["store", "version"], ["kb_batches.store", "kb_batches.version"], ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "kb_stores",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("batch_id", sa.Text, nullable=False),
        sa.Column("info", JSONB, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("deleted_at", sa.Double, nullable=True),
    )
    op.create_table(
        "kb_batches",
        sa.Column("store", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("batch_id", sa.Text, nullable=False, unique=True),
        sa.Column("deleted", JSONB, nullable=False),
        sa.Column("info", JSONB, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.ForeignKeyConstraint(["store"], ["kb_stores.name"], ondelete="CASCADE"),
    )
    op.create_table(
        "kb_chunks",
        sa.Column("store", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("ordinal", sa.Integer, primary_key=True),
        sa.Column("doc_id", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("metadata", JSONB, nullable=False),
        _batch_key(),
    )
    for name in ("kb_documents", "kb_records"):
        payload = (
            [sa.Column("record", JSONB, nullable=False)]
            if name == "kb_records"
            else [
                sa.Column("title", sa.Text, nullable=False),
                sa.Column("text", sa.Text, nullable=False),
                sa.Column("metadata", JSONB, nullable=False),
            ]
        )
        op.create_table(
            name,
            sa.Column("store", sa.Text, primary_key=True),
            sa.Column("doc_id", sa.Text, primary_key=True),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("ordinal", sa.Integer, nullable=False),
            *payload,
            _batch_key(),
        )
        op.create_index(f"{name}_order", name, ["store", "version", "ordinal"])
    op.create_table(
        "kb_embeddings",
        sa.Column("store", sa.Text, primary_key=True),
        sa.Column("model", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("vectors", sa.LargeBinary, nullable=False),
        _batch_key(),
    )


def downgrade() -> None:
    for name in ("kb_embeddings", "kb_records", "kb_documents", "kb_chunks", "kb_batches", "kb_stores"):
        op.drop_table(name)
