"""Telling people what happened: the notifications outbox and how it is sent, exactly once.

Services call :func:`notify` in the same transaction as the event it reports (a consent asked
for, a place offered, ...). It writes one row to the ``notifications`` outbox and never
commits: the message exists exactly when the event was committed, and not at all when the
event was rolled back. ``key`` names the event (``"consent_asked:12"``); a second
:func:`notify` with a key already used does nothing, so a retried request or job never writes
a second message. Advocates who may see what happens to the person (a granted consent) get a
copy of messages about places, rounds and ideas, each a row of its own.

The worker (``tapestry worker``, :mod:`web.notifying`) sends the outbox:

1. **Claim** a due row with a guarded update: ``UPDATE ... SET status='sending',
   claimed_by=:me, lease_until=now+LEASE, attempts=attempts+1 WHERE id=:id AND
   (status='pending' AND next_attempt_at<=now)`` and commit. Only the worker whose update
   changed one row owns it; others move on. The first claim also fixes the channel and the
   address (email, text, letter), so a message tried again goes the same way.
2. **Record the hand-over** (:func:`record_handover`: ``handed_over_at``, committed), then
   **send**, with a message identity derived from the row and nothing else: the email's
   ``Message-ID`` is ``<tapestry-notification-{id}-{key hash}@{domain}>`` and GOV.UK Notify's
   ``reference`` is ``tapestry-notification-{id}``.
3. **Mark sent** with a guarded update (``WHERE id=:id AND claimed_by=:me AND
   status='sending'``) and commit. A failure the sender reports (the server is down, says
   "try later") puts the row back to ``pending`` with exponential backoff (:func:`retry_delay`,
   10 s doubling to at most 10 minutes); a permanent refusal (an address the server rejects)
   or :data:`GIVE_UP_AFTER` of trying marks it ``failed`` with the reason.

Why nothing is lost: a row leaves ``pending``/``sending`` only by being marked sent, skipped
or failed, and each of those is committed only after the send returned (or after the reason
to stop is known). A worker that dies at any point leaves the row ``sending`` with a lease;
when the lease runs out (:data:`LEASE`, far longer than a send's time-out) another worker
claims it again (``status='sending' AND lease_until<now``). A mail server down for an hour
only makes the row wait: backoff is capped, so it is tried within 10 minutes of coming back.

Why nothing is sent twice, and where that needs the receiver's help: the one moment that
cannot be made atomic is between the sender accepting a message and our commit of "sent". A
worker killed in that gap leaves a row that was delivered but still says ``sending``. The
claim that takes over an expired lease knows whether the dead worker had begun the hand-over
(``handed_over_at``): if not, the message certainly did not go and is simply sent; if so, its
outcome is unknown (:attr:`ClaimedNotification.outcome_unknown`) and:

- with GOV.UK Notify the redo first asks Notify for a notification with the row's
  ``reference``; if one exists the row is marked sent and nothing is sent again. That is
  exactly once.
- SMTP has no way to ask. The redo sends the same message again with the same
  ``Message-ID``, so a mailbox that drops a repeated ``Message-ID`` (as the big ones do, and
  the tests' server does) shows it once.

The guarantee, honestly: every message is delivered at least once; it is handed to the
sender a second time only when a worker died after the hand-over began and before "sent" was
committed, and then with the same identity. With Notify that second hand-over is caught by
the reference, so it is exactly once. Over SMTP no protocol can do better (the server's "250
accepted" and our commit cannot be one step): a message is transmitted again only after a
crash in that gap (counted in ``tests/web/test_notification_sending.py``), and it is
exactly once to the reader wherever the receiving mailbox drops a ``Message-ID`` it has.

Leases make a slow worker safe too: its mark-sent is guarded on ``claimed_by``, so a worker
whose lease ran out and was taken over cannot overwrite the row. Keep :data:`LEASE` well
above the send time-out (:data:`SEND_TIMEOUT_S`) so that only dead workers lose their rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.accounts import User
from models.base import utcnow
from models.notifications import Channel, Notification, NotificationSetting, NotificationStatus
from models.people import Consent, ConsentStatus, PersonProfile
from web.services.errors import InvalidInput
from web.services.words import _

# -- events -----------------------------------------------------------------------------------

PLACE_OFFERED = "place_offered"
OFFER_REMINDER = "offer_reminder"
OFFER_EXPIRED = "offer_expired"
WAITING_LIST_REACHED = "waiting_list_reached"
PLACE_GIVEN_UP = "place_given_up"
CONSENT_ASKED = "consent_asked"
CONSENT_GRANTED = "consent_granted"
CONSENT_ENDED = "consent_ended"
IDEA_ANSWERED = "idea_answered"
ROUND_OPENED = "round_opened"
ROUND_CLOSING = "round_closing"
PLACEMENT_TO_CONFIRM = "placement_to_confirm"
PASSWORD_RESET = "password_reset"
EMAIL_CONFIRM = "email_confirm"
PLACE_MOVED = "place_moved"
PLACEMENT_DECLINED = "placement_declined"

EVENTS: frozenset[str] = frozenset(
    {
        PLACE_OFFERED,
        OFFER_REMINDER,
        OFFER_EXPIRED,
        WAITING_LIST_REACHED,
        PLACE_GIVEN_UP,
        CONSENT_ASKED,
        CONSENT_GRANTED,
        CONSENT_ENDED,
        IDEA_ANSWERED,
        ROUND_OPENED,
        ROUND_CLOSING,
        PLACEMENT_TO_CONFIRM,
        PASSWORD_RESET,
        EMAIL_CONFIRM,
        PLACE_MOVED,
        PLACEMENT_DECLINED,
    }
)

#: Messages an advocate helping the person also gets a copy of (a granted consent lets them
#: see the person's places, choices and ideas). Account and consent messages stay private.
COPIED_TO_ADVOCATES: frozenset[str] = frozenset(
    {
        PLACE_OFFERED,
        OFFER_REMINDER,
        OFFER_EXPIRED,
        WAITING_LIST_REACHED,
        PLACE_GIVEN_UP,
        IDEA_ANSWERED,
        ROUND_OPENED,
        ROUND_CLOSING,
        PLACE_MOVED,
        PLACEMENT_DECLINED,
    }
)

#: Messages that always go by email, to the address in ``data["email"]`` (or the account's):
#: they carry a link that proves the address is the reader's.
EMAIL_ONLY: frozenset[str] = frozenset({PASSWORD_RESET, EMAIL_CONFIRM})

#: Keys in ``data`` that hold a secret (a one-time link's token): wiped once the row is done.
SECRET_DATA_KEYS: tuple[str, ...] = ("token",)

# -- sending rules ----------------------------------------------------------------------------

#: How long a worker owns a row it claimed. A worker that died lets it go when this runs out.
LEASE = timedelta(minutes=5)
#: Each send gives up after this long (kept far below :data:`LEASE`).
SEND_TIMEOUT_S = 30.0
RETRY_FIRST = timedelta(seconds=10)
RETRY_MOST = timedelta(minutes=10)
#: A message still not sent this long after it was written is failed, with the last error.
GIVE_UP_AFTER = timedelta(days=3)

MAX_KEY_LENGTH = 200


def notify(
    session: Session, *, user_id: int, event: str, data: Mapping[str, object], key: str
) -> None:
    """Put a message to ``user_id`` about ``event`` in the outbox, in the caller's transaction.

    ``data`` (JSON values) fills the event's template; ``key`` names the event so the message
    is written once: a second call with the same key does nothing. Advocates with a granted
    consent get a copy of the events in :data:`COPIED_TO_ADVOCATES`. Flushes; never commits.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    if not key or len(key) > MAX_KEY_LENGTH - 20:
        raise ValueError("a notification key is 1 to 180 characters")
    _write(session, user_id=user_id, about_user_id=None, event=event, data=data, key=key)
    if event in COPIED_TO_ADVOCATES:
        for advocate_id in _advocates_of(session, user_id):
            _write(
                session,
                user_id=advocate_id,
                about_user_id=user_id,
                event=event,
                data=data,
                key=f"{key}/copy/{advocate_id}",
            )


def _write(
    session: Session,
    *,
    user_id: int,
    about_user_id: int | None,
    event: str,
    data: Mapping[str, object],
    key: str,
) -> None:
    if session.scalar(select(Notification.id).where(Notification.key == key)) is not None:
        return
    row = Notification(
        key=key,
        user_id=user_id,
        about_user_id=about_user_id,
        event=event,
        data=dict(data),
        status=NotificationStatus.pending,
        next_attempt_at=utcnow(),
    )
    try:
        # A savepoint: another transaction writing the same key at the same moment makes
        # this insert fail on the unique key, and only the insert is undone, not the event.
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        pass


def _advocates_of(session: Session, user_id: int) -> list[int]:
    return list(
        session.scalars(
            select(Consent.advocate_id)
            .join(PersonProfile, PersonProfile.id == Consent.person_id)
            .join(User, User.id == Consent.advocate_id)
            .where(
                PersonProfile.user_id == user_id,
                Consent.status == ConsentStatus.granted,
                Consent.can_view.is_(True),
                User.is_active.is_(True),
                User.erased_at.is_(None),
            )
            .order_by(Consent.advocate_id)
        ).all()
    )


# -- how each person is told --------------------------------------------------------------------

PHONE_DIGITS = "0123456789"


@dataclass(frozen=True, slots=True)
class Preferences:
    """How a user is told, as the account settings page shows it."""

    channel: Channel
    phone: str | None
    postal_address: str | None


def preferences(session: Session, user: User) -> Preferences:
    setting = session.get(NotificationSetting, user.id)
    if setting is None:
        return Preferences(Channel.email, None, None)
    return Preferences(setting.channel, setting.phone, setting.postal_address)


def normalise_phone(text: str) -> str | None:
    """A UK mobile number as ``+447...``, or None when ``text`` is not one."""
    kept = "".join(ch for ch in text.strip() if ch not in " -()")
    if kept.startswith("+44"):
        kept = "0" + kept[3:]
    elif kept.startswith("0044"):
        kept = "0" + kept[4:]
    if len(kept) != 11 or not kept.startswith("07") or any(c not in PHONE_DIGITS for c in kept):
        return None
    return "+44" + kept[1:]


MAX_ADDRESS_LINES = 6
MAX_ADDRESS_LINE = 100


def set_preferences(
    session: Session, user: User, *, channel: str, phone: str = "", postal_address: str = ""
) -> Preferences:
    """Save how ``user`` is told. Raises :class:`InvalidInput` naming each wrong field."""
    errors: dict[str, str] = {}
    try:
        chosen = Channel(channel)
    except ValueError:
        errors["channel"] = _("Choose how you want to be told")
        chosen = Channel.email
    number = normalise_phone(phone) if phone.strip() else None
    if phone.strip() and number is None:
        errors["phone"] = _("Enter a UK mobile number, like 07700 900123")
    elif chosen == Channel.text and number is None:
        errors["phone"] = _("Enter your mobile number, so we can send you texts")
    lines = [line.strip() for line in postal_address.replace("\r", "").split("\n")]
    lines = [line for line in lines if line]
    if lines and (len(lines) < 3 or len(lines) > MAX_ADDRESS_LINES):
        errors["postal_address"] = _(
            "Write your address on 3 to 6 lines: your house and street, your town, your postcode"
        )
    elif any(len(line) > MAX_ADDRESS_LINE for line in lines):
        errors["postal_address"] = _(
            "Each line of your address must be %(most)s letters or fewer", most=MAX_ADDRESS_LINE
        )
    elif chosen == Channel.letter and not lines:
        errors["postal_address"] = _("Enter your address, so we can send you letters")
    if errors:
        raise InvalidInput(errors)
    setting = session.get(NotificationSetting, user.id)
    if setting is None:
        setting = NotificationSetting(user_id=user.id)
        session.add(setting)
    setting.channel = chosen
    setting.phone = number
    setting.postal_address = "\n".join(lines) or None
    session.flush()
    return Preferences(setting.channel, setting.phone, setting.postal_address)


def _route(
    session: Session, row: Notification, available: frozenset[Channel]
) -> tuple[Channel, str | None]:
    """Where ``row`` goes: the user's channel and address, or email when that cannot be used.

    ``(Channel.none, None)`` means the user asked not to be told (or cannot be reached)."""
    user = session.get(User, row.user_id)
    if user is None or not user.is_active or user.erased_at is not None:
        return Channel.none, None
    if row.event in EMAIL_ONLY:
        email = row.data.get("email")
        return Channel.email, str(email) if email else user.email
    setting = session.get(NotificationSetting, user.id)
    channel = setting.channel if setting is not None else Channel.email
    if channel == Channel.none:
        return Channel.none, None
    if channel == Channel.text and setting is not None and setting.phone and channel in available:
        return Channel.text, setting.phone
    if (
        channel == Channel.letter
        and setting is not None
        and setting.postal_address
        and channel in available
    ):
        return Channel.letter, f"{user.display_name}\n{setting.postal_address}"
    return Channel.email, user.email


# -- the worker's side ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimedNotification:
    """A message a worker owns until :data:`LEASE` runs out: everything needed to send it."""

    id: int
    key: str
    event: str
    data: dict[str, Any]
    channel: Channel
    address: str
    attempts: int
    user_name: str
    about_name: str | None
    #: True when an earlier worker began handing it to the sender and vanished before saying
    #: how that went: it may have been delivered already. A worker that died before it began
    #: (``handed_over_at`` still empty) leaves this False: the message certainly did not go.
    outcome_unknown: bool
    created_at: datetime = field(compare=False)
    #: The reader chose Easy Read (``PersonProfile.easy_read``): the message is written so.
    #: Never for an advocate's copy: it goes to the advocate, who reads the usual words.
    easy_read: bool = False
    #: The reader's language (``User.language``, "en" when not chosen): the message is in it.
    language: str = "en"

    @property
    def reference(self) -> str:
        """The identity every send of this row carries (Notify's ``reference``)."""
        return f"tapestry-notification-{self.id}"

    def message_id(self, domain: str) -> str:
        """The email ``Message-ID``: the same for every try of this row, unique to it."""
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:16]
        return f"<tapestry-notification-{self.id}-{digest}@{domain}>"


def retry_delay(attempts: int) -> timedelta:
    """The wait before try ``attempts + 1``: 10 s, doubling, at most 10 minutes."""
    steps = max(0, attempts - 1)
    if steps >= 16:
        return RETRY_MOST
    return min(RETRY_FIRST * (2**steps), RETRY_MOST)


def claim_due(
    session: Session,
    worker_id: str,
    *,
    available: frozenset[Channel],
    now: datetime | None = None,
    limit: int = 20,
    lease: timedelta = LEASE,
) -> list[ClaimedNotification]:
    """Claim up to ``limit`` due messages for ``worker_id``; commits each claim.

    Messages for users who asked for none are marked skipped here. ``available`` are the
    channels the site can send by (a text or letter goes by email when it cannot).
    """
    now = now or utcnow()
    due = or_(
        and_(
            Notification.status == NotificationStatus.pending, Notification.next_attempt_at <= now
        ),
        and_(Notification.status == NotificationStatus.sending, Notification.lease_until < now),
    )
    candidates = session.execute(
        select(Notification.id, Notification.status)
        .where(due)
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(limit)
    ).all()
    session.commit()
    claimed: list[ClaimedNotification] = []
    for row_id, status in candidates:
        taken_over = status == NotificationStatus.sending
        guard = (
            and_(
                Notification.status == NotificationStatus.sending,
                Notification.lease_until < now,
            )
            if taken_over
            else and_(
                Notification.status == NotificationStatus.pending,
                Notification.next_attempt_at <= now,
            )
        )
        won = session.execute(
            update(Notification)
            .where(Notification.id == row_id, guard)
            .values(
                status=NotificationStatus.sending,
                claimed_by=worker_id,
                lease_until=now + lease,
                attempts=Notification.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if won != 1:
            session.rollback()
            continue
        row = session.get(Notification, row_id, populate_existing=True)
        assert row is not None
        if row.channel is None:
            channel, address = _route(session, row, available)
            row.channel = channel
            row.address = address
        if row.channel == Channel.none or not row.address:
            row.status = NotificationStatus.skipped
            row.claimed_by = None
            row.lease_until = None
            _wipe_secrets(row)
            session.commit()
            continue
        user = session.get(User, row.user_id)
        about = session.get(User, row.about_user_id) if row.about_user_id else None
        item = ClaimedNotification(
            id=row.id,
            key=row.key,
            event=row.event,
            data=dict(row.data or {}),
            channel=row.channel,
            address=row.address,
            attempts=row.attempts,
            user_name=user.display_name if user is not None else "",
            about_name=about.display_name if about is not None else None,
            outcome_unknown=taken_over and row.handed_over_at is not None,
            created_at=row.created_at,
            easy_read=bool(
                user is not None
                and user.person_profile is not None
                and user.person_profile.easy_read
            ),
            language=(user.language if user is not None else None) or "en",
        )
        session.commit()
        claimed.append(item)
    return claimed


def _guarded(row_id: int, worker_id: str) -> Any:
    return and_(
        Notification.id == row_id,
        Notification.claimed_by == worker_id,
        Notification.status == NotificationStatus.sending,
    )


def record_handover(
    session: Session, row_id: int, worker_id: str, *, now: datetime | None = None
) -> bool:
    """Record, and commit, that this worker is about to hand the message to the sender.

    From here until :func:`mark_sent` the message may be delivered without our knowing it; a
    worker that takes the row over later treats it so (``outcome_unknown``). False when the
    row is no longer this worker's: then it must not be sent."""
    done = session.execute(
        update(Notification)
        .where(_guarded(row_id, worker_id))
        .values(handed_over_at=now or utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return done == 1


def mark_sent(
    session: Session,
    row_id: int,
    worker_id: str,
    *,
    sender_reference: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Record that the claimed message went. False when the row is no longer this worker's."""
    return _finish(
        session,
        row_id,
        worker_id,
        status=NotificationStatus.sent,
        sent_at=now or utcnow(),
        sender_reference=sender_reference,
        last_error=None,
    )


def mark_failed_try(
    session: Session,
    row_id: int,
    worker_id: str,
    error: str,
    *,
    permanent: bool = False,
    now: datetime | None = None,
) -> bool:
    """Record a send that did not go: try again after :func:`retry_delay`, or give up when
    ``permanent`` or after :data:`GIVE_UP_AFTER`. False when the row is not this worker's."""
    now = now or utcnow()
    row = session.get(Notification, row_id, populate_existing=True)
    if row is None or row.claimed_by != worker_id or row.status != NotificationStatus.sending:
        session.rollback()
        return False
    if permanent or now - row.created_at >= GIVE_UP_AFTER:
        return _finish(
            session, row_id, worker_id, status=NotificationStatus.failed, last_error=error[:2000]
        )
    done = session.execute(
        update(Notification)
        .where(_guarded(row_id, worker_id))
        .values(
            status=NotificationStatus.pending,
            claimed_by=None,
            lease_until=None,
            next_attempt_at=now + retry_delay(row.attempts),
            last_error=error[:2000],
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return done == 1


def _finish(session: Session, row_id: int, worker_id: str, **values: Any) -> bool:
    row = session.get(Notification, row_id, populate_existing=True)
    data = dict(row.data or {}) if row is not None else {}
    for secret in SECRET_DATA_KEYS:
        data.pop(secret, None)
    done = session.execute(
        update(Notification)
        .where(_guarded(row_id, worker_id))
        .values(claimed_by=None, lease_until=None, data=data, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return done == 1


def _wipe_secrets(row: Notification) -> None:
    if any(secret in (row.data or {}) for secret in SECRET_DATA_KEYS):
        row.data = {k: v for k, v in row.data.items() if k not in SECRET_DATA_KEYS}


def messages_for(session: Session, user: User, *, limit: int = 50) -> list[Notification]:
    """The newest messages to ``user``, newest first (for their account page)."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        ).all()
    )
