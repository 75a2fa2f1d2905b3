"""Commissioning rounds: create one, choose its offers and places, set its policy, open, close.

A round moves ``draft -> open -> closed -> allocated -> published``. While it is a draft the
commissioner sets its name, pot, deadline, areas and places; choices can be made only while it
is open; allocation runs need it closed; publishing (``web.services.allocations``) makes the
chosen run the round's allocation.

The policy is the allocation format's ``policy``: the mechanism (``welfare`` or ``stable``),
equity rules on any person attribute (:data:`BUILT_IN_ATTRIBUTES` plus the equity-monitoring
attributes people consented to give), the time limit and the seed. Rules are stored exactly as
the format writes them, so a run copies them into the instance unchanged.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from models.accounts import Council, User
from models.audit import append_event
from models.base import utcnow
from models.notifications import Notification
from models.people import PersonProfile
from models.providers import Offer, OfferStatus, Provider
from models.rounds import Budget, Choice, Mechanism, Round, RoundOffer, RoundStatus
from web.services.errors import Conflict, InvalidInput, NotFound, StateConflict
from web.services.jobs import register_periodic
from web.services.notifications import ROUND_CLOSING, ROUND_OPENED, notify
from web.services.offers import MAX_CAPACITY
from web.services.words import count as count_words

NAME_MAX_CHARS = 200
MAX_TIME_LIMIT_S = 3600
MAX_CHOICES_LIMIT = 20
#: The most days a round may give people to answer an offer of a place.
ANSWER_DAYS_LIMIT = 60

#: Person attributes every round can use in rules (see :func:`person_attributes`).
BUILT_IN_ATTRIBUTES: dict[str, str] = {
    "area": "Area where the person lives",
    "age_band": "Age band",
    "need_band": "Need level (low 0 to 3, medium 4 to 6, high 7 to 10)",
}

RULE_TYPES: dict[str, str] = {
    "coverage_floor": "Every group gets at least a share of places",
    "coverage_gap": "Groups' shares differ by at most a gap",
    "maximize_min_coverage": "Make the worst-off group's share as big as possible",
}


def need_band(level: int) -> str:
    """The need-level band used as a group label: ``low`` (0-3), ``medium`` (4-6), ``high``."""
    if level <= 3:
        return "low"
    if level <= 6:
        return "medium"
    return "high"


def person_attributes(person: PersonProfile) -> dict[str, str]:
    """The group labels of a person that rules and reports can use.

    ``area``, ``age_band`` and ``need_band`` when known, plus each equity-monitoring attribute
    the person consented to give (``equity_consent_at`` set). Callers that read equity
    attributes must record that they did (``profile.equity.read``).
    """
    attributes: dict[str, str] = {"need_band": need_band(person.need_level)}
    if person.area:
        attributes["area"] = person.area
    if person.age_band is not None:
        attributes["age_band"] = str(person.age_band)
    if person.equity_consent_at is not None and person.equity_attributes:
        for key, value in sorted(person.equity_attributes.items()):
            if key not in BUILT_IN_ATTRIBUTES and value:
                attributes[key] = str(value)
    return attributes


@dataclass(frozen=True, slots=True)
class RoundSummary:
    """A round with the counts the commissioner's list shows."""

    round: Round
    offers: int
    places: int
    budgets: int
    budget_total_pence: int
    people_choosing: int


def _council(session: Session, actor: User) -> Council:
    council = session.get(Council, actor.council_id) if actor.council_id else None
    if council is None:
        raise NotFound("Your account does not belong to a council.")
    return council


def list_rounds(session: Session, actor: User) -> list[RoundSummary]:
    """Every round of the commissioner's council, newest first, with its counts."""
    council = _council(session, actor)
    rounds = session.scalars(
        select(Round).where(Round.council_id == council.id).order_by(Round.id.desc())
    ).all()
    return [round_summary(session, r) for r in rounds]


def round_summary(session: Session, round_: Round) -> RoundSummary:
    offers, places = session.execute(
        select(func.count(), func.coalesce(func.sum(RoundOffer.places), 0)).where(
            RoundOffer.round_id == round_.id
        )
    ).one()
    budgets, total = session.execute(
        select(func.count(), func.coalesce(func.sum(Budget.amount_pence), 0)).where(
            Budget.round_id == round_.id
        )
    ).one()
    choosing = session.scalar(
        select(func.count(func.distinct(Choice.person_id))).where(Choice.round_id == round_.id)
    )
    return RoundSummary(round_, offers, int(places), budgets, int(total), choosing or 0)


def get_round(session: Session, actor: User, round_id: int) -> Round:
    """The round ``round_id`` of the commissioner's council (others' rounds look missing)."""
    round_ = session.get(Round, round_id)
    if round_ is None or round_.council_id != actor.council_id:
        raise NotFound("There is no such round.")
    return round_


def eligible_offers(session: Session, actor: User) -> list[Offer]:
    """Published offers of the council's providers, by provider then title."""
    council = _council(session, actor)
    return list(
        session.scalars(
            select(Offer)
            .join(Provider, Provider.id == Offer.provider_id)
            .where(Provider.council_id == council.id, Offer.status == OfferStatus.published)
            .options(selectinload(Offer.provider))
            .order_by(Provider.name, Offer.title, Offer.id)
        )
    )


def _check_details(
    council: Council,
    *,
    name: str,
    pot_pence: int | None,
    choice_deadline: datetime | None,
    areas: Sequence[str],
    max_choices: int,
    answer_days: int = 7,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "Enter a name for the round"
    elif len(name.strip()) > NAME_MAX_CHARS:
        errors["name"] = f"Name must be {NAME_MAX_CHARS} characters or fewer"
    if pot_pence is not None and pot_pence < 0:
        errors["pot"] = "The pot cannot be less than £0"
    if choice_deadline is not None and choice_deadline.tzinfo is None:
        errors["choice_deadline"] = "Give the deadline with a time zone"
    unknown = [a for a in areas if a not in (council.areas or [])]
    if unknown:
        errors["areas"] = f"{unknown[0]} is not one of the council's areas"
    if not 1 <= max_choices <= MAX_CHOICES_LIMIT:
        errors["max_choices"] = f"People can rank between 1 and {MAX_CHOICES_LIMIT} offers"
    if not 1 <= answer_days <= ANSWER_DAYS_LIMIT:
        errors["answer_days"] = f"People need between 1 and {ANSWER_DAYS_LIMIT} days to answer"
    return errors


def round_detail_errors(
    session: Session,
    actor: User,
    *,
    name: str,
    pot_pence: int | None,
    choice_deadline: datetime | None = None,
    areas: Sequence[str] = (),
    max_choices: int = 5,
    answer_days: int = 7,
) -> dict[str, str]:
    """What is wrong with these round details (empty when nothing), without saving."""
    return _check_details(
        _council(session, actor),
        name=name,
        pot_pence=pot_pence,
        choice_deadline=choice_deadline,
        areas=areas,
        max_choices=max_choices,
        answer_days=answer_days,
    )


def create_round(
    session: Session,
    actor: User,
    *,
    name: str,
    pot_pence: int | None,
    choice_deadline: datetime | None = None,
    areas: Sequence[str] = (),
    max_choices: int = 5,
    places: Mapping[int, int] | None = None,
    answer_days: int = 7,
) -> Round:
    """Create a draft round in the commissioner's council; ``places`` maps offer id to places.
    ``answer_days``: how long people have to answer an offer of a place."""
    council = _council(session, actor)
    errors = _check_details(
        council,
        name=name,
        pot_pence=pot_pence,
        choice_deadline=choice_deadline,
        areas=areas,
        max_choices=max_choices,
        answer_days=answer_days,
    )
    if errors:
        raise InvalidInput(errors)
    round_ = Round(
        council_id=council.id,
        name=name.strip(),
        pot_pence=pot_pence,
        choice_deadline=choice_deadline,
        areas=sorted(set(areas)),
        max_choices=max_choices,
        answer_days=answer_days,
        status=RoundStatus.draft,
        mechanism=Mechanism.welfare,
        rules=[],
        time_limit_s=60.0,
        seed=0,
        created_by_user_id=actor.id,
    )
    session.add(round_)
    session.flush()
    if places:
        set_places(session, actor, round_, places)
    append_event(
        session,
        "round.create",
        actor_user_id=actor.id,
        object_type="round",
        object_id=round_.id,
        details={"pot_pence": pot_pence, "areas": sorted(set(areas))},
    )
    return round_


def update_round(
    session: Session,
    actor: User,
    round_: Round,
    *,
    name: str,
    pot_pence: int | None,
    choice_deadline: datetime | None,
    areas: Sequence[str],
    max_choices: int,
    answer_days: int | None = None,
) -> Round:
    """Change a round's details while it is a draft or open (not after it closed).
    ``answer_days`` None keeps the round's."""
    if round_.status not in (RoundStatus.draft, RoundStatus.open):
        raise Conflict("This round has closed, so its details cannot change.")
    days = round_.answer_days if answer_days is None else answer_days
    errors = _check_details(
        _council(session, actor),
        name=name,
        pot_pence=pot_pence,
        choice_deadline=choice_deadline,
        areas=areas,
        max_choices=max_choices,
        answer_days=days,
    )
    if errors:
        raise InvalidInput(errors)
    round_.name = name.strip()
    round_.pot_pence = pot_pence
    round_.choice_deadline = choice_deadline
    round_.areas = sorted(set(areas))
    round_.max_choices = max_choices
    round_.answer_days = days
    session.flush()
    append_event(
        session,
        "round.update",
        actor_user_id=actor.id,
        object_type="round",
        object_id=round_.id,
        details={
            "pot_pence": pot_pence,
            "areas": round_.areas,
            "max_choices": max_choices,
            "answer_days": days,
        },
    )
    return round_


def set_places(
    session: Session, actor: User, round_: Round, places: Mapping[int, int]
) -> list[RoundOffer]:
    """Set the places of each offer in the round (0 or missing = not in the round).

    Allowed while the round is a draft or open; an offer that people already chose in this round
    cannot be taken out, and places never drop below those already taken (both
    :class:`StateConflict`: the numbers are fine, what has happened in the round is not).
    """
    if round_.status not in (RoundStatus.draft, RoundStatus.open):
        raise Conflict("This round has closed, so its places cannot change.")
    allowed = {o.id: o for o in eligible_offers(session, actor)}
    errors: dict[str, str] = {}
    for offer_id, count in places.items():
        if offer_id not in allowed:
            errors[f"places-{offer_id}"] = "This offer is not published by one of your providers"
        elif count < 0:
            errors[f"places-{offer_id}"] = "Places cannot be less than 0"
        elif count > MAX_CAPACITY:
            errors[f"places-{offer_id}"] = f"Places must be {MAX_CAPACITY:,} or fewer"
    if errors:
        raise InvalidInput(errors)
    existing = {ro.offer_id: ro for ro in round_.round_offers}
    chosen = set(
        session.scalars(select(Choice.offer_id).where(Choice.round_id == round_.id).distinct())
    )
    for offer_id, ro in existing.items():
        wanted = places.get(offer_id, 0)
        if wanted == 0 and offer_id in chosen:
            errors[f"places-{offer_id}"] = "People have chosen this offer, so keep it in the round"
        elif wanted < ro.places_taken:
            errors[f"places-{offer_id}"] = (
                f"{count_words(ro.places_taken, 'place is')} already taken"
            )
    if errors:
        raise StateConflict(errors)
    for offer_id, count in places.items():
        if count == 0:
            continue
        if offer_id in existing:
            existing[offer_id].places = count
        else:
            round_.round_offers.append(RoundOffer(offer_id=offer_id, places=count))
    for offer_id, ro in existing.items():
        if places.get(offer_id, 0) == 0:
            round_.round_offers.remove(ro)
    session.flush()
    append_event(
        session,
        "round.places.set",
        actor_user_id=actor.id,
        object_type="round",
        object_id=round_.id,
        details={"places": {str(k): v for k, v in sorted(places.items()) if v}},
    )
    return list(round_.round_offers)


def available_attributes(session: Session, round_: Round) -> dict[str, str]:
    """Attributes rules may name: the built-in ones plus consented equity attributes.

    The equity attributes are the keys (never the values) found among people with a budget in
    this round, or in the council when no budget is set yet.
    """
    query = select(PersonProfile.equity_attributes).where(
        PersonProfile.equity_consent_at.is_not(None)
    )
    if session.scalar(select(func.count()).where(Budget.round_id == round_.id)):
        query = query.join(Budget, Budget.person_id == PersonProfile.id).where(
            Budget.round_id == round_.id
        )
    else:
        query = query.join(User, User.id == PersonProfile.user_id).where(
            User.council_id == round_.council_id
        )
    keys: set[str] = set()
    for attributes in session.scalars(query):
        keys.update(k for k, v in (attributes or {}).items() if v)
    names = dict(BUILT_IN_ATTRIBUTES)
    for key in sorted(keys - set(names)):
        names[key] = f"{key.replace('_', ' ').capitalize()} (equity monitoring, with consent)"
    return names


def _people_in_scope(round_: Round) -> Any:
    """The people a round's rules are about: those with a budget in it, or the council's
    people while no budget is set yet (as :func:`available_attributes`)."""
    has_budgets = select(Budget.id).where(Budget.round_id == round_.id).exists()
    in_round = select(Budget.person_id).where(Budget.round_id == round_.id)
    in_council = (
        select(PersonProfile.id)
        .join(User, User.id == PersonProfile.user_id)
        .where(User.council_id == round_.council_id)
    )
    return (
        select(PersonProfile)
        .where(
            (has_budgets & PersonProfile.id.in_(in_round))
            | (~has_budgets & PersonProfile.id.in_(in_council))
        )
        .order_by(PersonProfile.id)
    )


def known_groups(session: Session, round_: Round, attribute: str) -> set[str]:
    """The groups of ``attribute`` that people of the round are in (their values of it)."""
    groups: set[str] = set()
    for person in session.scalars(_people_in_scope(round_)):
        value = person_attributes(person).get(attribute)
        if value:
            groups.add(value)
    if not groups and attribute == "area":
        council = session.get(Council, round_.council_id)
        groups.update(council.areas or [] if council else [])
    return groups


def unknown_group_words(value: str, known: set[str], attribute: str) -> str:
    """Why ``value`` is refused as a group, with the closest known group as a suggestion."""
    noun = {"area": "area", "age_band": "age band", "need_band": "need level"}.get(
        attribute, attribute.replace("_", " ")
    )
    words = f'No one in this round has the {noun} "{value}"'
    # Compared without case: "westmere" is "Westmere", "ASHFORD-VALE" close to "Ashford Vale".
    folded = {k.casefold(): k for k in sorted(known)}
    close = [folded[m] for m in difflib.get_close_matches(value.casefold(), folded, n=1)]
    if close:
        return f'{words}. Did you mean "{close[0]}"?'
    if known and len(known) <= 12:
        return f"{words}. The {noun}s people have are: {', '.join(sorted(known))}"
    return f"{words}. Check the spelling"


def _check_rule(rule: Mapping[str, Any], attributes: Mapping[str, str]) -> str | None:
    # Each field's JSON type is checked before it is looked up: a list or an object as a name
    # is refused like any other wrong name, never used as a key.
    kind = rule.get("type")
    if not isinstance(kind, str) or kind not in RULE_TYPES:
        return "Choose a kind of rule"
    attribute = rule.get("attribute")
    if not isinstance(attribute, str) or not attribute or attribute not in attributes:
        return "Choose a person attribute the rule is about"
    allowed = {"type", "attribute"}
    if kind == "coverage_floor":
        allowed |= {"min_share", "values"}
        share = rule.get("min_share")
        if not isinstance(share, int | float) or isinstance(share, bool) or not 0 <= share <= 1:
            return "Give the smallest share as a percentage from 0 to 100"
        values = rule.get("values")
        if values is not None and (
            not isinstance(values, list) or not all(isinstance(v, str) and v for v in values)
        ):
            return "List the groups as words"
    elif kind == "coverage_gap":
        allowed |= {"max_gap"}
        gap = rule.get("max_gap")
        if not isinstance(gap, int | float) or isinstance(gap, bool) or not 0 <= gap <= 1:
            return "Give the largest gap as a percentage from 0 to 100"
    extra = set(rule) - allowed
    if extra:
        return f"A rule of this kind has no {sorted(extra)[0]}"
    return None


def set_policy(
    session: Session,
    actor: User,
    round_: Round,
    *,
    mechanism: str,
    rules: Sequence[Mapping[str, Any]],
    time_limit_s: float,
    seed: int,
    max_placements: int | None = None,
) -> Round:
    """Set how the round is allocated. Rules follow the allocation format's ``policy.rules``."""
    if round_.status == RoundStatus.published:
        raise Conflict("This round is published, so its policy cannot change.")
    errors: dict[str, str] = {}
    if mechanism not in {m.value for m in Mechanism}:
        errors["mechanism"] = "Choose how places are given out"
    if not 0 < time_limit_s <= MAX_TIME_LIMIT_S:
        errors["time_limit_s"] = f"The time limit must be between 1 and {MAX_TIME_LIMIT_S} seconds"
    if not -(2**31) < seed < 2**31:
        errors["seed"] = "The seed must be a whole number between -2147483647 and 2147483647"
    placements = round_.max_placements if max_placements is None else max_placements
    if placements < 1:
        errors["max_placements"] = "Each person may hold at least 1 place"
    elif mechanism == Mechanism.stable and placements != 1:
        errors["max_placements"] = "The stable mechanism gives each person 1 place at most"
    attributes = available_attributes(session, round_)
    groups: dict[str, set[str]] = {}
    for i, rule in enumerate(rules):
        problem = _check_rule(rule, attributes)
        if problem is None and rule.get("values"):
            # A group no one is in binds no one: almost always a typo, so it is refused.
            attribute = str(rule["attribute"])
            if attribute not in groups:
                groups[attribute] = known_groups(session, round_, attribute)
            unknown = [v for v in rule["values"] if v not in groups[attribute]]
            if unknown:
                problem = unknown_group_words(unknown[0], groups[attribute], attribute)
        if problem:
            errors[f"rules-{i}"] = problem
    if sum(1 for r in rules if r.get("type") == "maximize_min_coverage") > 1:
        errors["rules"] = "Use at most one 'worst-off group' rule"
    if errors:
        raise InvalidInput(errors)
    round_.mechanism = Mechanism(mechanism)
    round_.rules = [dict(r) for r in rules]
    round_.time_limit_s = float(time_limit_s)
    round_.seed = int(seed)
    round_.max_placements = placements
    session.flush()
    append_event(
        session,
        "round.policy.set",
        actor_user_id=actor.id,
        object_type="round",
        object_id=round_.id,
        details={
            "mechanism": mechanism,
            "rules": round_.rules,
            "time_limit_s": round_.time_limit_s,
            "seed": round_.seed,
            "max_placements": placements,
        },
    )
    return round_


def open_round(session: Session, actor: User, round_: Round) -> Round:
    """Let people choose: a draft round with at least one offer with places becomes open."""
    if round_.status != RoundStatus.draft:
        raise Conflict("Only a draft round can be opened.")
    if not any(ro.places > 0 for ro in round_.round_offers):
        raise InvalidInput({"places": "Add at least one offer with places before opening"})
    _move(session, actor, round_, RoundStatus.open, "round.open")
    tell_people_of_round(session, round_, ROUND_OPENED)
    return round_


#: People are reminded this long before a round's last day for choices.
CLOSING_NOTICE = timedelta(days=2)
#: How often a worker looks for rounds closing soon.
CLOSING_LOOK_EVERY = timedelta(minutes=5)
_closing_looked_at: datetime | None = None


def tell_people_of_round(session: Session, round_: Round, event: str) -> int:
    """Tell everyone the round is about (each once, by key) that it opened or closes soon."""
    prefix = f"{event}:{round_.id}:"
    told = set(session.scalars(select(Notification.key).where(Notification.key.like(f"{prefix}%"))))
    data: dict[str, object] = {"round_name": round_.name, "path": "/person/choices"}
    if round_.choice_deadline is not None:
        data["closes_at"] = round_.choice_deadline.isoformat()
    count = 0
    for person in session.scalars(_people_in_scope(round_)):
        key = f"{prefix}{person.id}"
        if key in told:
            continue
        notify(session, user_id=person.user_id, event=event, data=data, key=key)
        count += 1
    return count


@register_periodic("round_closing")
def remind_rounds_closing(
    session_factory: Callable[[], Session], now: datetime | None = None
) -> int:
    """Tell people of each open round whose last day for choices is within two days."""
    global _closing_looked_at
    now = now or utcnow()
    if _closing_looked_at is not None and now - _closing_looked_at < CLOSING_LOOK_EVERY:
        return 0
    _closing_looked_at = now
    count = 0
    with session_factory() as session:
        for round_ in session.scalars(
            select(Round).where(
                Round.status == RoundStatus.open,
                Round.choice_deadline.is_not(None),
                Round.choice_deadline > now,
                Round.choice_deadline <= now + CLOSING_NOTICE,
            )
        ):
            count += tell_people_of_round(session, round_, ROUND_CLOSING)
        session.commit()
    return count


def close_round(session: Session, actor: User, round_: Round) -> Round:
    """Stop choices: an open round becomes closed, ready for allocation runs."""
    if round_.status != RoundStatus.open:
        raise Conflict("Only an open round can be closed.")
    return _move(session, actor, round_, RoundStatus.closed, "round.close")


def open_words(session: Session, round_: Round) -> list[str]:
    """What opening ``round_`` means, for the page that asks "Are you sure?"."""
    people = session.scalar(select(func.count()).select_from(_people_in_scope(round_).subquery()))
    offers = sum(1 for ro in round_.round_offers if ro.places > 0)
    told = count_words(people or 0, "person will be told")
    words = [
        f"{told} that the round is open, by email, text or letter, as each of them chose. "
        "A message cannot be taken back once it is sent.",
        f"They can then choose from {count_words(offers, 'service')}.",
    ]
    if round_.choice_deadline is not None:
        deadline = round_.choice_deadline
        words.append(f"The last day for choices is {deadline.day} {deadline:%B %Y}.")
    words.append(
        "Once it is open, the round cannot go back to being a draft. "
        "You can still change its details."
    )
    return words


def close_words(round_: Round, now: datetime | None = None) -> list[str]:
    """What closing ``round_`` means, for the page that asks "Are you sure?"."""
    now = now or utcnow()
    words = []
    deadline = round_.choice_deadline
    if deadline is not None:
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=now.tzinfo)
        day = f"{deadline.day} {deadline:%B %Y}"
        days = (deadline.date() - now.date()).days
        if deadline > now:
            left = (
                "today"
                if days == 0
                else "tomorrow"
                if days == 1
                else f"in {count_words(days, 'day')}"
            )
            words.append(
                f"The last day for choices is {day}, {left}. You are closing it before then."
            )
        else:
            words.append(f"The last day for choices was {day}.")
    words.append(
        "Once it is closed, people cannot make or change their choices in this round, "
        "and it cannot be opened again."
    )
    return words


def _move(session: Session, actor: User, round_: Round, to: RoundStatus, action: str) -> Round:
    # A guarded update, so two commissioners pressing the button at once move it only once.
    from sqlalchemy import update

    now = utcnow()
    values: dict[str, Any] = {"status": to}
    if to == RoundStatus.open:
        values["opened_at"] = now
    elif to == RoundStatus.closed:
        values["closed_at"] = now
    moved = session.execute(
        update(Round)
        .where(Round.id == round_.id, Round.status == round_.status)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise Conflict("Someone else changed this round meanwhile. Reload the page.")
    session.refresh(round_)
    append_event(session, action, actor_user_id=actor.id, object_type="round", object_id=round_.id)
    return round_
