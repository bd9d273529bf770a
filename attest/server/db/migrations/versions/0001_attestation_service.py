"""The attestation service: clients, challenges, App Attest keys, signing keys, audit events.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Timestamps are naive UTC in the database (attest.server.db.types.UtcDateTime).
Timestamp = sa.DateTime(timezone=False)


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(255), primary_key=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("token_ttl_seconds", sa.Integer(), nullable=False),
        sa.Column("debug_secret_hash", sa.String(255), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "challenges",
        sa.Column("challenge_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("client_id", sa.String(255), sa.ForeignKey("clients.client_id", ondelete="CASCADE"), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("consumed_at", Timestamp, nullable=True),
    )
    op.create_index("ix_challenges_expires_at", "challenges", ["expires_at"])
    op.create_table(
        "app_attest_keys",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(255), sa.ForeignKey("clients.client_id", ondelete="CASCADE"), nullable=False),
        sa.Column("app_id", sa.String(255), nullable=False),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("public_key_der", sa.LargeBinary(), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.Column("receipt", sa.LargeBinary(), nullable=False),
        sa.Column("risk_metric", sa.Integer(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("last_used_at", Timestamp, nullable=True),
        sa.Column("revoked_at", Timestamp, nullable=True),
    )
    op.create_index("ix_app_attest_keys_client_id", "app_attest_keys", ["client_id"])
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("encrypted_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("development", sa.Boolean(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("activated_at", Timestamp, nullable=True),
        sa.Column("retired_at", Timestamp, nullable=True),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=True),
        sa.Column("platform", sa.String(16), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])


def downgrade() -> None:
    for table in ("audit_events", "signing_keys", "app_attest_keys", "challenges", "clients"):
        op.drop_table(table)
