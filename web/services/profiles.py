"""A person's "About me": their wishes in their own words, outcome tags, travel and free times.

Needs, need level and budget are set by professionals and the commissioner; here they are only
read. :func:`person_facts` and :func:`offer_facts` map the models to the plain facts that
:mod:`web.services.matching` scores.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.accounts import User
from models.base import utcnow
from models.people import AGE_BANDS, DAYS, TIMES_OF_DAY, OutcomeTag, PersonProfile
from models.providers import Offer
from models.rounds import Budget, Round, RoundStatus
from web.services.acting import authorise, record
from web.services.errors import InvalidInput
from web.services.matching import LOOK_AHEAD, OfferFacts, PersonFacts, Run, slots_from_schedule
from web.services.openreferral import postcode_point
from web.services.postcodes import normal_postcode
from web.services.recurrence import (
    describe_rule,
    parts_between,
    rule_dates,
    rule_parts,
    say_date,
    until_date,
    weekly_rules,
)
from web.services.words import _, current_language

ASPIRATIONS_MAX_CHARS = 2000
MAX_TAGS = 8
MAX_TRAVEL_KM = 200


@dataclass(frozen=True, slots=True)
class AboutMe:
    """What the "About me" page shows."""

    person: PersonProfile
    tags: list[OutcomeTag]
    round: Round | None
    budget: Budget | None
    #: The round ``budget`` belongs to: the open round, else the latest one the person has a
    #: budget in (a published round's budget, with what is left of it, still counts).
    budget_round: Round | None = None


def all_outcome_tags(session: Session) -> list[OutcomeTag]:
    """The shared taxonomy, in label order."""
    return list(session.scalars(select(OutcomeTag).order_by(OutcomeTag.label)))


def open_round_for(session: Session, person: PersonProfile) -> Round | None:
    """The open round the person can choose in: their council's, covering their area.

    When several are open, the one opened most recently wins.
    """
    council_id = person.user.council_id
    rounds = session.scalars(
        select(Round)
        .where(Round.council_id == council_id, Round.status == RoundStatus.open)
        .order_by(Round.opened_at.desc().nulls_last(), Round.id.desc())
    ).all()
    for round_ in rounds:
        if not round_.areas or person.area in round_.areas:
            return round_
    return None


def latest_published_round_for(session: Session, person: PersonProfile) -> Round | None:
    """The most recent published round in which the person has a budget."""
    return session.scalars(
        select(Round)
        .join(Budget, Budget.round_id == Round.id)
        .where(Budget.person_id == person.id, Round.status == RoundStatus.published)
        .order_by(Round.published_at.desc().nulls_last(), Round.id.desc())
    ).first()


def budget_for(session: Session, person: PersonProfile, round_: Round | None) -> Budget | None:
    """The person's budget in ``round_`` (None when they have none or there is no round)."""
    if round_ is None:
        return None
    return session.scalars(
        select(Budget).where(Budget.round_id == round_.id, Budget.person_id == person.id)
    ).first()


def about_me(session: Session, actor: User, person: PersonProfile) -> AboutMe:
    """Everything the "About me" page shows, for the person or someone acting for them."""
    authorise(session, actor, person, "view")
    round_ = open_round_for(session, person)
    budget = budget_for(session, person, round_)
    budget_round = round_
    if budget is None:
        budget = session.scalars(
            select(Budget)
            .join(Round, Round.id == Budget.round_id)
            .where(Budget.person_id == person.id, Round.status != RoundStatus.draft)
            .order_by(Round.published_at.desc().nulls_last(), Round.id.desc())
        ).first()
        budget_round = budget.round if budget is not None else None
    return AboutMe(
        person=person,
        tags=all_outcome_tags(session),
        round=round_,
        budget=budget,
        budget_round=budget_round,
    )


def update_about_me(
    session: Session,
    actor: User,
    person: PersonProfile,
    *,
    aspirations_text: str,
    tag_slugs: Iterable[str],
    max_travel_km: str | int | None,
    availability: Mapping[str, Iterable[str]],
    postcode: str | None = None,
) -> PersonProfile:
    """Change the person's wishes, tags, travel distance, free times and postcode.

    ``max_travel_km`` may be the text typed in a form; blank means "not said".
    ``availability`` maps days (``mon``..``sun``) to parts of the day. ``postcode`` is a UK
    postcode, blank to take it away, or None to leave it as it is; the person's point becomes
    the one the council's services give for it (:func:`postcode_point`), or none when they do
    not know it (then matching goes by area).
    Raises :class:`InvalidInput` naming each wrong field; nothing changes then.
    """
    authorise(session, actor, person, "draft")
    errors: dict[str, str] = {}

    text = (aspirations_text or "").strip()
    if len(text) > ASPIRATIONS_MAX_CHARS:
        errors["aspirations_text"] = _(
            "Your words must be %(most)s characters or fewer", most=ASPIRATIONS_MAX_CHARS
        )

    slugs = sorted(set(tag_slugs))
    tags = list(session.scalars(select(OutcomeTag).where(OutcomeTag.slug.in_(slugs))))
    if len(tags) != len(slugs):
        errors["tags"] = _("Choose wishes from the list")
    elif len(tags) > MAX_TAGS:
        errors["tags"] = _("Choose %(most)s wishes or fewer", most=MAX_TAGS)

    travel: int | None = None
    raw = "" if max_travel_km is None else str(max_travel_km).strip()
    if raw:
        try:
            travel = int(raw)
        except ValueError:
            errors["max_travel_km"] = _("How far you can travel must be a whole number, like 5")
        else:
            if not 0 <= travel <= MAX_TRAVEL_KM:
                errors["max_travel_km"] = _(
                    "How far you can travel must be between 0 and %(most)s kilometres",
                    most=MAX_TRAVEL_KM,
                )

    free: dict[str, list[str]] = {}
    for day, parts in availability.items():
        parts = list(parts)
        if day not in DAYS or any(p not in TIMES_OF_DAY for p in parts):
            errors["availability"] = _("Choose days and times from the list")
            break
        if parts:
            free[day] = [p for p in TIMES_OF_DAY if p in parts]

    code = person.postcode
    if postcode is not None:
        code = normal_postcode(postcode) if postcode.strip() else None
        if postcode.strip() and code is None:
            errors["postcode"] = _("Enter a real postcode, like EX1 1AA")

    if errors:
        raise InvalidInput(errors)

    before = _snapshot(person)
    if code != person.postcode or (code and person.latitude is None):
        council = person.user.council
        point = postcode_point(session, council, code) if code and council else None
        person.postcode = code
        person.latitude, person.longitude = point if point else (None, None)
    person.aspirations_text = text or None
    person.outcome_tags = sorted(tags, key=lambda t: t.slug)
    person.max_travel_km = travel
    person.availability = {day: free[day] for day in DAYS if day in free}
    session.flush()
    after = _snapshot(person)
    changed = sorted(k for k in after if after[k] != before[k])
    record(
        session,
        actor,
        "profile.updated",
        person=person,
        subject=("person_profile", person.id),
        data={"changed": changed},
    )
    return person


def _snapshot(person: PersonProfile) -> dict[str, object]:
    return {
        "aspirations_text": person.aspirations_text,
        "outcome_tags": [t.slug for t in person.outcome_tags],
        "max_travel_km": person.max_travel_km,
        "availability": dict(person.availability or {}),
        "postcode": person.postcode,
    }


def person_facts(session: Session, person: PersonProfile, round_: Round | None) -> PersonFacts:
    """The facts matching needs about ``person``, with the money left in ``round_``."""
    return facts_for(person, budget_for(session, person, round_))


def facts_for(person: PersonProfile, budget: Budget | None) -> PersonFacts:
    """:func:`person_facts` when the budget is already at hand (no query)."""
    return PersonFacts(
        outcome_tags={t.slug: t.label for t in person.outcome_tags},
        budget_pence=None if budget is None else budget.remaining_pence,
        budget_is_partly_spent=budget is not None and budget.committed_pence > 0,
        area=person.area,
        latitude=person.latitude,
        longitude=person.longitude,
        max_travel_km=None if person.max_travel_km is None else float(person.max_travel_km),
        age_band=None if person.age_band is None else str(person.age_band),
        need_level=person.need_level,
        free_slots=slots_from_schedule(person.availability),
    )


def offer_facts(offer: Offer, today: date | None = None) -> OfferFacts:
    """The facts matching needs about ``offer``: its age range expanded to bands, and its
    schedules (RFC 5545 rules) as the sessions they give from ``today`` (UTC's date when not
    given) for :data:`~web.services.matching.LOOK_AHEAD`."""
    bands: tuple[str, ...] = ()
    if offer.min_age_band is not None or offer.max_age_band is not None:
        lo = 0 if offer.min_age_band is None else AGE_BANDS.index(offer.min_age_band)
        hi = (
            len(AGE_BANDS) - 1
            if offer.max_age_band is None
            else AGE_BANDS.index(offer.max_age_band)
        )
        bands = tuple(str(b) for b in AGE_BANDS[lo : hi + 1])
    return OfferFacts(
        id=offer.id,
        title=offer.title,
        price_pence=offer.price_pence,
        outcome_tags={t.slug: t.label for t in offer.outcome_tags},
        area=offer.area,
        other_areas=tuple(offer.service_areas[1:]),
        latitude=offer.latitude,
        longitude=offer.longitude,
        online=_is_online(offer),
        eligible_age_bands=bands,
        min_need_level=offer.min_need_level,
        max_need_level=offer.max_need_level,
        slots=slots_from_schedule(offer.schedule),
        runs=offer_runs(offer, utcnow().date() if today is None else today),
    )


def offer_runs(offer: Offer, today: date) -> tuple[Run, ...]:
    """Each of the offer's schedules as :class:`~web.services.matching.Run`: its sessions
    from ``today`` for :data:`~web.services.matching.LOOK_AHEAD`, counted by day of the week.

    An offer kept only as days and parts of the day (``Offer.schedule``) runs weekly at the
    hours of those parts. A rule that cannot be read is left out rather than guessed at.
    """
    rules = list(offer.schedule_rules or []) or weekly_rules(offer.schedule or {}, None)
    runs = []
    for rule in rules:
        try:
            runs.append(_run(json.dumps(rule, sort_keys=True), today, current_language()))
        except (LookupError, TypeError, ValueError):
            continue
    return tuple(runs)


@functools.lru_cache(maxsize=4096)
def _run(text: str, today: date, language: str) -> Run:
    # Cached by the rule's text, the day and the reader's language (its words are in it):
    # every page that matches reads the same rules.
    rule = json.loads(text)
    # The rule in short words: how often and when, without its first and last dates.
    kept = ";".join(f"{k}={v}" for k, v in rule_parts(rule).items() if k != "UNTIL")
    words = describe_rule({**rule, "rrule": kept, "dtstart": None, "exdates": []})
    words = words[:1].lower() + words[1:]
    parts = tuple(parts_between(rule["opens_at"], rule["closes_at"]))
    days = Counter(DAYS[d.weekday()] for d in rule_dates(rule, today, today + LOOK_AHEAD))
    if days:
        sessions = tuple((day, days[day]) for day in DAYS if day in days)
        return Run(words=words, parts=parts, sessions=sessions)
    until = until_date(rule)
    if until is not None and until < today:
        start = date.fromisoformat(rule["dtstart"]) if rule.get("dtstart") else until
        past = rule_dates(rule, max(start, until - timedelta(days=3 * 366)), until)
        return Run(words=words, parts=parts, ended=say_date(past[-1]) if past else None)
    later = rule_dates(rule, today, today + timedelta(days=3 * 366))
    return Run(words=words, parts=parts, starts=say_date(later[0]) if later else None)


def _is_online(offer: Offer) -> bool:
    # Offers given online have no area and say "Online" as their location.
    return offer.area is None and (offer.location or "").strip().lower() == "online"
