"""Providers: their organisation profile, the demand for their offers, their placements and the
feedback people gave. Offers themselves are in :mod:`web.services.offers`.

A provider user may see only their own organisation. Placements show the minimum a provider
needs: the person's display name, the service and the round. Needs, ages and contact details
stay with the council; a provider who must reach someone asks the council.

Demand, for the round that matters now (the council's open round, else the latest round that
has closed), per offer: how many people chose it at any rank, how many chose it first, and the
places it has in that round. "Unmet aspirations" count the people living in the provider's
areas who want an outcome (an outcome tag on their profile) that no published offer gives in
their area or online, grouped by outcome and area: a hint of what to offer next.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from models.accounts import Council, Role, User
from models.audit import append_event
from models.people import OutcomeTag, PersonProfile, person_outcome_tags
from models.providers import Offer, OfferStatus, Provider, ProviderMember, offer_outcome_tags
from models.rounds import Allocation, AllocationStatus, Choice, Round, RoundOffer, RoundStatus
from models.voice import Feedback
from web.services.errors import InvalidInput, NotAllowed, NotFound

NAME_MAX = 200
TEXT_MAX = 5000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_PHONE = re.compile(r"^[0-9+()\- ]{6,30}$")
PROFILE_FIELDS: tuple[str, ...] = (
    "name",
    "description",
    "website",
    "email",
    "phone",
    "registered_identifier",
    "areas_served",
)
# Rounds whose placements a provider sees: the result has been published to people.
ROUNDS_WITH_PLACEMENTS = (RoundStatus.published,)
PLACEMENT_STATUSES = (
    AllocationStatus.offered,
    AllocationStatus.accepted,
    AllocationStatus.provider_declined,
)


def is_member(session: Session, user: User, provider: Provider) -> bool:
    return (
        session.scalar(
            select(func.count())
            .select_from(ProviderMember)
            .where(ProviderMember.provider_id == provider.id, ProviderMember.user_id == user.id)
        )
        or 0
    ) > 0


def require_member(session: Session, actor: User, provider: Provider) -> None:
    """Raise :class:`NotAllowed` unless ``actor`` is an active member of ``provider``."""
    if (
        actor.role != Role.provider
        or not actor.is_active
        or not is_member(session, actor, provider)
    ):
        raise NotAllowed("You can only do this for your own organisation.")


def provider_for(session: Session, user: User) -> Provider:
    """The organisation ``user`` works for (the first they joined).

    Raises :class:`NotFound` when the user belongs to none yet.
    """
    provider = session.scalars(
        select(Provider)
        .join(ProviderMember, ProviderMember.provider_id == Provider.id)
        .where(ProviderMember.user_id == user.id)
        .order_by(ProviderMember.id)
    ).first()
    if provider is None or user.role != Role.provider:
        raise NotFound("Your account is not linked to an organisation yet. Ask the council.")
    return provider


def council_areas(session: Session, provider: Provider) -> list[str]:
    council = session.get(Council, provider.council_id)
    return list(council.areas or []) if council else []


def update_profile(
    session: Session,
    actor: User,
    provider: Provider,
    data: Mapping[str, Any],
    *,
    partial: bool = False,
    request_id: str | None = None,
) -> Provider:
    """Change the organisation's profile. ``areas_served`` must be areas of the council.

    Raises :class:`InvalidInput` naming every wrong field; nothing changes then.
    """
    require_member(session, actor, provider)
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}

    def given(name: str) -> bool:
        return name in data or not partial

    def text(name: str) -> str:
        return str(data.get(name) or "").strip()

    if given("name"):
        name = text("name")
        if not name:
            errors["name"] = "Enter the name of your organisation"
        elif len(name) > NAME_MAX:
            errors["name"] = f"The name must be {NAME_MAX} characters or fewer"
        out["name"] = name
    if given("description"):
        description = text("description")
        if not description:
            errors["description"] = "Say what your organisation does"
        elif len(description) > TEXT_MAX:
            errors["description"] = f"The description must be {TEXT_MAX} characters or fewer"
        out["description"] = description
    if given("website"):
        website = text("website")
        if website and (not _URL.match(website) or len(website) > 500):
            errors["website"] = "Enter a web address starting with https://"
        out["website"] = website or None
    if given("email"):
        email = text("email").lower()
        if not email:
            errors["email"] = "Enter an email address people can write to"
        elif not _EMAIL.match(email) or len(email) > 320:
            errors["email"] = "Enter an email address like name@example.org"
        out["email"] = email
    if given("phone"):
        phone = text("phone")
        if phone and not _PHONE.match(phone):
            errors["phone"] = "Enter a phone number, like 0121 496 0000"
        out["phone"] = phone or None
    if given("registered_identifier"):
        identifier = text("registered_identifier")
        if len(identifier) > 100:
            errors["registered_identifier"] = "The number must be 100 characters or fewer"
        out["registered_identifier"] = identifier or None
    if given("areas_served"):
        raw = data.get("areas_served") or []
        areas = [raw] if isinstance(raw, str) else [str(a).strip() for a in raw]
        allowed = council_areas(session, provider)
        chosen = [a for a in allowed if a in areas]
        if len(set(areas)) != len(chosen):
            errors["areas_served"] = "Choose areas from the list"
        elif not chosen:
            errors["areas_served"] = "Choose at least one area you serve"
        out["areas_served"] = chosen
    for name in sorted(set(data) - set(PROFILE_FIELDS)):
        errors[name] = "This field cannot be set"
    if errors:
        raise InvalidInput(errors)

    changed = sorted(k for k, v in out.items() if getattr(provider, k) != v)
    for name, value in out.items():
        setattr(provider, name, value)
    session.flush()
    if changed:
        append_event(
            session,
            "provider.updated",
            actor_user_id=actor.id,
            object_type="provider",
            object_id=provider.id,
            request_id=request_id,
            details={"changed": changed},
        )
    return provider


def demand_round(session: Session, provider: Provider) -> Round | None:
    """The round whose demand matters now: the council's open round, else the latest closed."""
    for statuses in (
        (RoundStatus.open,),
        (RoundStatus.closed, RoundStatus.allocated, RoundStatus.published),
    ):
        round_ = session.scalars(
            select(Round)
            .where(Round.council_id == provider.council_id, Round.status.in_(statuses))
            .order_by(Round.opened_at.desc().nulls_last(), Round.id.desc())
        ).first()
        if round_ is not None:
            return round_
    return None


@dataclass(frozen=True, slots=True)
class OfferDemand:
    """Demand for one offer in a round."""

    offer: Offer
    in_round: bool
    places: int
    chosen_by: int
    first_choices: int

    @property
    def oversubscribed(self) -> bool:
        return self.in_round and self.chosen_by > self.places


@dataclass(frozen=True, slots=True)
class UnmetAspiration:
    """People in an area who want an outcome that no published offer gives there."""

    tag: OutcomeTag
    area: str
    people: int


@dataclass(frozen=True, slots=True)
class Demand:
    """The demand page: the round, each offer's demand and the unmet aspirations."""

    round: Round | None
    offers: list[OfferDemand]
    unmet: list[UnmetAspiration]


def demand(session: Session, actor: User, provider: Provider) -> Demand:
    """How many people chose each of the provider's offers, and what is wanted but missing."""
    require_member(session, actor, provider)
    round_ = demand_round(session, provider)
    offers = list(
        session.scalars(
            select(Offer)
            .where(Offer.provider_id == provider.id, Offer.status != OfferStatus.draft)
            .order_by(Offer.title, Offer.id)
        )
    )
    places: dict[int, int] = {}
    chosen: Counter[int] = Counter()
    first: Counter[int] = Counter()
    if round_ is not None and offers:
        ids = [o.id for o in offers]
        places = {
            offer_id: count
            for offer_id, count in session.execute(
                select(RoundOffer.offer_id, RoundOffer.places).where(
                    RoundOffer.round_id == round_.id, RoundOffer.offer_id.in_(ids)
                )
            )
        }
        for offer_id, rank, count in session.execute(
            select(Choice.offer_id, Choice.rank, func.count())
            .where(Choice.round_id == round_.id, Choice.offer_id.in_(ids))
            .group_by(Choice.offer_id, Choice.rank)
        ):
            chosen[offer_id] += count
            if rank == 1:
                first[offer_id] += count
    rows = [
        OfferDemand(
            offer=o,
            in_round=o.id in places,
            places=places.get(o.id, 0),
            chosen_by=chosen[o.id],
            first_choices=first[o.id],
        )
        for o in offers
    ]
    return Demand(round=round_, offers=rows, unmet=unmet_aspirations(session, provider))


def unmet_aspirations(session: Session, provider: Provider) -> list[UnmetAspiration]:
    """Outcomes wanted by people in the provider's areas that no published offer gives in
    their area (or online, with no area), most people first."""
    areas = list(provider.areas_served or [])
    if not areas:
        return []
    wanted = session.execute(
        select(PersonProfile.area, person_outcome_tags.c.tag_id, func.count())
        .join(person_outcome_tags, person_outcome_tags.c.person_id == PersonProfile.id)
        .join(User, User.id == PersonProfile.user_id)
        .where(
            User.council_id == provider.council_id,
            User.is_active.is_(True),
            PersonProfile.area.in_(areas),
        )
        .group_by(PersonProfile.area, person_outcome_tags.c.tag_id)
    )
    # An offer gives its outcomes in every area it serves, its main one and its others.
    offered = {
        (area, tag_id)
        for main, others, tag_id in session.execute(
            select(Offer.area, Offer.other_areas, offer_outcome_tags.c.tag_id)
            .join(offer_outcome_tags, offer_outcome_tags.c.offer_id == Offer.id)
            .join(Provider, Provider.id == Offer.provider_id)
            .where(
                Offer.status == OfferStatus.published, Provider.council_id == provider.council_id
            )
        )
        for area in [main, *(others or [])]
    }
    online = {tag_id for area, tag_id in offered if area is None}
    gaps = [
        (area, tag_id, count)
        for area, tag_id, count in wanted
        if tag_id not in online and (area, tag_id) not in offered
    ]
    tags = {
        t.id: t
        for t in session.scalars(
            select(OutcomeTag).where(OutcomeTag.id.in_({tag_id for _, tag_id, _ in gaps}))
        )
    }
    out = [UnmetAspiration(tags[tag_id], area, count) for area, tag_id, count in gaps]
    return sorted(out, key=lambda u: (-u.people, u.tag.label, u.area))


@dataclass(frozen=True, slots=True)
class Placement:
    """A place at one of the provider's offers: the least the provider needs to know."""

    id: int
    person_name: str
    offer: Offer
    round: Round
    status: AllocationStatus
    start_date: Any = None  # datetime.date once the provider confirmed it
    confirmed: bool = False
    reason: str | None = None  # why the provider declined it


def placements(session: Session, actor: User, provider: Provider) -> list[Placement]:
    """People given (or who accepted) a place at the provider's offers in published rounds."""
    require_member(session, actor, provider)
    rows = session.execute(
        select(Allocation, PersonProfile.display_name)
        .join(Offer, Offer.id == Allocation.offer_id)
        .join(Round, Round.id == Allocation.round_id)
        .join(PersonProfile, PersonProfile.id == Allocation.person_id)
        .where(
            Offer.provider_id == provider.id,
            Round.status.in_(ROUNDS_WITH_PLACEMENTS),
            Round.published_run_id == Allocation.run_id,
            Allocation.status.in_(PLACEMENT_STATUSES),
        )
        .options(selectinload(Allocation.offer), selectinload(Allocation.round))
        .order_by(Round.id.desc(), Offer.title, PersonProfile.display_name, Allocation.id)
    )
    return [
        Placement(
            a.id,
            name,
            a.offer,
            a.round,
            a.status,
            a.start_date,
            a.confirmed_at is not None,
            a.provider_reason,
        )
        for a, name in rows
    ]


def placement(session: Session, actor: User, provider: Provider, allocation_id: int) -> Placement:
    """One of :func:`placements` (:class:`NotFound` when it is not the provider's)."""
    found = next((p for p in placements(session, actor, provider) if p.id == allocation_id), None)
    if found is None:
        raise NotFound("There is no such placement.")
    return found


@dataclass(frozen=True, slots=True)
class OfferFeedback:
    """What people said about one offer: the average rating and the comments, without names."""

    offer: Offer
    rating_count: int
    rating_average: float | None
    comments: list[Feedback]


def feedback(session: Session, actor: User, provider: Provider) -> list[OfferFeedback]:
    """Ratings and comments on each of the provider's offers that has any."""
    require_member(session, actor, provider)
    offers = {
        o.id: o for o in session.scalars(select(Offer).where(Offer.provider_id == provider.id))
    }
    if not offers:
        return []
    stats = {
        offer_id: (count, avg)
        for offer_id, count, avg in session.execute(
            select(Feedback.offer_id, func.count(Feedback.id), func.avg(Feedback.rating))
            .where(Feedback.offer_id.in_(offers))
            .group_by(Feedback.offer_id)
        )
    }
    comments: dict[int, list[Feedback]] = {}
    for item in session.scalars(
        select(Feedback)
        .where(Feedback.offer_id.in_(offers), Feedback.comment.is_not(None))
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())
    ):
        comments.setdefault(item.offer_id, []).append(item)
    out = [
        OfferFeedback(
            offers[offer_id],
            count,
            None if avg is None else round(float(avg), 1),
            comments.get(offer_id, []),
        )
        for offer_id, (count, avg) in stats.items()
    ]
    return sorted(out, key=lambda f: (f.offer.title, f.offer.id))


def public_providers(
    session: Session, *, council: str | None = None, area: str | None = None
) -> list[Provider]:
    """Providers with at least one published offer, for anyone to read, by name."""
    query = (
        select(Provider)
        .where(
            Provider.offers.any(Offer.status == OfferStatus.published),
        )
        .order_by(Provider.name, Provider.id)
    )
    if council:
        query = query.join(Council, Council.id == Provider.council_id).where(
            Council.slug == council
        )
    providers = list(session.scalars(query))
    if area:
        providers = [p for p in providers if area in (p.areas_served or [])]
    return providers


def public_provider(session: Session, provider_id: int) -> Provider:
    """One provider with a published offer; others (and missing ones) are :class:`NotFound`."""
    provider = session.get(Provider, provider_id)
    if provider is None or not session.scalar(
        select(func.count())
        .select_from(Offer)
        .where(Offer.provider_id == provider_id, Offer.status == OfferStatus.published)
    ):
        raise NotFound("We could not find that organisation.")
    return provider
