"""The Alembic revisions build exactly the schema the models describe, on both databases,
and come down again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from gateway.database import MIGRATIONS_DIR
from tests.gateway_process import throwaway_postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    with throwaway_postgres_database("atdesk_m") as url:
        yield url


def test_upgrade_matches_the_models_and_downgrade_undoes_it(database_url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url)
    command.upgrade(config, "head")
    command.check(config)  # raises if autogenerate would find anything to change
    command.downgrade(config, "base")
    command.upgrade(config, "head")


def test_cases_answered_before_0004_get_their_first_response_time(database_url: str) -> None:
    """0004 adds ``cases.first_response_s``; a case answered before it must not fall out of
    the public median (nor shift it: the median reads the middle rows by offset)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url)
    command.upgrade(config, "0003")
    opened = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    answered = opened + timedelta(seconds=90.5)
    moment = sa.DateTime(timezone=True)
    rows = {
        "accounts": {"id": "a_1", "email": "lea@example.com", "display_name": "Lea",
                     "password_hash": "!", "created_at": opened, "push_previews": False},
        "brands": {"id": "b_1", "handle": "acme", "name": "Acme", "name_lower": "acme",
                   "description": "", "verified": False, "created_at": opened},
        "conversations": {"id": "c_1", "brand_id": "b_1", "consumer_id": "a_1",
                          "status": "open", "case_number": 1, "last_seq": 2,
                          "created_at": opened, "last_message_at": answered},
        "cases": {"conversation_id": "c_1", "number": 1, "opened_at": opened,
                  "first_response_at": answered},
    }  # fmt: skip
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            for name, row in rows.items():
                columns = [
                    sa.column(key, moment if isinstance(value, datetime) else None)
                    for key, value in row.items()
                ]
                connection.execute(sa.insert(sa.table(name, *columns)).values(**row))
        command.upgrade(config, "head")
        with engine.connect() as connection:
            seconds = connection.execute(sa.text("SELECT first_response_s FROM cases")).scalar()
    finally:
        engine.dispose()
    assert seconds == pytest.approx(90.5, abs=0.01)
