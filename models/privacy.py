"""Retention periods and the record of erasure decisions."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

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
