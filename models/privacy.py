"""Retention periods and the record of erasure decisions."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, MetaData, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, TimestampMixin, str_enum, utcnow


class RetentionPolicy(TimestampMixin, Base):
    """How long one kind of data is kept, in days, e.g. ``"user_sessions"`` -> 30."""

    __tablename__ = "retention_policies"
    __table_args__ = (CheckConstraint("retention_days >= 1", name="retention_days_pos"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    data_kind: Mapped[str] = mapped_column(String(80), unique=True)
    retention_days: Mapped[int]
    description: Mapped[str | None] = mapped_column(Text)
    updated_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class ErasureDecision(enum.StrEnum):
    erased = "erased"
    partly_erased = "partly_erased"
    refused = "refused"


class ErasureRecord(Base):
    """The decision on a request to erase a person's data, and what was kept and why.

    ``subject_user_id`` is a plain id (the user row survives, pseudonymised). ``kept`` maps a
    kind of data to the legal reason for keeping it, e.g. ``{"commitments": "financial
    records must be kept for 6 years"}``.
    """

    __tablename__ = "erasure_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_user_id: Mapped[int] = mapped_column(index=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    decision: Mapped[ErasureDecision] = mapped_column(str_enum(ErasureDecision, "erasure_decision"))
    reason: Mapped[str | None] = mapped_column(Text)
    kept: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decided_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


# Default retention periods in days, used when no RetentionPolicy row overrides them.
# Financial and audit records are kept six years after the event (the limitation period for
# claims in England and Wales); short-lived security records are kept only as long as useful.
DEFAULT_RETENTION_DAYS: dict[str, int] = {
    "user_sessions": 30,
    "login_throttles": 1,
    "idempotency_records": 2,
    "jobs": 90,
    # A new offer's answers that its provider left unfinished (the form a question at a time).
    "offer_drafts": 30,
    "feedback_comments": 2 * 365,
    "inactive_accounts": 3 * 365,
    "financial_records": 6 * 365,
    "audit_events": 6 * 365,
}


def retention_days(session: Session, data_kind: str) -> int:
    """Days to keep ``data_kind``: the configured policy, else the default.

    Raises ``KeyError`` for a kind that has neither, so a typo cannot mean "keep for ever".
    """
    configured = session.scalar(
        select(RetentionPolicy.retention_days).where(RetentionPolicy.data_kind == data_kind)
    )
    if configured is not None:
        return configured
    return DEFAULT_RETENTION_DAYS[data_kind]


# Columns that hold a user's id without a foreign key, because their rows must outlive or stand
# apart from the user (the append-only audit trail, the record of an erasure).
PLAIN_USER_ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "audit_events": ("actor_user_id", "on_behalf_of_user_id"),
    "erasure_records": ("subject_user_id",),
}

PERSON_TABLES = ("users", "person_profiles")


def person_references(metadata: MetaData | None = None) -> dict[str, tuple[str, ...]]:
    """Every table holding data about a person, with the columns that say whose it is.

    A column counts when it is a foreign key to ``users.id`` or ``person_profiles.id``, or is
    listed in :data:`PLAIN_USER_ID_COLUMNS`; ``users`` and ``person_profiles`` count through
    ``id``. A person's data export (and its test) should cover every table named here.
    """
    metadata = metadata or Base.metadata
    found: dict[str, set[str]] = {name: {"id"} for name in PERSON_TABLES}
    for table in metadata.tables.values():
        for fk in table.foreign_keys:
            target = fk.column
            if target.table.name in PERSON_TABLES and target.name == "id":
                found.setdefault(table.name, set()).add(fk.parent.name)
    for name, columns in PLAIN_USER_ID_COLUMNS.items():
        found.setdefault(name, set()).update(columns)
    return {name: tuple(sorted(columns)) for name, columns in sorted(found.items())}
