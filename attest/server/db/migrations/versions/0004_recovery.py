"""Email verification and account recovery: mailed one-time secrets, recovery sessions, the mail outbox,
and one account per verified address.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Timestamps are naive UTC in the database (attest.server.db.types.UtcDateTime).
Timestamp = sa.DateTime(timezone=False)


def upgrade() -> None:
    op.create_table(
        "email_secrets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("webauthn_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("code_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("consumed_at", Timestamp, nullable=True),
        sa.Column("superseded_at", Timestamp, nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_email_secrets_token_hash"),
    )
    op.create_index("ix_email_secrets_user_id", "email_secrets", ["user_id"])
    op.create_table(
        "recovery_sessions",
        sa.Column("token_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("webauthn_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(1023), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("ended_at", Timestamp, nullable=True),
    )
    op.create_index("ix_recovery_sessions_user_id", "recovery_sessions", ["user_id"])
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("not_after", Timestamp, nullable=False),
        sa.Column("next_attempt_at", Timestamp, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", Timestamp, nullable=True),
        sa.Column("claim", sa.String(32), nullable=True),
        sa.Column("sent_at", Timestamp, nullable=True),
        sa.Column("failed_at", Timestamp, nullable=True),
        sa.Column("last_error", sa.String(128), nullable=True),
        sa.UniqueConstraint("message_id", name="uq_email_outbox_message_id"),
    )
    op.create_index("ix_email_outbox_next_attempt_at", "email_outbox", ["next_attempt_at"])
    # A partial unique index: any number of accounts may name an unverified address, one may verify it.
    op.create_index(
        "uq_webauthn_users_verified_email",
        "webauthn_users",
        ["email"],
        unique=True,
        postgresql_where=sa.text("email_verified"),
        sqlite_where=sa.text("email_verified"),
    )


def downgrade() -> None:
    op.drop_index("uq_webauthn_users_verified_email", table_name="webauthn_users")
    for table in ("email_outbox", "recovery_sessions", "email_secrets"):
        op.drop_table(table)
