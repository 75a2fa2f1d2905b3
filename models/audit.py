"""The append-only, hash-chained audit trail.

Each event's ``hash`` is the SHA-256 of the canonical JSON of its fields together with the
previous event's hash (``prev_hash``; the first event follows :data:`GENESIS_HASH`). Changing,
removing or reordering any stored event breaks the chain, which :func:`verify_chain` reports.
The database refuses UPDATE and DELETE on the table (and TRUNCATE on PostgreSQL) by triggers
created in the migrations, so the only way to tamper is to drop those triggers first.

``details`` must hold ids and figures, never personal data such as names or needs: audit rows
can never be erased, so a person's erasure request could not reach them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Index, String, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, utcnow

GENESIS_HASH = "0" * 64
# Key of the PostgreSQL advisory lock that serialises appends (any constant; "TAPAUDIT").
AUDIT_LOCK_KEY = 0x5441504155444954 & 0x7FFFFFFFFFFFFFFF

#: The id of the request being served (set by the web app for each request). ``append_event``
#: uses it when given no ``request_id``, so every service's events carry it without passing it
#: down through every call.
current_request_id: ContextVar[str | None] = ContextVar("audit_request_id", default=None)


class AuditEvent(Base):
    """One recorded action: who (and for whom), what, on which object, when, in which request."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_object", "object_type", "object_id"),
        Index("ix_audit_events_actor_user_id", "actor_user_id"),
        Index("ix_audit_events_on_behalf_of_user_id", "on_behalf_of_user_id"),
    )

    # Assigned by append_event (previous id + 1), never by the database, so the hash can cover
    # it: the row is complete before its INSERT, and no UPDATE is ever needed.
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Plain ids, not foreign keys: the trail outlives anything it mentions.
    actor_user_id: Mapped[int | None]
    on_behalf_of_user_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(String(100), index=True)
    object_type: Mapped[str | None] = mapped_column(String(50))
    object_id: Mapped[str | None] = mapped_column(String(100))
    request_id: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no spaces and no NaN: the same bytes for the same value."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(
    *,
    id: int,
    occurred_at: datetime,
    actor_user_id: int | None,
    on_behalf_of_user_id: int | None,
    action: str,
    object_type: str | None,
    object_id: str | None,
    request_id: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of an event's fields and the previous event's hash, as canonical JSON."""
    body = {
        "id": id,
        "occurred_at": _timestamp(occurred_at),
        "actor_user_id": actor_user_id,
        "on_behalf_of_user_id": on_behalf_of_user_id,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "request_id": request_id,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def _hash_of(event: AuditEvent) -> str:
    return event_hash(
        id=event.id,
        occurred_at=event.occurred_at,
        actor_user_id=event.actor_user_id,
        on_behalf_of_user_id=event.on_behalf_of_user_id,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        request_id=event.request_id,
        details=event.details or {},
        prev_hash=event.prev_hash,
    )


def _lock_chain(session: Session) -> None:
    """Serialise appends until the end of the transaction.

    PostgreSQL: a transaction-level advisory lock (works on an empty table too, where there is
    no last row to lock). SQLite: a single writer at a time already; Tapestry's engines begin
    every transaction with BEGIN IMMEDIATE, so the last row read below cannot change before the
    insert.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})


def append_event(
    session: Session,
    action: str,
    *,
    actor_user_id: int | None = None,
    on_behalf_of_user_id: int | None = None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    request_id: str | None = None,
    details: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> AuditEvent:
    """Record one event at the end of the chain, within the caller's transaction.

    ``action`` is a dotted verb such as ``"budget.set"`` or ``"profile.equity.read"``. The
    event is flushed (inserted) at once; it becomes permanent when the caller commits, and
    disappears with a rollback, so the trail records exactly what happened.
    ``details`` must be JSON-serialisable and hold no personal data. Without ``request_id``
    the event takes :data:`current_request_id` (the web request being served, if any).

    Appends are serialised until commit (see :func:`_lock_chain`), so append as the last step
    of a unit of work, after its guarded updates: holding the chain while waiting for a row
    lock would make other writers queue behind it (and, on PostgreSQL, could deadlock with a
    transaction that holds that row and wants to append).
    """
    _lock_chain(session)
    session.flush()
    last = session.execute(
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    new_id, prev_hash = (1, GENESIS_HASH) if last is None else (last.id + 1, last.hash)
    # Store exactly what was hashed: a JSON round trip turns tuples into lists and so on.
    clean_details: dict[str, Any] = json.loads(canonical_json(details or {}))
    when = (occurred_at or utcnow()).astimezone(UTC)
    event = AuditEvent(
        id=new_id,
        occurred_at=when,
        actor_user_id=actor_user_id,
        on_behalf_of_user_id=on_behalf_of_user_id,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        request_id=request_id if request_id is not None else current_request_id.get(),
        details=clean_details,
        prev_hash=prev_hash,
    )
    event.hash = _hash_of(event)
    session.add(event)
    session.flush()
    return event


def verify_events(events: Iterable[AuditEvent]) -> list[str]:
    """Check a run of events (in id order, starting at the first) and describe each problem."""
    problems: list[str] = []
    expected_prev = GENESIS_HASH
    expected_id = 1
    for event in events:
        if event.id != expected_id:
            problems.append(f"event {event.id}: expected event {expected_id} here (missing rows)")
        if event.prev_hash != expected_prev:
            problems.append(f"event {event.id}: does not follow the event before it")
        if _hash_of(event) != event.hash:
            problems.append(f"event {event.id}: its contents do not match its hash")
        expected_prev = event.hash
        expected_id = event.id + 1
    return problems


def verify_chain(session: Session, batch_size: int = 1000) -> list[str]:
    """Read the whole trail in order and return a list of problems (empty when intact)."""
    events = session.scalars(
        select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=batch_size)
    )
    return verify_events(events)


def chain_head(session: Session) -> tuple[int, str]:
    """The number of events and the newest hash, to note down outside the database.

    Comparing a noted head with a later one shows whether events were cut from the end, which
    the chain alone cannot show.
    """
    count = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    last = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    return count, last or GENESIS_HASH
