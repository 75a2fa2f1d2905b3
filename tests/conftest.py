"""Shared test fixtures.

Databases: SQLite by default (a temporary file per xdist worker); PostgreSQL when
``TAPESTRY_TEST_DATABASE_URL`` names a server (``scripts/test`` sets it): each worker then gets
its own database, named after the worker with a random suffix, dropped at the end.

- ``database_url``: the worker's database URL, migrated by ``db_engine``.
- ``db_engine``: an engine on that database, upgraded to the newest migration.
- ``db_connection``: a connection inside an outer transaction that is rolled back after the
  test. Bind anything that must see the test's rows to it (e.g. the web app's sessions).
- ``db_session``: a ``Session`` joined to ``db_connection`` ("join a session into an external
  transaction"): ``commit()`` inside the code under test only releases a savepoint, and
  everything is rolled back after the test. ``tests.factories`` use this session.
- ``fresh_database_url`` / ``fresh_engine``: a brand-new, migrated database of the test's own
  (a copy of a template migrated once per worker) for tests that need real commits, several
  connections or processes; removed after the test.
- ``empty_database_url``: a new database with no tables, for migration tests.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from models.db import make_engine, normalise_url, upgrade
from tests import factories
from web.services import accounts

TEST_DATABASE_URL_ENV = "TAPESTRY_TEST_DATABASE_URL"

# One audit key and one TOTP key for the whole run (and the servers it starts), so events and
# secrets written through one app verify and decrypt through any other. Tests of the key
# files themselves pass their own or unset these (tests/models/test_keys.py,
# tests/web/test_cli_database.py).
os.environ.setdefault("TAPESTRY_AUDIT_KEY", "test audit key, not for production: 0123456789")
os.environ.setdefault("TAPESTRY_TOTP_KEY", "test TOTP key, not for production: 0123456789")

# Passwords in this process are hashed with one pass over 1 MiB instead of the site's RFC 9106
# parameters (three passes over 64 MiB in four lanes), which took a third of the time of the
# tests that sign in. Every hash records its own parameters, so the servers and workers the
# tests start in other processes still check these hashes, and with the site's parameters
# (they upgrade them at sign-in). tests/services/test_password_hashing.py checks the site's
# parameters and a sign-in with them; test_auth.py checks that a hash made with other
# parameters is upgraded.
TEST_PASSWORD_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
SITE_PASSWORD_HASHER = accounts.PASSWORD_HASHER
accounts.PASSWORD_HASHER = TEST_PASSWORD_HASHER
accounts._DUMMY_HASH = TEST_PASSWORD_HASHER.hash("not a real password, only for the time")


def _server_url() -> str | None:
    url = os.environ.get(TEST_DATABASE_URL_ENV)
    return normalise_url(url) if url else None


def _worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _create_postgres_database(server_url: str, label: str, template: str | None = None) -> str:
    """Create a database on the server (empty, or a copy of ``template``); return its URL."""
    name = f"tapestry_test_{label}_{secrets.token_hex(4)}".lower()
    copy = f' TEMPLATE "{template}"' if template else ""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"{copy}')
    finally:
        admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(server_url: str, database_url: str) -> None:
    name = make_url(database_url).database
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of this test worker's database (SQLite file, or PostgreSQL database)."""
    server = _server_url()
    if server is None:
        path = tmp_path_factory.mktemp(f"db-{_worker_id()}") / "tapestry.sqlite"
        yield f"sqlite:///{path}"
        return
    url = _create_postgres_database(server, _worker_id())
    try:
        yield url
    finally:
        _drop_postgres_database(server, url)


@pytest.fixture(scope="session")
def db_engine(database_url: str) -> Iterator[Engine]:
    """An engine on the worker's database, migrated to the newest revision."""
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def db_connection(db_engine: Engine) -> Iterator[Connection]:
    """A connection in an outer transaction, rolled back after the test."""
    connection = db_engine.connect()
    outer = connection.begin()
    try:
        yield connection
    finally:
        if outer.is_active:
            outer.rollback()
        connection.close()


@pytest.fixture
def db_session(db_connection: Connection) -> Iterator[Session]:
    """A session joined to the test's outer transaction; nothing it does outlives the test."""
    session = Session(
        bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    factories.use_session(session)
    try:
        yield session
    finally:
        factories.use_session(None)
        session.close()


@pytest.fixture
def session_factory(db_connection: Connection) -> Callable[[], Session]:
    """Sessions like a worker's, inside the test's transaction."""

    def make() -> Session:
        return Session(
            bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    return make


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A new database with no tables at all (for migration tests); removed afterwards."""
    server = _server_url()
    if server is None:
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    url = _create_postgres_database(server, f"{_worker_id()}_empty")
    try:
        yield url
    finally:
        _drop_postgres_database(server, url)


@pytest.fixture(scope="session")
def _fresh_template_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, never-used database that ``fresh_database_url`` copies (faster than
    migrating every time)."""
    server = _server_url()
    if server is None:
        path = tmp_path_factory.mktemp(f"template-{_worker_id()}") / "template.sqlite"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url
        return
    url = _create_postgres_database(server, f"{_worker_id()}_template")
    try:
        upgrade(url)
        yield url
    finally:
        _drop_postgres_database(server, url)


@pytest.fixture
def fresh_database_url(_fresh_template_url: str, tmp_path: Path) -> Iterator[str]:
    """A new database of the test's own, migrated to the newest revision; removed afterwards."""
    server = _server_url()
    if server is None:
        template = make_url(_fresh_template_url).database
        assert template is not None
        path = tmp_path / "fresh.sqlite"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    url = _create_postgres_database(
        server, f"{_worker_id()}_fresh", template=make_url(_fresh_template_url).database
    )
    try:
        yield url
    finally:
        _drop_postgres_database(server, url)


@pytest.fixture
def fresh_engine(fresh_database_url: str) -> Iterator[Engine]:
    """An engine on ``fresh_database_url``."""
    engine = make_engine(fresh_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def dialect_name(db_engine: Engine) -> str:
    """``"sqlite"`` or ``"postgresql"``: the database the tests run on."""
    return db_engine.dialect.name


@pytest.fixture
def skip_unless_postgres(dialect_name: str) -> None:
    if dialect_name != "postgresql":
        pytest.skip("needs PostgreSQL (set TAPESTRY_TEST_DATABASE_URL)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests marked ``slow`` first, keeping the order otherwise. ``scripts/test``
    splits the run between two workers with ``--dist worksteal``: a worker that starts with
    the long tests runs them while the other does the short ones and then takes over the
    first worker's remaining short ones, so no long test is left to run alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
