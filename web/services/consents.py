"""Advocates and the people they help: asking for consent, granting, refusing and revoking it,
the advocate's caseload, and the changes made for a person by someone acting for them.

The rules:

- An advocate asks a person of their own council, found by email address or by the person's
  reference (:func:`person_reference`, shown to the person on their "Who can help me" page).
- The request names scopes: ``view`` (always included: nobody can change what they cannot
  see), ``draft`` (change About me, choices, ratings and ideas: choices count as soon as they
  are saved, so changing them is drafting) and ``submit`` (say yes or no to a place), as
  :mod:`web.services.acting` checks them. The person grants it,
  with all or some of the scopes asked for, or refuses it.
- The person can revoke a granted consent at any time. Every check of what an advocate may do
  reads the consent afresh (:func:`web.services.acting.authorise`), so a revocation takes
  effect on the advocate's very next request.
- Every step is written to the audit trail; the person sees every change made for them.
- Asking reveals nothing about who has an account: the answer is the same whether or not
  anyone has that email address or reference (and whether or not they were asked before), and
  the advocate sees a person's name only once the person has said yes. Asking is slowed per
  advocate (:data:`ASK_POLICY`), so nobody can try references by the thousand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from models.accounts import Role, User
from models.audit import AuditEvent, append_event
from models.base import utcnow
from models.people import Consent, ConsentStatus, PersonProfile, reference_check_symbol
from web.services.accounts import ThrottlePolicy, claim_try
from web.services.errors import Conflict, InvalidInput, NotAllowed, NotFound, TooManyRequests
from web.services.notifications import CONSENT_ASKED, CONSENT_ENDED, CONSENT_GRANTED, notify
from web.services.words import N_, _, count

SCOPES: tuple[str, ...] = ("view", "draft", "submit")
SCOPE_LABELS: dict[str, str] = {
    "view": N_("See your About me, your matches, your choices and your place"),
    "draft": N_("Change your About me, your choices, ratings and ideas"),
    "submit": N_("Say yes or no to a place for you"),
}
# The same scopes as an advocate reads them, about the person they help.
SCOPE_LABELS_FOR_ADVOCATE: dict[str, str] = {
    "view": N_("See their About me, their matches, their choices and their place"),
    "draft": N_("Change their About me, their choices, ratings and ideas"),
    "submit": N_("Say yes or no to a place for them"),
}
NOTE_MAX_CHARS = 500
REFERENCE_PREFIX = "P"
#: A reference from before they were random: P000042, p-42, P42.
_OLD_REFERENCE = re.compile(r"^P-?0*(\d{1,9})$")
#: A random reference as typed: P, eight characters and a check character, any case, with
#: spaces or hyphens anywhere.
_REFERENCE = re.compile(r"^P[0-9A-Z]{8}[0-9A-Z*~$=]$")
LIVE = (ConsentStatus.requested, ConsentStatus.granted)
ASKED_MESSAGE = N_(
    "If someone in your council has that email address or reference, we have asked them. "
    "You will see their name here once they say yes."
)
#: An advocate may ask 10 times at once; after that each ask waits a minute, doubling up to an
#: hour. An advocate who has not asked for an hour starts again.
ASK_KEY_PREFIX = "consent-ask:"
ASK_POLICY = ThrottlePolicy(
    window=timedelta(hours=1),
    per_account=10,
    first_delay=timedelta(minutes=1),
    max_delay=timedelta(hours=1),
)

# What each recorded action means, written to the person ("Sam changed your About me").
ACTION_WORDS: dict[str, str] = {
    "profile.updated": N_("changed your About me"),
    "profile.easy_read_on": N_("switched Easy Read on for you"),
    "profile.easy_read_off": N_("switched Easy Read off for you"),
    "choice.added": N_("added a choice"),
    "choice.removed": N_("removed a choice"),
    "choice.moved": N_("changed the order of your choices"),
    "choices.replaced": N_("changed your choices"),
    "choices.submitted": N_("sent your choices"),
    "feedback.given": N_("gave your rating of a place"),
    "feedback.changed": N_("changed your rating of a place"),
    "proposal.created": N_("suggested a new service for you"),
    "proposal.supported": N_("supported an idea for you"),
    "proposal.support_withdrawn": N_("stopped supporting an idea for you"),
    "allocation.accept": N_("said yes to your place"),
    "allocation.decline": N_("said no to your place"),
    "special_category.read": N_("looked at your needs"),
}


def person_reference(person: PersonProfile) -> str:
    """The reference a person can give an advocate instead of their email, e.g. P7K3M9QHXC
    (random, see :func:`models.people.new_person_reference`; older people keep P000042)."""
    return person.reference


def parse_reference(text: str) -> str | None:
    """The stored form of a reference as typed, or None when ``text`` is not one.

    Case, spaces and hyphens do not matter, and letters people mix up are read as Crockford
    says (I and L as 1, O as 0). Raises :class:`InvalidInput` on ``who`` when the check
    character shows a typo: that says nothing about whether anyone has the reference.
    """
    cleaned = re.sub(r"[\s-]", "", text).upper()
    old = _OLD_REFERENCE.match(cleaned)
    if old:
        return f"{REFERENCE_PREFIX}{int(old.group(1)):06d}"
    if not _REFERENCE.match(cleaned):
        return None
    read = cleaned[1:].translate(str.maketrans("ILO", "110"))
    body, check = read[:-1], read[-1]
    if "U" in body or reference_check_symbol(body) != check:
        raise InvalidInput({"who": _("That reference has a mistake in it. Check each letter")})
    return f"{REFERENCE_PREFIX}{body}{check}"


def scopes_from(values: Iterable[str]) -> frozenset[str]:
    """The scopes named in ``values``, always with ``view``. Raises on an unknown scope."""
    chosen = {v.strip() for v in values if v and v.strip()}
    unknown = chosen - set(SCOPES)
    if unknown:
        raise InvalidInput({"scopes": _("Choose what you can do from the list")})
    return frozenset(chosen | {"view"})


def _set_scopes(consent: Consent, scopes: frozenset[str]) -> None:
    consent.can_view = "view" in scopes
    consent.can_draft = "draft" in scopes
    consent.can_submit = "submit" in scopes


def _ordered(scopes: Iterable[str]) -> list[str]:
    return [s for s in SCOPES if s in set(scopes)]


def find_person(session: Session, advocate: User, who: str) -> PersonProfile | None:
    """The person of the advocate's council with this email address or reference, or None.

    Raises :class:`InvalidInput` on the ``who`` field when ``who`` is neither an email address
    nor a reference; people in other councils are not found, whatever is typed.
    """
    text = (who or "").strip()
    if not text:
        raise InvalidInput({"who": _("Enter the person’s email address or reference")})
    query = (
        select(PersonProfile)
        .join(User, User.id == PersonProfile.user_id)
        .where(
            User.role == Role.person,
            User.is_active.is_(True),
            User.council_id == advocate.council_id,
        )
    )
    reference = parse_reference(text)
    if reference is not None:
        query = query.where(PersonProfile.reference == reference)
    elif "@" in text:
        query = query.where(User.email == text.lower())
    else:
        raise InvalidInput(
            {
                "who": _(
                    "Enter an email address, like name@example.org, or a reference, like P7K3M9QHXC"
                )
            }
        )
    return session.scalars(query).first()


def _require_advocate(actor: User) -> None:
    if actor.role != Role.advocate or not actor.is_active:
        raise NotAllowed(_("Only advocates can ask to help someone."))


def _require_person(actor: User, person: PersonProfile) -> None:
    # Only the person decides who may help them: nobody can grant consent for someone else.
    if actor.id != person.user_id or not actor.is_active:
        raise NotAllowed(_("Only the person themselves can decide who helps them."))


def request_consent(
    session: Session,
    advocate: User,
    *,
    who: str,
    scopes: Iterable[str],
    note: str = "",
    now: datetime | None = None,
) -> Consent | None:
    """Ask the person named by ``who`` (email or reference) to let ``advocate`` help them.

    Returns the new request, or None when there is nobody like that or the advocate has already
    asked them or has their consent: callers answer :data:`ASKED_MESSAGE` either way and must
    not show who was found. Raises :class:`InvalidInput` (fields ``who``, ``scopes``, ``note``)
    when what was typed is wrong whoever it names, and :class:`TooManyRequests` when the
    advocate has asked too often lately (every valid ask counts).
    """
    _require_advocate(advocate)
    errors: dict[str, str] = {}
    person: PersonProfile | None = None
    try:
        person = find_person(session, advocate, who)
    except InvalidInput as error:
        errors.update(error.errors)
    chosen: frozenset[str] = frozenset({"view"})
    try:
        chosen = scopes_from(scopes)
    except InvalidInput as error:
        errors.update(error.errors)
    text = (note or "").strip()
    if len(text) > NOTE_MAX_CHARS:
        errors["note"] = _("Your message must be %(most)s characters or fewer", most=NOTE_MAX_CHARS)
    if errors:
        raise InvalidInput(errors)
    wait = claim_try(session, f"{ASK_KEY_PREFIX}{advocate.id}", ASK_POLICY.per_account,
                     now or utcnow(), ASK_POLICY)  # fmt: skip
    if wait is not None:
        minutes = max(1, -(-int(wait.total_seconds()) // 60))
        raise TooManyRequests(
            _(
                "You have asked for help too many times. Wait %(wait)s, then try again.",
                wait=count(minutes, "minute"),
            )
        )
    if person is None or _live_consent(session, person.id, advocate.id) is not None:
        return None

    consent = Consent(
        person_id=person.id,
        advocate_id=advocate.id,
        status=ConsentStatus.requested,
        note=text or None,
        requested_at=utcnow(),
    )
    _set_scopes(consent, chosen)
    session.add(consent)
    session.flush()
    append_event(
        session,
        "consent.requested",
        actor_user_id=advocate.id,
        object_type="consent",
        object_id=consent.id,
        details={"person_id": person.id, "scopes": _ordered(chosen)},
    )
    notify(
        session,
        user_id=person.user_id,
        event=CONSENT_ASKED,
        data={"advocate_name": advocate.display_name, "scopes": _scope_words(chosen)},
        key=f"consent_asked:{consent.id}",
    )
    return consent


#: What an advocate may do, as their email says it (translated when the email is written).
SCOPE_WORDS = {
    "view": N_("see their details, choices and places"),
    "draft": N_("change their details and choices"),
    "submit": N_("say yes or no to places for them"),
}


def _scope_words(scopes: Iterable[str]) -> list[str]:
    return [SCOPE_WORDS[scope] for scope in _ordered(scopes)]


def _live_consent(session: Session, person_id: int, advocate_id: int) -> Consent | None:
    return session.scalars(
        select(Consent).where(
            Consent.person_id == person_id,
            Consent.advocate_id == advocate_id,
            Consent.status.in_(LIVE),
        )
    ).first()


@dataclass(frozen=True, slots=True)
class PersonConsents:
    """What the "Who can help me" page shows."""

    reference: str
    requests: list[Consent]
    granted: list[Consent]
    past: list[Consent]


def consents_for_person(session: Session, actor: User, person: PersonProfile) -> PersonConsents:
    """The person's requests waiting for an answer, the consents they gave, and past ones."""
    _require_person(actor, person)
    consents = list(
        session.scalars(
            select(Consent)
            .where(Consent.person_id == person.id)
            .options(selectinload(Consent.advocate))
            .order_by(Consent.requested_at.desc(), Consent.id.desc())
        )
    )
    return PersonConsents(
        reference=person_reference(person),
        requests=[c for c in consents if c.status == ConsentStatus.requested],
        granted=[c for c in consents if c.status == ConsentStatus.granted],
        past=[c for c in consents if c.status not in LIVE],
    )


def _persons_consent(session: Session, person: PersonProfile, consent_id: int) -> Consent:
    consent = session.get(Consent, consent_id)
    if consent is None or consent.person_id != person.id:
        raise NotFound(_("We could not find that request."))
    return consent


def grant_consent(
    session: Session,
    actor: User,
    person: PersonProfile,
    consent_id: int,
    *,
    scopes: Iterable[str] | None = None,
) -> Consent:
    """Say yes to a request. ``scopes`` may narrow what was asked (never widen it)."""
    _require_person(actor, person)
    consent = _persons_consent(session, person, consent_id)
    if consent.status != ConsentStatus.requested:
        raise Conflict(_("You have already answered this request."))
    asked = consent.scopes
    chosen = asked if scopes is None else scopes_from(scopes)
    if not chosen <= asked:
        raise InvalidInput({"scopes": _("You can only agree to what the advocate asked for")})
    _set_scopes(consent, chosen)
    consent.status = ConsentStatus.granted
    consent.granted_at = utcnow()
    session.flush()
    _record_answer(session, actor, person, consent, "consent.granted")
    notify(
        session,
        user_id=consent.advocate_id,
        event=CONSENT_GRANTED,
        data={"person_name": person.display_name, "scopes": _scope_words(consent.scopes)},
        key=f"consent_granted:{consent.id}",
    )
    return consent


def refuse_consent(
    session: Session, actor: User, person: PersonProfile, consent_id: int
) -> Consent:
    """Say no to a request."""
    _require_person(actor, person)
    consent = _persons_consent(session, person, consent_id)
    if consent.status != ConsentStatus.requested:
        raise Conflict(_("You have already answered this request."))
    consent.status = ConsentStatus.declined
    session.flush()
    _record_answer(session, actor, person, consent, "consent.declined")
    notify(
        session,
        user_id=consent.advocate_id,
        event=CONSENT_ENDED,
        data={"person_name": person.display_name, "declined": True},
        key=f"consent_ended:{consent.id}",
    )
    return consent


def revoke_consent(
    session: Session, actor: User, person: PersonProfile, consent_id: int
) -> Consent:
    """Stop an advocate helping, from now on. Their next request is refused."""
    _require_person(actor, person)
    consent = _persons_consent(session, person, consent_id)
    if consent.status != ConsentStatus.granted:
        raise Conflict(_("This advocate is not helping you now."))
    consent.status = ConsentStatus.revoked
    consent.revoked_at = utcnow()
    session.flush()
    _record_answer(session, actor, person, consent, "consent.revoked")
    notify(
        session,
        user_id=consent.advocate_id,
        event=CONSENT_ENDED,
        data={"person_name": person.display_name, "declined": False},
        key=f"consent_ended:{consent.id}",
    )
    return consent


def _record_answer(
    session: Session, actor: User, person: PersonProfile, consent: Consent, action: str
) -> None:
    append_event(
        session,
        action,
        actor_user_id=actor.id,
        object_type="consent",
        object_id=consent.id,
        details={
            "person_id": person.id,
            "advocate_id": consent.advocate_id,
            "scopes": _ordered(consent.scopes),
        },
    )


@dataclass(frozen=True, slots=True)
class Caseload:
    """The advocate's people: those who said yes, and requests still waiting."""

    helping: list[Consent]
    waiting: list[Consent]


def caseload(session: Session, advocate: User) -> Caseload:
    """Everyone who lets ``advocate`` help them (by name). ``waiting`` is always empty: showing
    requests not yet answered would tell the advocate who has an account."""
    _require_advocate(advocate)
    consents = list(
        session.scalars(
            select(Consent)
            .join(PersonProfile, PersonProfile.id == Consent.person_id)
            .where(Consent.advocate_id == advocate.id, Consent.status == ConsentStatus.granted)
            .options(selectinload(Consent.person))
            .order_by(PersonProfile.display_name, Consent.id)
        )
    )
    return Caseload(
        helping=[c for c in consents if c.status == ConsentStatus.granted],
        waiting=[],
    )


def consents_of_advocate(session: Session, advocate: User) -> list[Consent]:
    """Every consent ``advocate`` has been granted (even if revoked since), newest first, for
    the API. Requests never said yes to are left out: they would tell who has an account."""
    _require_advocate(advocate)
    return list(
        session.scalars(
            select(Consent)
            .where(Consent.advocate_id == advocate.id, Consent.granted_at.is_not(None))
            .options(selectinload(Consent.person))
            .order_by(Consent.requested_at.desc(), Consent.id.desc())
        )
    )


def consent_to_act(session: Session, advocate: User, person_id: int) -> Consent:
    """The granted consent that lets ``advocate`` act for the person with profile ``person_id``.

    Raises :class:`NotFound` when there is none (never asked, refused or revoked), so that an
    advocate learns nothing about people who have not agreed.
    """
    _require_advocate(advocate)
    consent = session.scalars(
        select(Consent)
        .where(
            Consent.advocate_id == advocate.id,
            Consent.person_id == person_id,
            Consent.status == ConsentStatus.granted,
        )
        .options(selectinload(Consent.person))
    ).first()
    if consent is None:
        raise NotFound(_("This person has not agreed that you can help them."))
    return consent


@dataclass(frozen=True, slots=True)
class ChangeForPerson:
    """One change someone made for the person, in plain words."""

    when: datetime
    who: str
    what: str
    action: str


# Events that record someone reading the person's data rather than changing anything.
READ_ACTIONS = frozenset({"special_category.read"})


def changes_made_for(
    session: Session, actor: User, person: PersonProfile, *, limit: int = 50
) -> list[ChangeForPerson]:
    """Changes made for the person by someone acting for them, newest first."""
    return _events_for(session, actor, person, reads=False, limit=limit)


def reads_for(
    session: Session, actor: User, person: PersonProfile, *, limit: int = 50
) -> list[ChangeForPerson]:
    """Times someone acting for the person looked at their needs, newest first."""
    return _events_for(session, actor, person, reads=True, limit=limit)


def _events_for(
    session: Session, actor: User, person: PersonProfile, *, reads: bool, limit: int
) -> list[ChangeForPerson]:
    _require_person(actor, person)
    kind = AuditEvent.action.in_(READ_ACTIONS)
    events = list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.on_behalf_of_user_id == person.user_id, kind if reads else ~kind)
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
    )
    actor_ids = {e.actor_user_id for e in events if e.actor_user_id is not None}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(actor_ids)))
    names = {user_id: name for user_id, name in rows}
    return [
        ChangeForPerson(
            when=e.occurred_at,
            who=names.get(e.actor_user_id or 0) or _("Someone"),
            what=_(ACTION_WORDS[e.action])
            if e.action in ACTION_WORDS
            else e.action.replace(".", " ").replace("_", " "),
            action=e.action,
        )
        for e in events
    ]


def count_waiting_requests(session: Session, person: PersonProfile) -> int:
    """How many advocates are waiting for the person's answer (for a reminder on their pages)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Consent)
            .where(Consent.person_id == person.id, Consent.status == ConsentStatus.requested)
        )
        or 0
    )
