"""Migrations build the schema the models describe, from empty, on both databases."""

from __future__ import annotations

import multiprocessing
from multiprocessing.queues import Queue
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from models import Base, make_engine, upgrade
from models.db import alembic_config, current_revision, next_revision_id
from web.cli import main


def _head() -> str:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"migrations must have exactly one head, found {heads}"
    return heads[0]


def _schema_differences(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _triggers(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                sql = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
            else:
                sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            return {row[0] for row in connection.exec_driver_sql(sql)}
    finally:
        engine.dispose()


def test_there_is_exactly_one_head() -> None:
    _head()


def test_upgrade_from_empty_matches_the_models(empty_database_url: str) -> None:
    assert current_revision(empty_database_url) is None

    upgrade(empty_database_url)

    assert current_revision(empty_database_url) == _head()
    assert _tables(empty_database_url) == set(Base.metadata.tables) | {"alembic_version"}
    assert _schema_differences(empty_database_url) == []
    triggers = _triggers(empty_database_url)
    if make_url(empty_database_url).get_backend_name() == "postgresql":
        assert triggers == {"audit_events_no_update_delete", "audit_events_no_truncate"}
    else:
        assert triggers == {"audit_events_no_update", "audit_events_no_delete"}


def test_upgrade_twice_changes_nothing(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    upgrade(empty_database_url)
    assert _schema_differences(empty_database_url) == []


def test_downgrade_to_empty_and_back(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    config = alembic_config(empty_database_url)

    command.downgrade(config, "base")
    assert _tables(empty_database_url) == {"alembic_version"}
    assert _triggers(empty_database_url) == set()

    upgrade(empty_database_url)
    assert _schema_differences(empty_database_url) == []


def test_cli_upgrades_the_database_in_the_environment(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAPESTRY_DATABASE_URL", empty_database_url)

    result = CliRunner().invoke(main, ["db", "upgrade"])

    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    assert current_revision(empty_database_url) == _head()


def test_cli_defaults_to_sqlite_in_the_sites_instance_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The site's instance folder, wherever the command is run from (tests/web/test_cli_database
    # checks the command line and the web app agree when nothing is set).
    monkeypatch.delenv("TAPESTRY_DATABASE_URL", raising=False)
    monkeypatch.setenv("TAPESTRY_INSTANCE_PATH", str(tmp_path / "site"))
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(main, ["db", "upgrade"])

    assert result.exit_code == 0, result.output
    database = tmp_path / "site" / "tapestry.sqlite"
    assert database.exists()
    assert not (tmp_path / "instance").exists()
    assert current_revision(f"sqlite:///{database}") == _head()


def test_next_revision_number_follows_the_newest() -> None:
    versions = Path(__file__).resolve().parents[2] / "models" / "migrations" / "versions"
    numbers = [int(path.name[:4]) for path in versions.glob("[0-9][0-9][0-9][0-9]_*.py")]
    assert next_revision_id() == f"{max(numbers) + 1:04d}"
    assert _head().startswith(f"{max(numbers):04d}_")


def _upgrade_in_process(url: str, results: Queue) -> None:
    try:
        upgrade(url)
        results.put("ok")
    except Exception as error:  # reported to the parent, which fails the test
        results.put(repr(error))


def test_processes_upgrading_at_once_take_turns(empty_database_url: str) -> None:
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [
        context.Process(target=_upgrade_in_process, args=(empty_database_url, results))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)

    assert outcomes == ["ok", "ok", "ok"]
    assert current_revision(empty_database_url) == _head()
    assert _schema_differences(empty_database_url) == []
