"""Offers: a provider creates, edits, publishes and withdraws them and changes their capacity;
anyone reads the published ones.

Field rules (checked by :func:`clean_offer_fields`, each problem named by its field):

- ``title`` (1 to 200 characters) and ``description`` are required; ``category`` must be one
  of :class:`models.providers.OfferCategory`; ``tags`` are outcome-tag slugs from the shared
  taxonomy (at most :data:`MAX_TAGS`); ``council_terms`` are the public ids of terms of the
  council's own taxonomies (``/openreferral/<council>/taxonomy_terms``), at most
  :data:`MAX_COUNCIL_TERMS`.
- The price is whole pence: pages send ``price`` as typed in pounds ("95.50"), the API sends
  ``price_pence`` as an integer. ``capacity`` is a whole number of places, 0 or more.
- ``area`` is one of the provider's areas served, or empty for a service given online or
  everywhere; ``other_areas`` are further areas it serves (each one of the provider's; pages
  send them as one text, split at commas), and need a main ``area``. Age bands and need
  levels bound who is eligible (lowest no higher than highest).
- ``schedule`` maps days (``mon``..``sun``) to parts of the day (``morning`` ...).
- The address is optional: ``address_line`` (street), ``town`` and a UK ``postcode``, kept in
  capitals with one space ("EX1 1AA"). ``languages`` lists the languages it is given in
  besides English (pages send them as one text, split at commas); ``contact_name`` says who
  to ask.

Statuses: a new offer is a draft. Publishing makes it visible to people and open to rounds;
withdrawing hides it again (it can be published again later). Capacity is the provider's
standing number of places; a change also moves the places of the offer in rounds that have
not closed yet (draft or open), and lowers them in rounds that have closed or are published.

People's places come first. A place offered to a person or accepted by them in any round is
*held* (``RoundOffer.places_taken``). Capacity never goes below the places held in any round,
and an offer that holds places cannot be withdrawn: the council moves those people first. Both
are guarded updates (``... WHERE places_taken <= :capacity``, ``... WHERE NOT EXISTS (a round
holding places)``), and taking a place locks the offer's row
(:func:`lock_offer_for_a_place`), so a withdrawal and a new place can never both happen.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Text, cast, func, literal, or_, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.functions import FunctionElement

from models.accounts import User
from models.audit import append_event
from models.base import utcnow
from models.openreferral import CouncilTaxonomy, CouncilTaxonomyTerm
from models.people import AGE_BANDS, DAYS, NEED_LEVEL_MAX, TIMES_OF_DAY, AgeBand, OutcomeTag
from models.providers import Offer, OfferCategory, OfferStatus, Provider
from models.rounds import Round, RoundOffer, RoundStatus
from web.services.catalogue import CATEGORY_LABELS, parse_pounds, parse_whole_number
from web.services.errors import Conflict, InvalidInput, NotFound, StateConflict
from web.services.openreferral import COUNCIL_TERM, parse_id, record_id
from web.services.postcodes import normal_postcode
from web.services.providers import require_member
from web.services.recurrence import weekly_rules
from web.services.words import count

TITLE_MAX = 200
TEXT_MAX = 5000
LOCATION_MAX = 300
MAX_TAGS = 8
MAX_COUNCIL_TERMS = 20
MAX_CAPACITY = 100_000
MAX_PRICE_PENCE = 100_000_00  # £100,000 a place
MAX_PAGE_SIZE = 100
TOWN_MAX = 100
CONTACT_MAX = 200
MAX_LANGUAGES = 20
LANGUAGE_MAX = 60

EDITABLE_FIELDS: tuple[str, ...] = (
    "title",
    "description",
    "category",
    "tags",
    "council_terms",
    "price_pence",
    "capacity",
    "area",
    "other_areas",
    "location",
    "min_age_band",
    "max_age_band",
    "min_need_level",
    "max_need_level",
    "eligibility_text",
    "schedule",
    "accessibility",
    "address_line",
    "town",
    "postcode",
    "languages",
    "contact_name",
)
REQUIRED_FIELDS: tuple[str, ...] = ("title", "description", "category", "price_pence", "capacity")
# The offer's council terms with their taxonomies, read with it (the API names both).
_TERMS = selectinload(Offer.council_terms).selectinload(CouncilTaxonomyTerm.taxonomy)
# Rounds whose places still follow the provider's capacity.
ROUNDS_FOLLOWING_CAPACITY = (RoundStatus.draft, RoundStatus.open)
# Rounds whose places were settled by the council: a lower capacity lowers them, a higher one
# leaves them as they are.
ROUNDS_CAPPED_BY_CAPACITY = (RoundStatus.closed, RoundStatus.allocated, RoundStatus.published)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return parse_whole_number(str(value).replace(",", ""))


def clean_offer_fields(
    session: Session, provider: Provider, data: Mapping[str, Any], *, partial: bool = False
) -> dict[str, Any]:
    """Check offer fields and return them as stored values (``tags`` as ``OutcomeTag`` rows).

    ``data`` may come from a page (text as typed, ``price`` in pounds) or from the API
    (``price_pence``, numbers, lists). With ``partial`` only the fields given are checked, but
    the age and need ranges are checked against the fields given. Raises
    :class:`InvalidInput` naming every wrong field.
    """
    data = dict(data)
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}

    if "price" in data:
        raw = data.pop("price")
        if _blank(raw):
            data["price_pence"] = None
        else:
            pence = parse_pounds(str(raw))
            if pence is None:
                errors["price"] = "Enter the price in pounds and pence, like 45 or 12.50"
            else:
                data["price_pence"] = pence

    def given(name: str) -> bool:
        return name in data or not partial

    if given("title"):
        title = str(data.get("title") or "").strip()
        if not title:
            errors["title"] = "Enter a name for the service"
        elif len(title) > TITLE_MAX:
            errors["title"] = f"The name must be {TITLE_MAX} characters or fewer"
        out["title"] = title
    if given("description"):
        text = str(data.get("description") or "").strip()
        if not text:
            errors["description"] = "Say what happens at the service"
        elif len(text) > TEXT_MAX:
            errors["description"] = f"The description must be {TEXT_MAX} characters or fewer"
        out["description"] = text
    if given("category"):
        category = str(data.get("category") or "").strip()
        if category not in CATEGORY_LABELS:
            errors["category"] = "Choose the type of service from the list"
        else:
            out["category"] = OfferCategory(category)
    if given("tags"):
        slugs = sorted({str(s).strip() for s in (data.get("tags") or []) if str(s).strip()})
        tags = list(session.scalars(select(OutcomeTag).where(OutcomeTag.slug.in_(slugs))))
        if len(tags) != len(slugs):
            errors["tags"] = "Choose what the service helps with from the list"
        elif len(tags) > MAX_TAGS:
            errors["tags"] = f"Choose {MAX_TAGS} or fewer"
        out["tags"] = sorted(tags, key=lambda t: t.slug)
    if given("council_terms"):
        try:
            out["council_terms"] = council_terms(session, provider, data.get("council_terms") or [])
        except InvalidInput as error:
            errors.update(error.errors)
    if given("price_pence") and "price" not in errors:
        raw = data.get("price_pence")
        pence = None if _blank(raw) else _whole_number(raw)
        if _blank(raw):
            errors["price"] = "Enter the price of one place, in pounds and pence"
        elif pence is None or pence < 0:
            errors["price"] = "The price must be 0 or more, in pounds and pence"
        elif pence > MAX_PRICE_PENCE:
            errors["price"] = "The price must be £100,000 or less"
        else:
            out["price_pence"] = pence
    if given("capacity"):
        raw = data.get("capacity")
        places = None if _blank(raw) else _whole_number(raw)
        if _blank(raw):
            errors["capacity"] = "Enter how many places there are"
        elif places is None:
            errors["capacity"] = "The number of places must be a whole number, like 8"
        elif places < 0:
            errors["capacity"] = "The number of places must be 0 or more"
        elif places > MAX_CAPACITY:
            errors["capacity"] = f"The number of places must be {MAX_CAPACITY:,} or fewer"
        else:
            out["capacity"] = places
    if given("area"):
        area = str(data.get("area") or "").strip()
        if area and area not in (provider.areas_served or []):
            errors["area"] = "Choose one of the areas you serve, or leave it empty"
        out["area"] = area or None
    if given("other_areas"):
        raw_areas = data.get("other_areas") or []
        if isinstance(raw_areas, str):
            raw_areas = raw_areas.split(",")
        if not isinstance(raw_areas, list | tuple):
            errors["other_areas"] = "List the areas, with commas between them"
        else:
            main = out.get("area")
            further: list[str] = []
            for item in raw_areas:
                name = " ".join(str(item).split())
                if name and name not in further:
                    further.append(name)
            if any(a not in (provider.areas_served or []) for a in further):
                errors["other_areas"] = "Choose only areas you serve"
            elif further and given("area") and not main:
                errors["other_areas"] = "Choose the main area first, then any others"
            out["other_areas"] = [a for a in further if a != main]
    for name, limit, label in (
        ("location", LOCATION_MAX, "The place"),
        ("eligibility_text", TEXT_MAX, "Who it is for"),
        ("accessibility", TEXT_MAX, "Access"),
    ):
        if given(name):
            text = str(data.get(name) or "").strip()
            if len(text) > limit:
                errors[name] = f"{label} must be {limit} characters or fewer"
            out[name] = text or None
    for name, limit, label in (
        ("address_line", LOCATION_MAX, "The street"),
        ("town", TOWN_MAX, "The town"),
        ("contact_name", CONTACT_MAX, "Who to ask"),
    ):
        if given(name):
            text = str(data.get(name) or "").strip()
            if len(text) > limit:
                errors[name] = f"{label} must be {limit} characters or fewer"
            out[name] = text or None
    if given("postcode"):
        raw = str(data.get("postcode") or "")
        postcode = normal_postcode(raw)
        if raw.strip() and postcode is None:
            errors["postcode"] = "Enter a UK postcode, like EX1 1AA"
        out["postcode"] = postcode
    if given("languages"):
        raw_languages = data.get("languages") or []
        if isinstance(raw_languages, str):
            raw_languages = raw_languages.split(",")
        if not isinstance(raw_languages, list | tuple):
            errors["languages"] = "List the languages, with commas between them"
        else:
            names: list[str] = []
            for item in raw_languages:
                name = " ".join(str(item).split())
                if name and name.lower() not in {n.lower() for n in names}:
                    names.append(name)
            if any(len(n) > LANGUAGE_MAX for n in names):
                errors["languages"] = f"Each language must be {LANGUAGE_MAX} characters or fewer"
            elif len(names) > MAX_LANGUAGES:
                errors["languages"] = f"List {MAX_LANGUAGES} languages or fewer"
            out["languages"] = names
    for name in ("min_age_band", "max_age_band"):
        if given(name):
            band = str(data.get(name) or "").strip()
            if band and band not in {b.value for b in AGE_BANDS}:
                errors[name] = "Choose an age group from the list"
            else:
                out[name] = AgeBand(band) if band else None
    for name in ("min_need_level", "max_need_level"):
        if given(name):
            raw = data.get(name)
            level = None if _blank(raw) else _whole_number(raw)
            if not _blank(raw) and (level is None or not 0 <= level <= NEED_LEVEL_MAX):
                errors[name] = f"The need level must be a whole number from 0 to {NEED_LEVEL_MAX}"
            else:
                out[name] = level
    if given("schedule"):
        schedule = data.get("schedule") or {}
        clean: dict[str, list[str]] = {}
        if not isinstance(schedule, Mapping):
            errors["schedule"] = "Choose days and times from the list"
        else:
            for day, parts in schedule.items():
                parts = [parts] if isinstance(parts, str) else list(parts or [])
                if day not in DAYS or any(p not in TIMES_OF_DAY for p in parts):
                    errors["schedule"] = "Choose days and times from the list"
                    break
                if parts:
                    clean[day] = [p for p in TIMES_OF_DAY if p in parts]
        out["schedule"] = {d: clean[d] for d in DAYS if d in clean}

    lo_band, hi_band = out.get("min_age_band"), out.get("max_age_band")
    if lo_band and hi_band and AGE_BANDS.index(lo_band) > AGE_BANDS.index(hi_band):
        errors["max_age_band"] = "The oldest age group must not be younger than the youngest"
    lo_need, hi_need = out.get("min_need_level"), out.get("max_need_level")
    if lo_need is not None and hi_need is not None and lo_need > hi_need:
        errors["max_need_level"] = "The highest need level must not be below the lowest"

    unknown = set(data) - set(EDITABLE_FIELDS)
    for name in sorted(unknown):
        errors[name] = "This field cannot be set"
    if errors:
        raise InvalidInput(errors)
    return out


def council_terms(
    session: Session, provider: Provider, public_ids: Any
) -> list[CouncilTaxonomyTerm]:
    """The terms of the provider's council's own taxonomies that ``public_ids`` name."""
    if not isinstance(public_ids, list | tuple):
        raise InvalidInput({"council_terms": "Give the council's terms as a list"})
    wanted = {str(p).strip() for p in public_ids if str(p).strip()}
    pks = {parse_id(p, COUNCIL_TERM) for p in wanted}
    terms = list(
        session.scalars(
            select(CouncilTaxonomyTerm)
            .join(CouncilTaxonomy)
            .where(
                CouncilTaxonomy.council_id == provider.council_id,
                CouncilTaxonomyTerm.id.in_([p for p in pks if p is not None]),
            )
            .order_by(CouncilTaxonomyTerm.taxonomy_id, CouncilTaxonomyTerm.position)
        )
    )
    if None in pks or len(terms) != len(wanted):
        raise InvalidInput({"council_terms": "Choose the council's terms from the list"})
    if len(terms) > MAX_COUNCIL_TERMS:
        raise InvalidInput({"council_terms": f"Choose {MAX_COUNCIL_TERMS} or fewer"})
    return terms


def _apply(offer: Offer, values: Mapping[str, Any]) -> list[str]:
    changed = []
    for name, value in values.items():
        attribute = "outcome_tags" if name == "tags" else name
        before = getattr(offer, attribute)
        if name == "tags":
            if [t.slug for t in before] != [t.slug for t in value]:
                changed.append(name)
        elif name == "council_terms":
            if [t.id for t in before] != [t.id for t in value]:
                changed.append(name)
        elif before != value:
            changed.append(name)
            if name == "schedule":
                # Days and parts of the day said anew replace the rules with weekly ones.
                offer.schedule_rules = weekly_rules(value, utcnow().date())
        setattr(offer, attribute, value)
    return sorted(changed)


def _record(
    session: Session,
    actor: User,
    action: str,
    offer: Offer,
    details: dict[str, Any],
    request_id: str | None,
) -> None:
    append_event(
        session,
        action,
        actor_user_id=actor.id,
        object_type="offer",
        object_id=offer.id,
        request_id=request_id,
        details={"provider_id": offer.provider_id, **details},
    )


def create_offer(
    session: Session,
    actor: User,
    provider: Provider,
    data: Mapping[str, Any],
    *,
    request_id: str | None = None,
) -> Offer:
    """A new draft offer of ``provider``. Raises :class:`InvalidInput` on wrong fields."""
    require_member(session, actor, provider)
    values = clean_offer_fields(session, provider, data)
    offer = Offer(provider_id=provider.id, status=OfferStatus.draft)
    _apply(offer, values)
    session.add(offer)
    session.flush()
    _record(session, actor, "offer.created", offer, {"capacity": offer.capacity}, request_id)
    return offer


def own_offer(session: Session, actor: User, provider: Provider, offer_id: int) -> Offer:
    """One of ``provider``'s offers; :class:`NotFound` for anyone else's (they look missing)."""
    require_member(session, actor, provider)
    offer = session.get(Offer, offer_id, options=[selectinload(Offer.outcome_tags), _TERMS])
    if offer is None or offer.provider_id != provider.id:
        raise NotFound("We could not find that service.")
    return offer


def provider_offers(session: Session, actor: User, provider: Provider) -> list[Offer]:
    """Every offer of ``provider`` whatever its status, by title."""
    require_member(session, actor, provider)
    return list(
        session.scalars(
            select(Offer)
            .where(Offer.provider_id == provider.id)
            .options(selectinload(Offer.outcome_tags), _TERMS)
            .order_by(Offer.title, Offer.id)
        )
    )


def update_offer(
    session: Session,
    actor: User,
    provider: Provider,
    offer_id: int,
    data: Mapping[str, Any],
    *,
    partial: bool = False,
    request_id: str | None = None,
) -> Offer:
    """Change an offer's fields (all of them, or with ``partial`` only those given).

    A capacity change goes through :func:`set_capacity`'s rules (rounds follow it).
    """
    offer = own_offer(session, actor, provider, offer_id)
    values = clean_offer_fields(session, provider, data, partial=partial)
    _check_areas_together(offer, values)
    capacity = values.pop("capacity", None)
    changed = _apply(offer, values)
    session.flush()
    if changed:
        _record(session, actor, "offer.updated", offer, {"changed": changed}, request_id)
    if capacity is not None and capacity != offer.capacity:
        _change_capacity(session, actor, offer, capacity, request_id)
    return offer


def _check_areas_together(offer: Offer, values: dict[str, Any]) -> None:
    """A change to one of ``area`` and ``other_areas`` must still fit the other, as stored.

    A new main area that was one of the further ones leaves them; further areas without a main
    one are refused (``other_areas``), as :func:`clean_offer_fields` refuses them together.
    """
    if "area" not in values and "other_areas" not in values:
        return
    main = values["area"] if "area" in values else offer.area
    further = values["other_areas"] if "other_areas" in values else list(offer.other_areas or [])
    if further and not main:
        raise InvalidInput({"other_areas": "Choose the main area first, then any others"})
    if "other_areas" in values or main in further:
        values["other_areas"] = [a for a in further if a != main]


def serves_area(area: str) -> ColumnElement[bool]:
    """SQL: the offer serves ``area``, as its main area or one of its others.

    ``other_areas`` is a JSON list, stored as the text ``json.dumps`` writes on every database,
    so an area is in it when its JSON string (quotes and all) is in that text. The test is
    case-sensitive on every database, as ``Offer.area == area`` is (SQLite's LIKE is not).
    """
    return or_(
        Offer.area == area,
        _HoldsText(cast(Offer.other_areas, Text), literal(json.dumps(area))),
    )


class _HoldsText(FunctionElement[bool]):
    """SQL: the first text holds the second, case and all: ``strpos`` on PostgreSQL,
    ``instr`` elsewhere (SQLite); each is 0 when it is not there."""

    type = Boolean()
    inherit_cache = True


@compiles(_HoldsText)
def _holds_text_sqlite(element: _HoldsText, compiler: Any, **kw: Any) -> str:
    haystack, needle = (compiler.process(c, **kw) for c in element.clauses)
    return f"(instr({haystack}, {needle}) > 0)"


@compiles(_HoldsText, "postgresql")
def _holds_text_postgresql(element: _HoldsText, compiler: Any, **kw: Any) -> str:
    haystack, needle = (compiler.process(c, **kw) for c in element.clauses)
    return f"(strpos({haystack}, {needle}) > 0)"


def publish_offer(
    session: Session,
    actor: User,
    provider: Provider,
    offer_id: int,
    *,
    request_id: str | None = None,
) -> Offer:
    """Make an offer visible to people (from draft or withdrawn)."""
    offer = own_offer(session, actor, provider, offer_id)
    if offer.status == OfferStatus.published:
        raise Conflict("This service is already published.")
    # A draft saved long ago must still pass today's rules before people can see it.
    current = {name: _current(offer, name) for name in EDITABLE_FIELDS}
    clean_offer_fields(session, provider, current)
    offer.status = OfferStatus.published
    offer.published_at = utcnow()
    offer.withdrawn_at = None
    session.flush()
    _record(session, actor, "offer.published", offer, {}, request_id)
    return offer


def _current(offer: Offer, name: str) -> Any:
    if name == "tags":
        return [t.slug for t in offer.outcome_tags]
    if name == "council_terms":
        return [record_id(COUNCIL_TERM, t.id) for t in offer.council_terms]
    value = getattr(offer, name)
    return value.value if isinstance(value, AgeBand | OfferCategory) else value


def withdraw_offer(
    session: Session,
    actor: User,
    provider: Provider,
    offer_id: int,
    *,
    request_id: str | None = None,
) -> Offer:
    """Hide a published offer from people.

    Refused (:class:`Conflict`) while people hold places on it in any round: they were offered
    the place or took it, and the council must move them first.
    """
    offer = own_offer(session, actor, provider, offer_id)
    if offer.status != OfferStatus.published:
        raise Conflict("Only a published service can be withdrawn.")
    _lock_offer(session, offer.id)
    holding = (
        select(RoundOffer.id)
        .where(RoundOffer.offer_id == offer.id, RoundOffer.places_taken > 0)
        .exists()
    )
    now = utcnow()
    moved = session.execute(
        update(Offer)
        .where(Offer.id == offer.id, Offer.status == OfferStatus.published, ~holding)
        .values(status=OfferStatus.withdrawn, withdrawn_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        session.refresh(offer)
        if offer.status != OfferStatus.published:
            raise Conflict("Only a published service can be withdrawn.")
        raise Conflict(held_places_words(session, offer) + " Ask the council to move them first.")
    session.refresh(offer)
    _record(session, actor, "offer.withdrawn", offer, {}, request_id)
    return offer


def _lock_offer(session: Session, offer_id: int) -> None:
    # PostgreSQL: wait for anyone taking a place on this offer (they hold FOR SHARE) and stop
    # new takers until this transaction ends. SQLite's single writer already does this.
    session.execute(select(Offer.id).where(Offer.id == offer_id).with_for_update())


def lock_offer_for_a_place(session: Session, offer_id: int) -> bool:
    """Lock the offer's row against a withdrawal while a place on it is taken or accepted
    (PostgreSQL ``FOR SHARE``; SQLite's single writer already serialises). True when the offer
    is published, so a place on it may be taken."""
    status = session.scalar(
        select(Offer.status).where(Offer.id == offer_id).with_for_update(read=True)
    )
    return status == OfferStatus.published


def held_places_words(session: Session, offer: Offer) -> str:
    """Which round holds the most places of ``offer``, in a sentence for the provider."""
    rows = session.execute(
        select(Round.name, RoundOffer.places_taken)
        .join(Round, Round.id == RoundOffer.round_id)
        .where(RoundOffer.offer_id == offer.id, RoundOffer.places_taken > 0)
        .order_by(RoundOffer.places_taken.desc(), Round.id)
    ).all()
    if not rows:
        return "People hold places on this service."
    name, held = rows[0]
    places = count(held, "place on this service is")
    return f"{places} offered to or taken by people in {name}."


def set_capacity(
    session: Session,
    actor: User,
    provider: Provider,
    offer_id: int,
    capacity: Any,
    *,
    request_id: str | None = None,
) -> Offer:
    """Change how many places an offer has. ``capacity`` may be text as typed.

    Raises :class:`InvalidInput` (field ``capacity``) when it is not a whole number of 0 or
    more, and :class:`StateConflict` (the same field) when it is below the places people hold
    (offered or taken) in any round.
    """
    offer = own_offer(session, actor, provider, offer_id)
    values = clean_offer_fields(session, provider, {"capacity": capacity}, partial=True)
    if values["capacity"] != offer.capacity:
        _change_capacity(session, actor, offer, values["capacity"], request_id)
    return offer


def _change_capacity(
    session: Session, actor: User, offer: Offer, capacity: int, request_id: str | None
) -> None:
    rounds = list(
        session.scalars(
            select(RoundOffer)
            .join(Round, Round.id == RoundOffer.round_id)
            .where(
                RoundOffer.offer_id == offer.id,
                Round.status.in_(ROUNDS_FOLLOWING_CAPACITY + ROUNDS_CAPPED_BY_CAPACITY),
            )
            .options(selectinload(RoundOffer.round))
            .order_by(RoundOffer.round_id)
        )
    )
    changed: list[int] = []
    for round_offer in rounds:
        follows = round_offer.round.status in ROUNDS_FOLLOWING_CAPACITY
        if not follows and round_offer.places <= capacity:
            continue  # a settled round keeps its places when there are enough
        # Guarded: only when no more places are held than the new number (another request may
        # be taking a place at this moment).
        result = session.execute(
            update(RoundOffer)
            .where(RoundOffer.id == round_offer.id, RoundOffer.places_taken <= capacity)
            .values(places=capacity)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            session.refresh(round_offer)
            held = round_offer.places_taken
            places = count(held, "place is")
            raise StateConflict(
                {
                    "capacity": f"{places} offered to or taken by people in "
                    f"{round_offer.round.name}, so there must be at least {held}. "
                    "Ask the council to move those people first"
                }
            )
        changed.append(round_offer.round_id)
        session.expire(round_offer)
    before = offer.capacity
    offer.capacity = capacity
    session.flush()
    _record(
        session,
        actor,
        "offer.capacity_changed",
        offer,
        {"from": before, "to": capacity, "rounds": changed},
        request_id,
    )


@dataclass(frozen=True, slots=True)
class OfferPage:
    """One page of published offers."""

    items: list[Offer]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def published_offers(
    session: Session,
    *,
    council: str | None = None,
    provider_id: int | None = None,
    category: str | None = None,
    area: str | None = None,
    tag: str | None = None,
    text: str | None = None,
    max_price_pence: int | None = None,
    page: int = 1,
    per_page: int = 20,
) -> OfferPage:
    """Published offers for anyone to read, filtered, in title order, one page at a time.

    ``council`` is a council's slug. Unknown filter values simply match nothing.
    """
    from models.accounts import Council

    query = (
        select(Offer)
        .join(Provider, Provider.id == Offer.provider_id)
        .where(Offer.status == OfferStatus.published)
    )
    if council:
        query = query.join(Council, Council.id == Provider.council_id).where(
            Council.slug == council
        )
    if provider_id is not None:
        query = query.where(Offer.provider_id == provider_id)
    if category:
        query = query.where(Offer.category == category)
    if area:
        query = query.where(serves_area(area))
    if tag:
        query = query.where(Offer.outcome_tags.any(OutcomeTag.slug == tag))
    if text:
        # autoescape: a user's %, _ or backslash are plain characters, never LIKE syntax (a trailing
        # backslash is an error on PostgreSQL).
        words = text.strip()
        query = query.where(
            or_(
                Offer.title.icontains(words, autoescape=True),
                Offer.description.icontains(words, autoescape=True),
            )
        )
    if max_price_pence is not None:
        query = query.where(Offer.price_pence <= max_price_pence)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    per_page = min(max(1, per_page), MAX_PAGE_SIZE)
    page = max(1, page)
    items = list(
        session.scalars(
            query.options(selectinload(Offer.outcome_tags), selectinload(Offer.provider), _TERMS)
            .order_by(Offer.title, Offer.id)
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    return OfferPage(items, total, page, per_page)


def published_offer(session: Session, offer_id: int) -> Offer:
    """One published offer; :class:`NotFound` for drafts, withdrawn and missing offers alike."""
    offer = session.get(Offer, offer_id)
    if offer is None or offer.status != OfferStatus.published:
        raise NotFound("We could not find that service.")
    return offer
