"""Knowledge stores in the system of record: a version per store, documents, chunks, embeddings.

Revision ID: 0002_knowledge
Revises: 0001_records
Create Date: 2026-12-02

The tables issue 15 part 2 puts behind KnowledgeRepository (not wired yet: the repository still
writes DATA_DIR/kb). Indexes (tantivy, FAISS) stay derived data in each replica's cache; a store's
`version` is what replicas poll and what a write bumps in the transaction that changes its rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002_knowledge"
down_revision = "0001_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_stores",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("embedding_model", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    op.create_table(
        "kb_documents",
        sa.Column("store", sa.Text, sa.ForeignKey("kb_stores.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("doc_id", sa.Text, primary_key=True),
        sa.Column("document", JSONB, nullable=False),
        # The store version that last wrote it: a replica catching up reads only what is newer.
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.create_index("kb_documents_version", "kb_documents", ["store", "version"])
    op.create_table(
        "kb_chunks",
        sa.Column("store", sa.Text, primary_key=True),
        sa.Column("doc_id", sa.Text, primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        # float32 little-endian, as FAISS takes it: a replica with an empty cache never re-embeds.
        sa.Column("embedding", sa.LargeBinary, nullable=True),
        sa.ForeignKeyConstraint(
            ["store", "doc_id"], ["kb_documents.store", "kb_documents.doc_id"], ondelete="CASCADE"
        ),
    )
    # Deleted documents, so a replica that missed the delete drops them from its index too.
    op.create_table(
        "kb_tombstones",
        sa.Column("store", sa.Text, sa.ForeignKey("kb_stores.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("doc_id", sa.Text, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kb_tombstones")
    op.drop_table("kb_chunks")
    op.drop_index("kb_documents_version", table_name="kb_documents")
    op.drop_table("kb_documents")
    op.drop_table("kb_stores")
