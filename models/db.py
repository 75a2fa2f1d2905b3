"""Engines, sessions and schema upgrades, with no web framework involved.

SQLite (the default, in the instance folder) is opened in WAL mode with foreign keys enforced
and a 5 second busy timeout; PostgreSQL is reached through psycopg 3
(``postgresql+psycopg://...``). ``upgrade(url)`` runs the Alembic migrations shipped inside this
package, so no ``alembic.ini`` is needed at run time.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000
DATABASE_URL_ENV = "TAPESTRY_DATABASE_URL"
INSTANCE_PATH_ENV = "TAPESTRY_INSTANCE_PATH"


def default_database_url(instance_path: str | os.PathLike[str]) -> str:
    """The default SQLite database: ``tapestry.sqlite`` inside the instance folder."""
    path = Path(instance_path).resolve() / "tapestry.sqlite"
    return f"sqlite:///{path}"


def database_url_from_env(instance_path: str | os.PathLike[str] = "instance") -> str:
    """``TAPESTRY_DATABASE_URL`` when set, else the default SQLite file in the instance folder.

    The instance folder is ``TAPESTRY_INSTANCE_PATH`` when set, else ``instance_path``
    (relative paths are taken from the current directory).
    """
    folder = os.environ.get(INSTANCE_PATH_ENV) or instance_path
    return os.environ.get(DATABASE_URL_ENV) or default_database_url(folder)


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given without a driver (``postgresql://``)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 module's own transaction handling is switched off (isolation_level=None) so
    # that SQLAlchemy's "begin" event below decides how each transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Any) -> None:
    # BEGIN IMMEDIATE takes the single writer lock at the start of every transaction. Guarded
    # updates (places, budgets) and the audit hash chain then never race, and waiting for the
    # lock uses the busy timeout instead of failing with "database is locked" half way through.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class _NoRowValues(logging.Filter):
    """Drops SQLAlchemy's DEBUG records of fetched rows, which hold personal data."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != "Row %r"


def _keep_personal_data_out_of_logs() -> None:
    logger = logging.getLogger("sqlalchemy.engine.Engine")
    if not any(isinstance(f, _NoRowValues) for f in logger.filters):
        logger.addFilter(_NoRowValues())


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with Tapestry's connection settings.

    SQLite: WAL, ``foreign_keys=ON``, ``busy_timeout`` 5000 ms and ``BEGIN IMMEDIATE``
    transactions; read-only tools may pass ``sqlite_begin="DEFERRED"``. PostgreSQL: psycopg 3
    with ``pool_pre_ping`` so a restarted server is noticed instead of failing the next request.
    Both: ``hide_parameters`` and no row values in DEBUG logs, so no personal data is logged.
    """
    url = normalise_url(url)
    parsed = make_url(url)
    sqlite_begin = kwargs.pop("sqlite_begin", "IMMEDIATE")
    # Personal data must never reach the logs: SQL parameters are left out of log records and
    # error messages (which the web app logs), and fetched rows out of DEBUG records.
    kwargs.setdefault("hide_parameters", True)
    _keep_personal_data_out_of_logs()
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        connect_args.setdefault("check_same_thread", False)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)
        if sqlite_begin == "IMMEDIATE":
            event.listen(engine, "begin", _on_sqlite_begin)
        else:
            event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``; objects stay usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(url: str) -> Any:
    """An Alembic ``Config`` pointing at the migrations in this package and at ``url``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation treats "%" specially (URL-encoded passwords).
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (default: the newest)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The Alembic revision the database at ``url`` is at (None when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url, sqlite_begin="DEFERRED")
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def next_revision_id() -> str:
    """The next migration number: ``0001``, ``0002``, ... (one more than the newest head)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    numbers = [int(rev.revision.split("_")[0]) for rev in script.walk_revisions()]
    return f"{max(numbers, default=0) + 1:04d}"


def make_revision(message: str, slug: str) -> Path:
    """Write a new migration comparing the models with the schema at head; return its path.

    The comparison runs against a throwaway SQLite database migrated to head, so no server is
    needed. Review the file it writes: autogenerate cannot see renames, triggers or data moves.
    """
    import tempfile

    from alembic import command
    from alembic.script import ScriptDirectory

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'head.sqlite'}"
        upgrade(url)
        config = alembic_config(url)
        config.set_main_option("file_template", "%%(rev)s")
        heads = ScriptDirectory.from_config(config).get_heads()
        if len(heads) != 1:
            raise RuntimeError(f"migrations must have exactly one head, found {heads}")
        script = command.revision(
            config, message=message, autogenerate=True, rev_id=f"{next_revision_id()}_{slug}"
        )
    if script is None or isinstance(script, list):
        raise RuntimeError("Alembic did not write exactly one revision")
    path = Path(script.path)
    # House style for the new file; skipped quietly where ruff is not installed.
    for args in (["check", "--fix", "--quiet"], ["format", "--quiet"]):
        subprocess.run([sys.executable, "-m", "ruff", *args, str(path)], check=False)
    return path
