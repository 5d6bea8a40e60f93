"""a brand's queue (open, unassigned conversations) by index

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 19:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Partial: only the waiting conversations are in it, so reading a queue costs its length,
# not the brand's history. SQLite and PostgreSQL both keep partial indexes.
WAITING = sa.text("status = 'open' AND assignee_id IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_conversations_queue", "conversations", ["brand_id"],
        sqlite_where=WAITING, postgresql_where=WAITING,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_conversations_queue", table_name="conversations")
