"""Alembic environment: the engine comes from the caller (attest.server.db.migrate)."""

from __future__ import annotations

from alembic import context

from attest.server.db.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
