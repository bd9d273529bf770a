"""Passkeys: accounts, their WebAuthn credentials, ceremonies and sessions; the subject of audit events.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Timestamps are naive UTC in the database (attest.server.db.types.UtcDateTime).
Timestamp = sa.DateTime(timezone=False)


def upgrade() -> None:
    op.create_table(
        "webauthn_users",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_handle", sa.LargeBinary(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("email", sa.String(255), nullable=True),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.UniqueConstraint("user_handle", name="uq_webauthn_users_user_handle"),
        sa.UniqueConstraint("username", name="uq_webauthn_users_username"),
    )
    op.create_table(
        "webauthn_credentials",
        sa.Column("credential_id", sa.LargeBinary(1023), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("webauthn_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", sa.JSON(), nullable=False),
        sa.Column("aaguid", sa.String(36), nullable=False),
        sa.Column("backup_eligible", sa.Boolean(), nullable=False),
        sa.Column("backup_state", sa.Boolean(), nullable=False),
        sa.Column("uv_initialized", sa.Boolean(), nullable=False),
        sa.Column("attestation_format", sa.String(32), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("last_used_at", Timestamp, nullable=True),
    )
    op.create_index("ix_webauthn_credentials_user_id", "webauthn_credentials", ["user_id"])
    op.create_table(
        "webauthn_ceremonies",
        sa.Column("ceremony_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("challenge", sa.LargeBinary(32), nullable=False),
        sa.Column("binding_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("require_user_verification", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("webauthn_users.id", ondelete="CASCADE"), nullable=True),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("display_name", sa.String(64), nullable=True),
        sa.Column("user_handle", sa.LargeBinary(64), nullable=True),
        sa.Column("credential_id", sa.LargeBinary(1023), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("consumed_at", Timestamp, nullable=True),
    )
    op.create_index("ix_webauthn_ceremonies_expires_at", "webauthn_ceremonies", ["expires_at"])
    op.create_table(
        "passkey_sessions",
        sa.Column("token_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("webauthn_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(1023), nullable=False),
        sa.Column("user_verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("ended_at", Timestamp, nullable=True),
    )
    op.create_index("ix_passkey_sessions_user_id", "passkey_sessions", ["user_id"])
    op.create_index("ix_passkey_sessions_expires_at", "passkey_sessions", ["expires_at"])
    op.add_column("audit_events", sa.Column("subject", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("subject")
    for table in ("passkey_sessions", "webauthn_ceremonies", "webauthn_credentials", "webauthn_users"):
        op.drop_table(table)
