"""Alembic environment: Tapestry's metadata, batch mode on SQLite, URL from the config.

``models.db.upgrade(url)`` builds the config in code; the ``alembic`` command line is not
needed. For a hand-written revision, see ``models/migrations/README.md``.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

import models  # noqa: F401  (registers every table on Base.metadata)
from models.base import Base, UTCDateTime
from models.db import make_engine

config = context.config
# Any constant; the PostgreSQL advisory lock held while migrations run ("TAPMIGRA").
MIGRATION_LOCK_KEY = 0x5441504D49475241
target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations spell the portable type, not our Python-side wrapper.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: Connection | None = None, **kwargs: Any) -> None:
    sqlite = (connection is not None and connection.dialect.name == "sqlite") or str(
        config.get_main_option("sqlalchemy.url", "")
    ).startswith("sqlite")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
        compare_server_default=False,
        render_item=_render_item,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(str(config.get_main_option("sqlalchemy.url")))
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _driver(connection: Connection) -> Any:
    driver = connection.connection.driver_connection
    assert driver is not None
    return driver


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch migrations copy and drop tables; foreign keys are checked once at the end
        # instead of at every step. The pragma only works outside a transaction, so it goes
        # straight to the driver (SQLAlchemy would begin one first).
        _driver(connection).execute("PRAGMA foreign_keys = OFF")
    _configure(connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Processes that upgrade at the same moment (several web workers starting) take
            # turns; the later one then finds the schema already at head and does nothing.
            # SQLite needs no lock: BEGIN IMMEDIATE has already made this the only writer.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
    if sqlite:
        connection.commit()
        _driver(connection).execute("PRAGMA foreign_keys = ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
