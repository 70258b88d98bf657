"""The tables of the system of record, as SQLAlchemy Core metadata (migrations create them).

Other sub-domains add their own tables in further migrations; this module holds only the records'.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Double,
    Identity,
    Index,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("username", Text, primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("valid_after", Double, nullable=False, server_default="0"),
    CheckConstraint("role IN ('doctor', 'admin')", name="accounts_role"),
)

consultations = Table(
    "consultations",
    metadata,
    Column("id", Text, primary_key=True),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("status", Text, nullable=False),
    Column("department", Text, nullable=False),
    Column("summary", JSONB, nullable=False),
    Column("session_sha256", Text, nullable=False),
    CheckConstraint("status IN ('new', 'seen', 'done')", name="consultations_status"),
    Index("consultations_created_at", "created_at"),
    Index("consultations_session", "session_sha256"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, Identity(always=True), primary_key=True),
    Column("at", Double, nullable=False),
    Column("actor", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("record", Text, nullable=False),
    # Where an imported entry came from (its Redis stream id), so a second import skips it.
    Column("source_id", Text, nullable=True, unique=True),
    Index("audit_log_actor", "actor", "seq"),
    Index("audit_log_record", "record", "seq"),
    Index("audit_log_at", "at"),
)
