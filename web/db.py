"""The database for the web app: one engine per app, one session per request.

Interface for views and helpers::

    from web.db import get_session
    session = get_session()      # opened on first use in this request, closed on teardown
    ...
    session.commit()             # views commit their own writes; services never commit

The engine comes from ``app.config["DATABASE_URL"]`` (``TAPESTRY_DATABASE_URL``; default: the
SQLite file in the instance folder). Tests may pass ``overrides={"DATABASE_ENGINE": engine}``
or ``{"DATABASE_SESSION_FACTORY": factory}`` to share a connection or transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from models.db import current_revision, make_engine, make_session_factory, upgrade

log = logging.getLogger(__name__)

_EXTENSION = "tapestry.db"
# Any fixed number: PostgreSQL advisory lock taken while migrations run at start-up, so that
# several workers starting together do not migrate at once.
_MIGRATION_LOCK_ID = 7_305_214


class Database:
    """The app's engine and session factory (kept in ``app.extensions``)."""

    def __init__(self, engine: Engine, session_factory: sessionmaker[Session]) -> None:
        self.engine = engine
        self.session_factory = session_factory


def init_app(app: Flask) -> None:
    """Create the engine, upgrade the schema when asked, and close sessions on teardown."""
    engine = app.config.get("DATABASE_ENGINE")
    if engine is None:
        # Database errors then never quote the values sent, which may be personal data.
        engine = make_engine(app.config["DATABASE_URL"], hide_parameters=True)
    factory = app.config.get("DATABASE_SESSION_FACTORY") or make_session_factory(engine)
    app.extensions[_EXTENSION] = Database(engine, factory)
    if app.config.get("AUTO_UPGRADE_DB"):
        ensure_schema(app.config["DATABASE_URL"])
    app.teardown_appcontext(_close_session)


def database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions[_EXTENSION]  # type: ignore[no-any-return]


def get_session() -> Session:
    """The SQLAlchemy session of the current request (or app context), opened lazily."""
    if "db_session" not in g:
        g.db_session = database().session_factory()
    return g.db_session  # type: ignore[no-any-return]


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


@contextmanager
def session_scope(app: Flask) -> Iterator[Session]:
    """A session outside a request (CLI, background jobs); the caller commits."""
    session = database(app).session_factory()
    try:
        yield session
    finally:
        session.close()


def ensure_schema(url: str) -> None:
    """Run the Alembic migrations when the database is not at the newest revision.

    On PostgreSQL an advisory lock makes workers that start together take turns; on SQLite
    each migration transaction already takes the write lock.
    """
    from alembic.script import ScriptDirectory

    from models.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    if head is None or current_revision(url) == head:
        return
    engine = make_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
                try:
                    if current_revision(url) != head:
                        log.info("upgrading the database schema to %s", head)
                        upgrade(url)
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID})
                    conn.commit()
        else:
            log.info("upgrading the database schema to %s", head)
            upgrade(url)
    finally:
        engine.dispose()
