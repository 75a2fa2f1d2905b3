"""Declarative base, shared column types and mixins for every Tapestry table.

Conventions used across ``models/``:

- Money is integer pence (``*_pence`` columns), with CHECK constraints as a backstop.
- Times are timezone-aware UTC ``datetime`` objects in Python on every database (see
  :class:`UTCDateTime`); ``utcnow()`` is the one clock.
- Enumerations are Python ``StrEnum`` classes stored as their string values in a VARCHAR column
  with a CHECK constraint (``native_enum=False``), so SQLite and PostgreSQL behave alike.
- ``person_id`` always refers to ``person_profiles.id``; ``*_user_id`` refers to ``users.id``.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, MetaData
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned as an aware UTC datetime.

    PostgreSQL keeps ``timestamp with time zone``; SQLite has no time zones, so the value is
    stored as naive UTC text and made aware again when read. Naive datetimes are refused on the
    way in, because their meaning would depend on the machine's clock settings.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime (models.utcnow())")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def str_enum(enum_class: type[enum.Enum], name: str) -> SAEnum:
    """A portable enum column type: VARCHAR of the members' values plus a CHECK constraint."""
    return SAEnum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(str(m.value)) for m in enum_class) + 8,
        values_callable=lambda cls: [str(m.value) for m in cls],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """The declarative base of every Tapestry model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}

    def __repr__(self) -> str:
        ident = getattr(self, "id", None)
        return f"<{type(self).__name__} id={ident!r}>"


class CreatedAtMixin:
    """A ``created_at`` timestamp set when the row is first inserted."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TimestampMixin(CreatedAtMixin):
    """``created_at`` plus an ``updated_at`` refreshed on every ORM update."""

    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
