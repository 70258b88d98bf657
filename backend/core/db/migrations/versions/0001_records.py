"""Doctor accounts, consultation records and the append-only audit trail.

Revision ID: 0001_records
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001_records"
down_revision = None
branch_labels = None
depends_on = None

# The audit trail is append-only for every role, the table owner included: UPDATE and TRUNCATE are
# refused outright, and DELETE only for entries the retention purge removes (it sets medqa.audit_purge
# for its own transaction, and even then an entry younger than the cutoff it names stays).
_AUDIT_GUARD = """
CREATE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.at < coalesce(nullif(current_setting('medqa.audit_purge_before', true), '')::double precision, 0)
    THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'the audit trail is append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("username", sa.Text, primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("valid_after", sa.Double, nullable=False, server_default="0"),
        sa.CheckConstraint("role IN ('doctor', 'admin')", name="accounts_role"),
    )
    op.create_table(
        "consultations",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("summary", JSONB, nullable=False),
        sa.Column("session_sha256", sa.Text, nullable=False),
        sa.CheckConstraint("status IN ('new', 'seen', 'done')", name="consultations_status"),
    )
    op.create_index("consultations_created_at", "consultations", ["created_at"])
    op.create_index("consultations_session", "consultations", ["session_sha256"])
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("source_id", sa.Text, nullable=True, unique=True),
    )
    op.create_index("audit_log_actor", "audit_log", ["actor", "seq"])
    op.create_index("audit_log_record", "audit_log", ["record", "seq"])
    op.create_index("audit_log_at", "audit_log", ["at"])
    op.execute(_AUDIT_GUARD)
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_guard()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_guard()"
    )


def downgrade() -> None:
    raise RuntimeError("the records schema is never downgraded: it would drop the audit trail")
