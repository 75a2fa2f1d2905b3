"""The append-only, hash-chained audit trail.

Each event's ``hash`` is an HMAC-SHA256, under the audit key (kept outside the database, see
:mod:`models.keys`), of the canonical JSON of its fields together with the previous event's
hash (``prev_hash``; the first event follows :data:`GENESIS_HASH`). Changing, removing or
reordering any stored event breaks the chain, which :func:`verify_chain` reports, and without
the key nobody can recompute the hashes to hide a change. The database refuses UPDATE and
DELETE on the table (and TRUNCATE on PostgreSQL) by triggers created in the migrations, so the
only way to tamper is to drop those triggers first.

``hash_scheme`` says how each event was hashed: 1 is the plain SHA-256 of the events written
before the key existed (they still verify, but only as the start of the chain: a plain event
after a keyed one is reported), 2 is the keyed HMAC. ``key_id`` names the key (not the key).

Cutting events off the end, recomputing the whole chain with another key, or swapping the key,
leave a chain that is consistent in itself. An anchor (:class:`Anchor`: the newest event's id,
the number of events and the newest hash, with the key's id) noted outside the database, by
``tapestry audit anchor``, catches them: :func:`check_anchor` compares the trail with it.

**Key rotation.** ``tapestry audit rotate-key`` retires the audit key (it is kept, to verify
the events made with it, and never signs again) and makes a new one. The chain records the
handover: the first event under the new key is an ``audit.key_rotated`` event (:data:`ROTATION`)
naming the old and the new key ids, and it follows the old key's last event. A process that
signs with a new key while the newest event has a retired one writes that event first
(:func:`record_key_rotation`); a process that meets a key it does not have loads its keys again
(the rotation was made while it ran). :func:`verify_events` refuses any other change of key
and any return to a retired one, so someone who learns a retired key still cannot add events.

``details`` must hold ids and figures, never personal data such as names or needs: audit rows
can never be erased, so a person's erasure request could not reach them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Index, String, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, utcnow
from models.keys import KeyProblem, Keys, active_keys, use_keys

GENESIS_HASH = "0" * 64
#: Plain SHA-256 (events from before keyed hashes) and HMAC-SHA256 under the audit key.
PLAIN_SCHEME = 1
KEYED_SCHEME = 2
#: The action of the event that hands the chain over from one audit key to the next.
ROTATION = "audit.key_rotated"
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
    hash_scheme: Mapped[int] = mapped_column(default=KEYED_SCHEME, server_default="1")
    key_id: Mapped[str | None] = mapped_column(String(16))


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
    hash_scheme: int = KEYED_SCHEME,
    key_id: str | None = None,
    key: bytes | None = None,
) -> str:
    """The hash (hex) of an event's fields and the previous event's hash, as canonical JSON.

    Scheme 2 (keyed): HMAC-SHA256 under ``key`` of the fields, the scheme and the key's id.
    Scheme 1 (plain, the events before keys): SHA-256 of the fields alone, as they were hashed.
    """
    body: dict[str, Any] = {
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
    if hash_scheme == PLAIN_SCHEME:
        return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()
    if hash_scheme != KEYED_SCHEME or key is None:
        raise ValueError(f"cannot hash with scheme {hash_scheme} without a key")
    body["hash_scheme"] = hash_scheme
    body["key_id"] = key_id
    message = canonical_json(body).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _hash_of(event: AuditEvent, key: bytes | None = None) -> str:
    """The hash ``event`` should have: keyed under ``key`` (default: the process's audit key)."""
    if event.hash_scheme == KEYED_SCHEME and key is None:
        key = active_keys().audit
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
        hash_scheme=event.hash_scheme,
        key_id=event.key_id,
        key=key,
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
    keys = _hand_over(session, active_keys(), request_id=request_id)
    return _append(
        session,
        keys,
        action,
        actor_user_id=actor_user_id,
        on_behalf_of_user_id=on_behalf_of_user_id,
        object_type=object_type,
        object_id=object_id,
        request_id=request_id,
        details=details,
        occurred_at=occurred_at,
    )


def record_key_rotation(session: Session, keys: Keys | None = None) -> AuditEvent | None:
    """Record that the chain now goes on under the configured audit key, if its newest keyed
    event has a retired one (after ``tapestry audit rotate-key``, or new settings). Returns the
    :data:`ROTATION` event, or None when there is nothing to hand over."""
    _lock_chain(session)
    session.flush()
    keys = keys or active_keys()
    before = session.scalar(select(func.max(AuditEvent.id)))
    _hand_over(session, keys, request_id=None, reload=False)
    after = session.scalar(select(func.max(AuditEvent.id)))
    return None if after == before else session.get(AuditEvent, after)


def _hand_over(
    session: Session, keys: Keys, *, request_id: str | None, reload: bool = True
) -> Keys:
    """The keys to sign the next event with, after writing the :data:`ROTATION` event when
    the newest keyed event has a retired key. The chain is locked by the caller.

    A newest event under a key this process does not know means the key was rotated while it
    ran: its keys are loaded again (and kept); if they still do not know it, :class:`KeyProblem`
    (signing on would break the chain).
    """
    last = session.execute(
        select(AuditEvent.key_id)
        .where(AuditEvent.hash_scheme == KEYED_SCHEME)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()
    if last is None or last.key_id == keys.audit_key_id:
        return keys
    if last.key_id not in keys.retired_audit_key_ids and reload:
        fresh = keys.reloaded()
        if fresh != keys:
            use_keys(fresh)
            keys = fresh
        if last.key_id == keys.audit_key_id:
            return keys
    if last.key_id not in keys.retired_audit_key_ids:
        raise KeyProblem(
            f"the audit trail's newest events are hashed with audit key id {last.key_id}, "
            f"which this process does not have (its key has id {keys.audit_key_id}): give it "
            "the site's current audit key, and the old one as a retired key"
        )
    _append(
        session,
        keys,
        ROTATION,
        request_id=request_id,
        details={"from_key_id": last.key_id, "to_key_id": keys.audit_key_id},
    )
    return keys


def _append(
    session: Session,
    keys: Keys,
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
    """Add one event signed with ``keys``'s audit key after the newest (chain locked)."""
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
        hash_scheme=KEYED_SCHEME,
        key_id=keys.audit_key_id,
    )
    event.hash = _hash_of(event, keys.audit)
    session.add(event)
    session.flush()
    return event


def verify_events(events: Iterable[AuditEvent], keys: Keys | None = None) -> list[str]:
    """Check a run of events (in id order, starting at the first) and describe each problem.

    Keyed events are checked with ``keys`` (default: the process's): the configured audit key
    or a retired one, by the event's key id. Events made with a key that is neither cannot be
    checked; the first of each such run is reported (the key was changed or lost, or the chain
    was recomputed with a key of someone's own). The key may change only at a :data:`ROTATION`
    event naming both keys, and never back to one it left.
    """
    keys = keys or active_keys()
    problems: list[str] = []
    expected_prev = GENESIS_HASH
    expected_id = 1
    seen_keyed = False
    foreign_key_id: str | None = None
    signing_key_id: str | None = None  # the key of the newest keyed event so far
    left_key_ids: set[str | None] = set()
    for event in events:
        if event.id != expected_id:
            problems.append(f"event {event.id}: expected event {expected_id} here (missing rows)")
        if event.prev_hash != expected_prev:
            problems.append(f"event {event.id}: does not follow the event before it")
        if event.hash_scheme == PLAIN_SCHEME:
            if seen_keyed:
                problems.append(
                    f"event {event.id}: has a plain hash after keyed ones "
                    "(it was rewritten without the audit key)"
                )
            elif _hash_of(event, None) != event.hash:
                problems.append(f"event {event.id}: its contents do not match its hash")
        elif event.hash_scheme == KEYED_SCHEME:
            if seen_keyed and event.key_id != signing_key_id:
                problems.extend(_key_change_problems(event, signing_key_id, left_key_ids))
                left_key_ids.add(signing_key_id)
            seen_keyed = True
            signing_key_id = event.key_id
            key = keys.audit_key_for(event.key_id)
            if key is None:
                if event.key_id != foreign_key_id:
                    problems.append(
                        f"event {event.id}: hashed with another audit key (id {event.key_id}), "
                        f"not the configured one (id {keys.audit_key_id}) nor a retired one"
                    )
                foreign_key_id = event.key_id
            else:
                foreign_key_id = None
                if _hash_of(event, key) != event.hash:
                    problems.append(f"event {event.id}: its contents do not match its hash")
        else:
            problems.append(f"event {event.id}: unknown hash scheme {event.hash_scheme}")
        expected_prev = event.hash
        expected_id = event.id + 1
    return problems


def _key_change_problems(
    event: AuditEvent, previous_key_id: str | None, left_key_ids: set[str | None]
) -> list[str]:
    """What is wrong with ``event`` taking another key than the keyed event before it."""
    change = (
        f"event {event.id}: changes the audit key from id {previous_key_id} to id {event.key_id}"
    )
    if event.key_id in left_key_ids:
        return [f"{change}, a key the trail had already left (a retired key signs no event)"]
    details = event.details or {}
    recorded = (
        event.action == ROTATION
        and details.get("from_key_id") == previous_key_id
        and details.get("to_key_id") == event.key_id
    )
    return [] if recorded else [f"{change} without recording a rotation"]


def verify_chain(session: Session, batch_size: int = 1000, keys: Keys | None = None) -> list[str]:
    """Read the whole trail in order and return a list of problems (empty when intact)."""
    events = session.scalars(
        select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=batch_size)
    )
    return verify_events(events, keys)


def chain_head(session: Session) -> tuple[int, str]:
    """The number of events and the newest hash, to note down outside the database.

    Comparing a noted head with a later one shows whether events were cut from the end, which
    the chain alone cannot show.
    """
    count = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    last = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    return count, last or GENESIS_HASH


def plain_events(session: Session) -> int:
    """How many events have plain SHA-256 hashes (scheme 1, from before the audit key)."""
    query = select(func.count()).select_from(AuditEvent)
    return session.scalar(query.where(AuditEvent.hash_scheme == PLAIN_SCHEME)) or 0


@dataclass(frozen=True)
class Anchor:
    """The trail's head as noted outside the database at ``at``."""

    at: str
    head_id: int
    count: int
    hash: str
    key_id: str

    def to_line(self) -> str:
        """One line of JSON, to append to an anchor file or write to a log."""
        return canonical_json(
            {
                "at": self.at,
                "head_id": self.head_id,
                "count": self.count,
                "hash": self.hash,
                "key_id": self.key_id,
            }
        )


def make_anchor(session: Session, keys: Keys | None = None, now: datetime | None = None) -> Anchor:
    """The head of the trail now: newest id, number of events, newest hash and the key's id."""
    keys = keys or active_keys()
    last = session.execute(
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    count = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    head_id, head_hash = (0, GENESIS_HASH) if last is None else (last.id, last.hash)
    return Anchor(
        at=_timestamp(now or utcnow()),
        head_id=head_id,
        count=count,
        hash=head_hash,
        key_id=keys.audit_key_id,
    )


def parse_anchors(text: str) -> list[Anchor]:
    """The anchors in an anchor file (one JSON object a line; blank lines and lines that are
    not JSON objects, such as a log's other lines, are skipped). ``ValueError`` names the
    line of an object that is not a well-formed anchor."""
    anchors: list[Anchor] = []
    for number, line in enumerate(text.splitlines(), start=1):
        start = line.find("{")
        if start < 0:
            continue
        try:
            value = json.loads(line[start:])
        except ValueError:
            continue
        if not isinstance(value, dict) or "head_id" not in value:
            continue
        try:
            anchor = Anchor(
                at=value["at"],
                head_id=value["head_id"],
                count=value["count"],
                hash=value["hash"],
                key_id=value["key_id"],
            )
        except KeyError as missing:
            raise ValueError(f"line {number}: the anchor has no {missing.args[0]}") from None
        valid = (
            isinstance(anchor.at, str)
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                    for v in (anchor.head_id, anchor.count))
            and isinstance(anchor.hash, str)
            and len(anchor.hash) == 64
            and isinstance(anchor.key_id, str)
        )  # fmt: skip
        if not valid:
            raise ValueError(f"line {number}: the anchor is not well formed")
        anchors.append(anchor)
    return anchors


def check_anchor(session: Session, anchor: Anchor, keys: Keys | None = None) -> list[str]:
    """Compare the trail with an anchor noted earlier; describe each difference.

    The event the anchor names must still be there with the same hash (else the chain was cut
    short or recomputed), with exactly ``count`` events up to it, and the configured key must
    be the one the anchor was made with, or a retired one (the key was rotated since).
    """
    keys = keys or active_keys()
    where = f"anchor of {anchor.at}"
    problems: list[str] = []
    if keys.audit_key_for(anchor.key_id) is None:
        problems.append(
            f"{where}: made with audit key id {anchor.key_id}, but the configured key has id "
            f"{keys.audit_key_id} and no retired key has that id (the key was changed)"
        )
    if anchor.head_id == 0:
        stored_hash: str | None = GENESIS_HASH
    else:
        stored_hash = session.scalar(select(AuditEvent.hash).where(AuditEvent.id == anchor.head_id))
    if stored_hash is None:
        problems.append(
            f"{where}: event {anchor.head_id} is missing (events were deleted from the end)"
        )
    elif stored_hash != anchor.hash:
        problems.append(
            f"{where}: event {anchor.head_id} has another hash than the one anchored "
            "(the chain was rewritten)"
        )
    count = (
        session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.id <= anchor.head_id)
        )
        or 0
    )
    if count != anchor.count:
        problems.append(
            f"{where}: {count} events up to event {anchor.head_id}, but it recorded {anchor.count}"
        )
    return problems
