"""service quality (case timings, ratings), opening hours, notices and canned replies

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 05:41:38
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sqlmodel.sql.sqltypes.AutoString(length=40)
SYSTEM_ACCOUNT_ID = "a_system"  # gateway.stores.service.SYSTEM_ACCOUNT_ID


def upgrade() -> None:
    op.create_table(
        "canned_replies",
        sa.Column("id", _ID, nullable=False),
        sa.Column("brand_id", _ID, nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("canned_replies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_canned_replies_brand_id"), ["brand_id"], unique=False)

    op.create_table(
        "follows",
        sa.Column("brand_id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"]),
        sa.PrimaryKeyConstraint("brand_id", "account_id"),
    )
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_follows_account_id"), ["account_id"], unique=False)

    op.create_table(
        "notices",
        sa.Column("id", _ID, nullable=False),
        sa.Column("brand_id", _ID, nullable=False),
        sa.Column("author_id", _ID, nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fanout_owner", _ID, nullable=True),
        sa.Column("fanout_after", _ID, nullable=True),
        sa.Column("fanout_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fanned_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["author_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notices_brand_created", ["brand_id", "created_at", "id"], unique=False
        )

    with op.batch_alter_table("brands", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hours", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("auto_assign", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    # Cases learn their brand (for the per-brand figures), filled in from the conversations.
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("brand_id", _ID, nullable=True))
    op.execute(
        "UPDATE cases SET brand_id = (SELECT conversations.brand_id FROM conversations"
        " WHERE conversations.id = cases.conversation_id)"
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.alter_column("brand_id", existing_type=_ID, nullable=False)
        batch_op.add_column(sa.Column("first_response_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("first_responder_id", _ID, nullable=True))
        batch_op.add_column(sa.Column("resolver_id", _ID, nullable=True))
        batch_op.add_column(sa.Column("score", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True)
        )
        batch_op.add_column(sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))
        # sa.false(), not text('0'): PostgreSQL refuses an integer default on a boolean.
        batch_op.add_column(
            sa.Column("auto_replied", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(
            "ix_cases_brand_first_response", ["brand_id", "first_response_at"], unique=False
        )
        batch_op.create_index("ix_cases_brand_resolved", ["brand_id", "resolved_at"], unique=False)
        batch_op.create_foreign_key(
            "fk_cases_first_responder_id", "accounts", ["first_responder_id"], ["id"]
        )
        batch_op.create_foreign_key("fk_cases_brand_id", "brands", ["brand_id"], ["id"])
        batch_op.create_foreign_key("fk_cases_resolver_id", "accounts", ["resolver_id"], ["id"])
    # Cases answered before this revision: their first response time, from the two moments
    # the cases table already kept (else the public median would leave them out).
    if op.get_bind().dialect.name == "postgresql":
        seconds = "EXTRACT(EPOCH FROM first_response_at - opened_at)"
    else:
        seconds = "(julianday(first_response_at) - julianday(opened_at)) * 86400.0"
    op.execute(
        f"UPDATE cases SET first_response_s = {seconds}"
        " WHERE first_response_at IS NOT NULL AND first_response_s IS NULL"
    )

    # The author of automatic system messages (PROTOCOL 3: role "system"). It can never sign
    # in: "!" is no argon2 hash, so every password fails against it.
    accounts = sa.table(
        "accounts",
        sa.column("id", sa.String), sa.column("email", sa.String),
        sa.column("display_name", sa.String), sa.column("password_hash", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("push_previews", sa.Boolean),
    )  # fmt: skip
    op.bulk_insert(
        accounts,
        [
            {
                "id": SYSTEM_ACCOUNT_ID,
                "email": "system@atdesk.invalid",
                "display_name": "atdesk",
                "password_hash": "!",
                "created_at": datetime(2026, 11, 23, tzinfo=UTC),
                "push_previews": False,
            }  # fmt: skip
        ],
    )


def downgrade() -> None:
    op.execute(f"DELETE FROM accounts WHERE id = '{SYSTEM_ACCOUNT_ID}'")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint("fk_cases_resolver_id", type_="foreignkey")
        batch_op.drop_constraint("fk_cases_brand_id", type_="foreignkey")
        batch_op.drop_constraint("fk_cases_first_responder_id", type_="foreignkey")
        batch_op.drop_index("ix_cases_brand_resolved")
        batch_op.drop_index("ix_cases_brand_first_response")
        batch_op.drop_column("auto_replied")
        batch_op.drop_column("rated_at")
        batch_op.drop_column("comment")
        batch_op.drop_column("score")
        batch_op.drop_column("resolver_id")
        batch_op.drop_column("first_responder_id")
        batch_op.drop_column("first_response_s")
        batch_op.drop_column("brand_id")

    with op.batch_alter_table("brands", schema=None) as batch_op:
        batch_op.drop_column("auto_assign")
        batch_op.drop_column("hours")

    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_brand_created")
    op.drop_table("notices")

    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follows_account_id"))
    op.drop_table("follows")

    with op.batch_alter_table("canned_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_canned_replies_brand_id"))
    op.drop_table("canned_replies")
