"""Connection settings: SQLite pragmas, URLs and the instance folder default."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from models import Budget, make_engine, make_session_factory
from models.db import database_url_from_env, default_database_url, normalise_url
from tests import factories


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'settings.sqlite'}")
    try:
        with engine.connect() as connection:
            pragma = connection.connection.driver_connection.execute
            assert pragma("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert pragma("PRAGMA foreign_keys").fetchone()[0] == 1
            assert pragma("PRAGMA busy_timeout").fetchone()[0] == 5000
    finally:
        engine.dispose()


def test_sqlite_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "instance" / "t.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()
    assert path.exists()


def test_default_url_is_the_sqlite_file_in_the_instance_folder(tmp_path: Path) -> None:
    assert default_database_url(tmp_path) == f"sqlite:///{tmp_path.resolve()}/tapestry.sqlite"


def test_environment_chooses_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAPESTRY_DATABASE_URL", raising=False)
    monkeypatch.setenv("TAPESTRY_INSTANCE_PATH", str(tmp_path))
    assert database_url_from_env() == default_database_url(tmp_path)

    monkeypatch.setenv("TAPESTRY_DATABASE_URL", "postgresql://app@db/tapestry")
    assert database_url_from_env() == "postgresql://app@db/tapestry"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p%40ss@h:5432/d", "postgresql+psycopg://u:p%40ss@h:5432/d"),
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:////tmp/x.sqlite", "sqlite:////tmp/x.sqlite"),
    ],
)
def test_postgresql_urls_use_psycopg_3(given: str, expected: str) -> None:
    assert normalise_url(given) == expected


def test_sessions_from_the_factory_keep_objects_usable_after_commit(
    fresh_engine: Engine,
) -> None:
    sessions = make_session_factory(fresh_engine)
    with sessions.begin() as session:
        factories.use_session(session)
        try:
            budget = factories.BudgetFactory(amount_pence=700)
        finally:
            factories.use_session(None)
    assert budget.amount_pence == 700  # not expired by the commit


def test_a_committed_guarded_update_is_seen_by_another_connection(fresh_engine: Engine) -> None:
    sessions = make_session_factory(fresh_engine)
    with sessions.begin() as session:
        factories.use_session(session)
        try:
            budget_id = factories.BudgetFactory(amount_pence=1_000).id
        finally:
            factories.use_session(None)
    with sessions.begin() as session:
        changed = session.execute(
            update(Budget)
            .where(Budget.id == budget_id, Budget.committed_pence + 400 <= Budget.amount_pence)
            .values(committed_pence=Budget.committed_pence + 400)
        ).rowcount
        assert changed == 1
    with Session(fresh_engine) as other:
        assert other.scalar(select(Budget.committed_pence).filter_by(id=budget_id)) == 400
