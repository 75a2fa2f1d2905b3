"""The notifications outbox, each person's way of being told, and one-time account links.

A :class:`Notification` row is written in the same transaction as the event it reports
(``web.services.notifications.notify``), so a message exists exactly when its event was
committed. The worker sends it later; the row's status, lease and attempt count are what make
each message go out once (the argument is in ``web.services.notifications``).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, TimestampMixin, str_enum, utcnow


class NotificationStatus(enum.StrEnum):
    """Where a message is: waiting (``pending``), in a worker's hands (``sending``), ``sent``,
    ``failed`` for good (the error says why) or ``skipped`` (the person asked for none)."""

    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    skipped = "skipped"


class Channel(enum.StrEnum):
    """How a person likes to be told."""

    email = "email"
    text = "text"
    letter = "letter"
    none = "none"


class Notification(CreatedAtMixin, Base):
    """One message to one user, in the outbox until it is sent.

    ``key`` names the event it reports (e.g. ``"consent_asked:12"``): a second message with the
    same key is never written. ``about_user_id`` is set on an advocate's copy of a message
    meant for the person they help. ``channel`` and ``address`` are fixed when a worker first
    claims the row, so a send tried again goes the same way to the same place.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_nonneg"),
        Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    about_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[NotificationStatus] = mapped_column(
        str_enum(NotificationStatus, "notification_status"), default=NotificationStatus.pending
    )
    channel: Mapped[Channel | None] = mapped_column(str_enum(Channel, "notification_channel"))
    address: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    # When a worker last began handing the message to the sender (recorded and committed just
    # before the SMTP conversation or Notify call): a row taken over from a dead worker with
    # this set may have been delivered; without it, it certainly was not.
    handed_over_at: Mapped[datetime | None]
    # What the sender gave back (GOV.UK Notify's id for the message), when it gave anything.
    sender_reference: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)


class NotificationSetting(TimestampMixin, Base):
    """How a user likes to be told: by email, text, letter or not at all.

    A user with no row is told by email. ``phone`` is needed for texts and ``postal_address``
    (lines separated by new lines, the postcode last) for letters.
    """

    __tablename__ = "notification_settings"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[Channel] = mapped_column(
        str_enum(Channel, "notification_channel"), default=Channel.email
    )
    phone: Mapped[str | None] = mapped_column(String(32))
    postal_address: Mapped[str | None] = mapped_column(Text)


class AccountTokenPurpose(enum.StrEnum):
    password_reset = "password_reset"
    email_confirm = "email_confirm"


class AccountToken(CreatedAtMixin, Base):
    """A one-time link sent by email: to set a new password, or to confirm an address.

    Only the SHA-256 of the token is kept. It works once (``used_at``), before ``expires_at``,
    and for ``email`` only: a link to confirm an address stops working if the address changes.
    """

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[AccountTokenPurpose] = mapped_column(
        str_enum(AccountTokenPurpose, "account_token_purpose")
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
