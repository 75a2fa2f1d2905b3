"""A person's data: the complete export, erasure by pseudonymisation, and retention purges.

**Export** (:func:`export_person`): every row of every table that refers to the person, found
from the foreign keys to ``users`` and ``person_profiles`` (``models.privacy.person_references``),
so a table added later is exported without changing this module. Secrets (password hash, TOTP
secret, session token hashes) are left out. Offers named in the rows are added with their titles
so the export can be read.

**Erasure** (:func:`erase_person`): the person's words, needs and identifying details are
replaced or removed; their sessions and consents end; unsent choices in rounds not yet
allocated are removed. What the law needs kept stays, under the pseudonymous ids: places
(allocations), money (budgets and commitments) and the audit trail. The decision is recorded
in an :class:`~models.privacy.ErasureRecord` and the audit trail.

**Retention** (:func:`purge_expired`): deletes or blanks data older than its retention period
(``models.privacy.retention_days``: a ``RetentionPolicy`` row, else the default).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Table, delete, or_, select, update
from sqlalchemy.orm import Session

from models.accounts import IdempotencyRecord, LoginThrottle, Role, User, UserSession
from models.audit import append_event
from models.base import Base, utcnow
from models.jobs import Job, JobStatus
from models.notifications import AccountToken, Notification, NotificationSetting
from models.people import Consent, ConsentStatus, person_outcome_tags
from models.privacy import (
    DEFAULT_RETENTION_DAYS,
    PLAIN_USER_ID_COLUMNS,
    ErasureDecision,
    ErasureRecord,
    RetentionPolicy,
    person_references,
    retention_days,
)
from models.providers import Offer, OfferDraft
from models.rounds import Choice, Round, RoundStatus
from models.voice import Feedback
from web.services.accounts import ThrottlePolicy
from web.services.consents import ASK_POLICY
from web.services.errors import InvalidInput, NotAllowed

EXPORT_FORMAT = "tapestry-person-export/1"

# Never exported: credentials and the hashes that stand for them.
SECRET_COLUMNS: dict[str, frozenset[str]] = {
    "users": frozenset({"password_hash", "totp_secret", "totp_last_step"}),
    "user_sessions": frozenset({"token_hash"}),
    "idempotency_records": frozenset({"request_hash"}),
    "account_tokens": frozenset({"token_hash"}),
}

# What an erasure keeps, and why (stored in the ErasureRecord).
KEPT_ON_ERASURE: dict[str, str] = {
    "allocations": "Places given from public money: kept for 6 years (audit of commissioning).",
    "budgets": "Personal budgets are financial records: kept for 6 years.",
    "commitments": "Payments to providers are financial records: kept for 6 years.",
    "audit_events": "The audit trail cannot be changed; it holds ids, never names or words.",
    "choices": "Choices in rounds already allocated: the input of a run that must be reproducible.",
    "feedback": "Ratings of services, without the comment.",
    "proposals": "Ideas shared with the council, now under a pseudonym.",
}

# Data kinds that purge_expired applies, with what it does to each.
PURGED_KINDS: dict[str, str] = {
    "user_sessions": "sign-in sessions that ended longer ago than this",
    "login_throttles": "counts of failed sign-ins older than this",
    "idempotency_records": "stored answers to repeated requests older than this",
    "jobs": "finished background jobs older than this",
    "offer_drafts": "unfinished new services no one has touched for this long",
    "feedback_comments": "the words of feedback older than this (the rating is kept)",
}


# -- export -----------------------------------------------------------------------------------


def _target_columns(table: Table) -> tuple[list[str], list[str]]:
    """The columns of ``table`` holding a user id, and those holding a person profile id."""
    references = set(person_references().get(table.name, ()))
    user_columns: list[str] = []
    profile_columns: list[str] = []
    for name in sorted(references):
        column = table.c[name]
        targets = {fk.column.table.name for fk in column.foreign_keys}
        if name == "id" and table.name in ("users", "person_profiles"):
            (user_columns if table.name == "users" else profile_columns).append(name)
        elif "person_profiles" in targets:
            profile_columns.append(name)
        elif "users" in targets or name in PLAIN_USER_ID_COLUMNS.get(table.name, ()):
            user_columns.append(name)
    return user_columns, profile_columns


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a column value."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _rows_for(
    session: Session, table: Table, user_id: int, profile_id: int | None
) -> list[dict[str, Any]]:
    user_columns, profile_columns = _target_columns(table)
    conditions = [table.c[name] == user_id for name in user_columns]
    if profile_id is not None:
        conditions += [table.c[name] == profile_id for name in profile_columns]
    if not conditions:
        return []
    hidden = SECRET_COLUMNS.get(table.name, frozenset())
    columns = [c for c in table.columns if c.name not in hidden]
    order = [c for c in table.primary_key.columns]
    result = session.execute(select(*columns).where(or_(*conditions)).order_by(*order))
    return [{key: _plain(value) for key, value in row._mapping.items()} for row in result]


def _linked_rows(
    session: Session, tables: dict[str, list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """Rows that say whose they are only through a row of the person's, one step away.

    A commitment names the allocation and budget it came from, not the person. Tables with a
    ``person_profiles`` key of their own are not followed (that key says whose the row is).
    """
    owned: dict[str, set[Any]] = {}
    for name, rows in tables.items():
        _, profile_columns = _target_columns(Base.metadata.tables[name])
        if profile_columns and name != "person_profiles":
            owned[name] = {row["id"] for row in rows if "id" in row}
    found: dict[str, list[dict[str, Any]]] = {}
    for table in Base.metadata.sorted_tables:
        if any(fk.column.table.name == "person_profiles" for fk in table.foreign_keys):
            continue
        conditions = [
            fk.parent.in_(sorted(owned[fk.column.table.name]))
            for fk in table.foreign_keys
            if owned.get(fk.column.table.name)
        ]
        if not conditions:
            continue
        hidden = SECRET_COLUMNS.get(table.name, frozenset())
        columns = [c for c in table.columns if c.name not in hidden]
        result = session.execute(
            select(*columns).where(or_(*conditions)).order_by(*table.primary_key.columns)
        )
        found[table.name] = [
            {key: _plain(value) for key, value in row._mapping.items()} for row in result
        ]
    return found


def _merge(rows: list[dict[str, Any]], more: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen = {repr(sorted(row.items())) for row in rows}
    merged = list(rows)
    for row in more:
        if repr(sorted(row.items())) not in seen:
            merged.append(row)
    return merged


def export_person(session: Session, person: User) -> dict[str, Any]:
    """Everything Tapestry holds that refers to ``person`` (a user), as JSON-ready data.

    ``tables`` maps every table that can refer to a person to the rows that refer to this one
    (an empty list when there are none), so the reader sees where we looked; rows linked to
    the person only through one of their rows (a commitment through its allocation) are added.
    """
    profile = person.person_profile
    profile_id = profile.id if profile is not None else None
    tables: dict[str, list[dict[str, Any]]] = {}
    for name in sorted(person_references()):
        tables[name] = _rows_for(session, Base.metadata.tables[name], person.id, profile_id)
    for name, rows in _linked_rows(session, tables).items():
        tables[name] = _merge(tables.get(name, []), rows)
    offer_ids = sorted(
        {row["offer_id"] for rows in tables.values() for row in rows if row.get("offer_id")}
    )
    offers = {
        str(offer_id): title
        for offer_id, title in session.execute(
            select(Offer.id, Offer.title).where(Offer.id.in_(offer_ids))
        )
    }
    return {
        "format": EXPORT_FORMAT,
        "generated_at": utcnow().isoformat(),
        "user_id": person.id,
        "person_id": profile_id,
        "about": (
            "Everything Tapestry holds about you. Each list is one kind of record; ids link "
            "records together. Names of services are under related_offers."
        ),
        "tables": tables,
        "related_offers": offers,
    }


# -- erasure ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErasureOutcome:
    record: ErasureRecord
    sessions_revoked: int
    consents_revoked: int
    choices_removed: int


def pseudonym(user_id: int) -> str:
    return f"Erased person {user_id}"


def erase_person(
    session: Session,
    actor: User,
    person: User,
    *,
    reason: str,
    request_id: str | None = None,
) -> ErasureOutcome:
    """Erase ``person``'s personal data by pseudonymisation, keeping what the law needs.

    Only admins may erase; a person's account only (not staff accounts). Records the decision
    (``ErasureRecord``) and appends ``person.erased`` to the audit trail.
    """
    if actor.role != Role.admin or not actor.is_active:
        raise NotAllowed("Only an administrator can erase someone's data.")
    if person.role != Role.person:
        raise InvalidInput({"user": "Only a person's account can be erased here."})
    if person.erased_at is not None:
        raise InvalidInput({"user": "This person's data has already been erased."})
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput({"reason": "Say why, for example 'The person asked on 3 May'."})
    now = utcnow()
    name = pseudonym(person.id)
    person.display_name = name
    person.email = f"erased-{person.id}@erased.invalid"
    # Nobody knows this password: the account can never be used again.
    person.password_hash = "!erased!" + secrets.token_hex(16)
    person.totp_secret = None
    person.totp_last_step = None
    person.is_active = False
    person.locked_until = None
    person.erased_at = now

    profile = person.person_profile
    choices_removed = 0
    if profile is not None:
        profile.display_name = name
        profile.aspirations_text = None
        profile.assessed_needs = None
        profile.need_level = 0
        profile.need_set_by_user_id = None
        profile.need_set_at = None
        profile.equity_attributes = None
        profile.equity_consent_at = None
        profile.age_band = None
        profile.postcode = None
        profile.latitude = None
        profile.longitude = None
        profile.max_travel_km = None
        profile.availability = {}
        session.execute(
            delete(person_outcome_tags).where(person_outcome_tags.c.person_id == profile.id)
        )
        session.execute(
            update(Feedback).where(Feedback.person_id == profile.id).values(comment=None)
        )
        unallocated = select(Round.id).where(
            Round.status.in_([RoundStatus.draft, RoundStatus.open])
        )
        choices_removed = session.execute(
            delete(Choice).where(Choice.person_id == profile.id, Choice.round_id.in_(unallocated))
        ).rowcount
        consents_revoked = session.execute(
            update(Consent)
            .where(
                Consent.person_id == profile.id,
                Consent.status.in_([ConsentStatus.requested, ConsentStatus.granted]),
            )
            .values(status=ConsentStatus.revoked, revoked_at=now)
        ).rowcount
    else:
        consents_revoked = 0
    # How they were told (phone, address), the messages to them and about them, and their
    # emailed links go: none is kept for the law.
    session.execute(delete(NotificationSetting).where(NotificationSetting.user_id == person.id))
    session.execute(
        delete(Notification).where(
            or_(Notification.user_id == person.id, Notification.about_user_id == person.id)
        )
    )
    session.execute(delete(AccountToken).where(AccountToken.user_id == person.id))
    sessions_revoked = session.execute(
        update(UserSession)
        .where(UserSession.user_id == person.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.user_id == person.id))
    record = ErasureRecord(
        subject_user_id=person.id,
        requested_at=now,
        decided_at=now,
        decision=ErasureDecision.partly_erased,
        reason=reason,
        kept=dict(KEPT_ON_ERASURE),
        decided_by_user_id=actor.id,
    )
    session.add(record)
    session.flush()
    append_event(
        session,
        "person.erased",
        actor_user_id=actor.id,
        object_type="user",
        object_id=person.id,
        request_id=request_id,
        details={
            "erasure_record_id": record.id,
            "sessions_revoked": sessions_revoked,
            "consents_revoked": consents_revoked,
            "choices_removed": choices_removed,
        },
    )
    return ErasureOutcome(record, sessions_revoked, consents_revoked, choices_removed)


def persons_for_erasure(session: Session, search: str = "", limit: int = 50) -> list[User]:
    """Person accounts whose email or name contains ``search`` (for the admin's list)."""
    query = select(User).where(User.role == Role.person).order_by(User.id).limit(limit)
    words = search.strip().casefold()
    if words:
        query = query.where(
            or_(
                User.email.contains(words, autoescape=True),
                User.display_name.icontains(words, autoescape=True),
            )
        )
    return list(session.scalars(query))


# -- retention --------------------------------------------------------------------------------


def retention_periods(session: Session) -> dict[str, int]:
    """Every data kind with its period in days (configured, else the default)."""
    kinds = set(DEFAULT_RETENTION_DAYS) | set(session.scalars(select(RetentionPolicy.data_kind)))
    return {kind: retention_days(session, kind) for kind in sorted(kinds)}


#: The longest retention period that can be set (100 years).
MAX_DAYS = 36500


def set_retention(
    session: Session, kind: str, days: int, *, actor_user_id: int | None = None
) -> RetentionPolicy:
    """Configure how long ``kind`` is kept (a known kind, at least one day)."""
    if kind not in DEFAULT_RETENTION_DAYS:
        raise InvalidInput({"kind": f"Unknown kind of data: {kind}"})
    if days < 1:
        raise InvalidInput({"days": "Keep data for at least 1 day"})
    if days > MAX_DAYS:
        raise InvalidInput({"days": f"Keep data for at most {MAX_DAYS} days (100 years)"})
    policy = session.scalar(select(RetentionPolicy).where(RetentionPolicy.data_kind == kind))
    if policy is None:
        policy = RetentionPolicy(data_kind=kind, retention_days=days)
        session.add(policy)
    old = None if policy.id is None else policy.retention_days
    policy.retention_days = days
    policy.updated_by_user_id = actor_user_id
    session.flush()
    append_event(
        session,
        "retention.set",
        actor_user_id=actor_user_id,
        object_type="retention_policy",
        object_id=kind,
        details={"days": days, "was": old},
    )
    return policy


def purge_expired(
    session: Session,
    *,
    now: datetime | None = None,
    throttle_policies: Iterable[ThrottlePolicy] = (ThrottlePolicy(), ASK_POLICY),
) -> dict[str, int]:
    """Apply the retention periods of :data:`PURGED_KINDS`; returns rows changed per kind.

    Financial records and the audit trail are never purged here: they are kept at least for
    their period, and the audit trail cannot be deleted at all. A sign-in (or consent request)
    count still in force is kept whatever its period: one whose wait has not yet run out, or
    whose window (the longest of ``throttle_policies``) is still counting tries, since deleting
    it would let a guesser start again.
    """
    now = now or utcnow()
    counting_since = now - max((policy.window for policy in throttle_policies), default=timedelta())

    def cutoff(kind: str) -> datetime:
        return now - timedelta(days=retention_days(session, kind))

    sessions_before = cutoff("user_sessions")
    done = {
        "user_sessions": session.execute(
            delete(UserSession).where(
                or_(
                    UserSession.revoked_at < sessions_before,
                    UserSession.expires_at < sessions_before,
                    UserSession.last_seen_at < sessions_before,
                )
            )
        ).rowcount,
        "login_throttles": session.execute(
            delete(LoginThrottle).where(
                LoginThrottle.window_start < cutoff("login_throttles"),
                LoginThrottle.window_start < counting_since,
                or_(LoginThrottle.next_try_at.is_(None), LoginThrottle.next_try_at <= now),
            )
        ).rowcount,
        "idempotency_records": session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.created_at < cutoff("idempotency_records"),
                IdempotencyRecord.response_status.is_not(None),
            )
        ).rowcount,
        "jobs": session.execute(
            delete(Job).where(
                Job.status.in_([JobStatus.done, JobStatus.failed]),
                Job.finished_at < cutoff("jobs"),
            )
        ).rowcount,
        "offer_drafts": session.execute(
            delete(OfferDraft).where(OfferDraft.updated_at < cutoff("offer_drafts"))
        ).rowcount,
        "feedback_comments": session.execute(
            update(Feedback)
            .where(Feedback.created_at < cutoff("feedback_comments"), Feedback.comment.is_not(None))
            .values(comment=None)
        ).rowcount,
    }
    append_event(session, "retention.purged", details=done)
    return done
