"""What a person sees of the offers: "Matched for you", search with filters, and one offer.

Only published offers are shown to people. When the person has an open round, "Matched for
you" lists the offers taking part in it (the ones they can choose); otherwise every published
offer in their council.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from models.accounts import User
from models.people import PersonProfile
from models.providers import Offer, OfferCategory, OfferStatus, Provider
from models.rounds import Choice, Round, RoundOffer
from models.voice import Feedback
from web.services.acting import authorise
from web.services.errors import InvalidInput, NotFound
from web.services.matching import Match, match_offers
from web.services.profiles import offer_facts, open_round_for, person_facts
from web.services.words import N_, _

PAGE_SIZE = 10
SEARCH_TEXT_MAX = 100

CATEGORY_LABELS: dict[str, str] = {
    OfferCategory.employment: N_("Work"),
    OfferCategory.training: N_("Learning and training"),
    OfferCategory.day_opportunity: N_("Day activities"),
    OfferCategory.home_support: N_("Help at home"),
    OfferCategory.social: N_("Meeting people"),
    OfferCategory.creative: N_("Art, music and making"),
}


@dataclass(frozen=True, slots=True)
class ScoredOffer:
    """An offer with its match for the person, and its places in the open round (if any)."""

    offer: Offer
    match: Match
    round_offer: RoundOffer | None


@dataclass(frozen=True, slots=True)
class Matched:
    """ "Matched for you": the open round (or None), the best offers that fit, how many more
    fit than are shown, and how many do not fit (not eligible, or over budget)."""

    round: Round | None
    items: list[ScoredOffer]
    more: int
    left_out: int


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of search results."""

    items: list[ScoredOffer]
    total: int
    page: int
    pages: int


@dataclass(frozen=True, slots=True)
class OfferDetail:
    """One offer as a person sees it."""

    offer: Offer
    match: Match
    round: Round | None
    round_offer: RoundOffer | None
    demand: int
    rating_average: float | None
    rating_count: int
    comments: list[Feedback]


def _published(council_id: int | None) -> Select[Offer]:
    return (
        select(Offer)
        .join(Provider, Provider.id == Offer.provider_id)
        .where(Offer.status == OfferStatus.published, Provider.council_id == council_id)
        .options(selectinload(Offer.outcome_tags), selectinload(Offer.provider))
    )


def _round_offers(session: Session, round_: Round | None) -> dict[int, RoundOffer]:
    if round_ is None:
        return {}
    rows = session.scalars(select(RoundOffer).where(RoundOffer.round_id == round_.id))
    return {ro.offer_id: ro for ro in rows}


def _score(
    session: Session, person: PersonProfile, round_: Round | None, offers: list[Offer]
) -> list[ScoredOffer]:
    by_id = {o.id: o for o in offers}
    round_offers = _round_offers(session, round_)
    facts = person_facts(session, person, round_)
    return [
        ScoredOffer(by_id[int(m.offer.id)], m, round_offers.get(int(m.offer.id)))
        for m in match_offers(facts, [offer_facts(o) for o in offers])
    ]


def matched_for_you(
    session: Session, actor: User, person: PersonProfile, *, limit: int = 20
) -> Matched:
    """The offers that fit the person best, best first, at most ``limit`` of them."""
    authorise(session, actor, person, "view")
    round_ = open_round_for(session, person)
    query = _published(person.user.council_id)
    if round_ is not None:
        query = query.join(RoundOffer, RoundOffer.offer_id == Offer.id).where(
            RoundOffer.round_id == round_.id
        )
    scored = _score(session, person, round_, list(session.scalars(query)))
    fitting = [s for s in scored if s.match.fits]
    return Matched(
        round=round_,
        items=fitting[:limit],
        more=max(0, len(fitting) - limit),
        left_out=len(scored) - len(fitting),
    )


def search_offers(
    session: Session,
    actor: User,
    person: PersonProfile,
    *,
    text: str = "",
    category: str = "",
    area: str = "",
    max_price: str = "",
    within_budget: bool = False,
    page: int = 1,
) -> SearchPage:
    """Published offers filtered by words, category, area and price, sorted by match.

    Every word of ``text`` must appear in the offer's title, description, provider, place or
    outcome tags (any case, any accents as typed).
    ``max_price`` is typed in pounds ("120" or "95.50"). ``within_budget`` keeps only offers
    that cost no more than the money left in the person's budget. Pages hold
    :data:`PAGE_SIZE` offers; a page past the end gives the last page.
    """
    authorise(session, actor, person, "view")
    errors: dict[str, str] = {}
    text = text.strip()
    if len(text) > SEARCH_TEXT_MAX:
        errors["q"] = _("Search words must be %(most)s characters or fewer", most=SEARCH_TEXT_MAX)
    if category and category not in CATEGORY_LABELS:
        errors["category"] = _("Choose a type of service from the list")
    price_cap: int | None = None
    if max_price.strip():
        price_cap = parse_pounds(max_price)
        if price_cap is None:
            errors["max_price"] = _("Enter a price in pounds, like 120 or 95.50")
    if errors:
        raise InvalidInput(errors)

    round_ = open_round_for(session, person)
    query = _published(person.user.council_id)
    if category:
        query = query.where(Offer.category == OfferCategory(category))
    if price_cap is not None:
        query = query.where(Offer.price_pence <= price_cap)
    offers = list(session.scalars(query))
    if area:
        # Any of the areas it serves, not only its main one.
        offers = [o for o in offers if area in o.service_areas]
    if text:
        # Matched in Python with casefold(): SQLite's LIKE ignores case for ASCII letters only,
        # and "CAFÉ" must find "Café" on every database. A council has hundreds of offers.
        words = text.casefold().split()
        offers = [o for o in offers if all(w in _searchable(o) for w in words)]
    scored = _score(session, person, round_, offers)
    if within_budget:
        scored = [s for s in scored if not _over_budget(s.match)]
    total = len(scored)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    start = (page - 1) * PAGE_SIZE
    return SearchPage(scored[start : start + PAGE_SIZE], total, page, pages)


def _searchable(offer: Offer) -> str:
    tags = " ".join(t.label for t in offer.outcome_tags)
    parts = (offer.title, offer.description, offer.provider.name, offer.location or "", tags)
    return " ".join(parts).casefold()


def _over_budget(match: Match) -> bool:
    return any(r.part == "budget" for r in match.blockers)


def offer_areas(session: Session, person: PersonProfile) -> list[str]:
    """The areas that published offers in the person's council serve (each one's main area
    and its others), for the area filter."""
    rows = session.execute(
        select(Offer.area, Offer.other_areas)
        .join(Provider, Provider.id == Offer.provider_id)
        .where(
            Offer.status == OfferStatus.published,
            Provider.council_id == person.user.council_id,
            Offer.area.is_not(None),
        )
    )
    areas = {a for main, others in rows for a in [main, *(others or [])] if a}
    return sorted(areas)


def offer_detail(
    session: Session, actor: User, person: PersonProfile, offer_id: int
) -> OfferDetail:
    """One published offer with its match, its places and demand in the open round, and what
    people said about it. Raises :class:`NotFound` for offers that are not published."""
    authorise(session, actor, person, "view")
    offer = session.scalars(_published(person.user.council_id).where(Offer.id == offer_id)).first()
    if offer is None:
        raise NotFound(_("We could not find that service."))
    round_ = open_round_for(session, person)
    round_offer = _round_offers(session, round_).get(offer.id)
    demand = 0
    if round_ is not None:
        demand = (
            session.scalar(
                select(func.count())
                .select_from(Choice)
                .where(Choice.round_id == round_.id, Choice.offer_id == offer.id)
            )
            or 0
        )
    [match] = match_offers(person_facts(session, person, round_), [offer_facts(offer)])
    avg, count = session.execute(
        select(func.avg(Feedback.rating), func.count(Feedback.id)).where(
            Feedback.offer_id == offer.id
        )
    ).one()
    comments = list(
        session.scalars(
            select(Feedback)
            .where(Feedback.offer_id == offer.id, Feedback.comment.is_not(None))
            .order_by(Feedback.created_at.desc(), Feedback.id.desc())
            .limit(5)
        )
    )
    return OfferDetail(
        offer=offer,
        match=match,
        round=round_,
        round_offer=round_offer,
        demand=demand,
        rating_average=None if avg is None else round(float(avg), 1),
        rating_count=count,
        comments=comments,
    )


# Digits 0 to 9 only: ``str.isdigit`` also passes "²" and "١", which ``int`` refuses or reads.
# At most 18 of them, so a number fits the database and is far from Python's 4,300-digit limit
# on turning text into a number (past which ``int`` raises).
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")
_PENCE = re.compile(r"[0-9]{1,2}")


def parse_whole_number(text: str) -> int | None:
    """A whole number as typed (" 12 ", "-3"), or None when it is not one ("1.5", "²", "1_000",
    "", or thousands of digits). Callers check the range."""
    cleaned = text.strip()
    return int(cleaned) if _WHOLE_NUMBER.fullmatch(cleaned) else None


def parse_pounds(text: str) -> int | None:
    """Pounds as typed ("120", "£95.50", "1,200") in pence, or None when it is not a price."""
    cleaned = text.strip().removeprefix("£").replace(",", "")
    whole, dot, frac = cleaned.partition(".")
    if not _WHOLE_NUMBER.fullmatch(whole) or whole.startswith("-"):
        return None
    if dot and not _PENCE.fullmatch(frac):
        return None
    pence = int(whole) * 100 + (int(frac.ljust(2, "0")) if dot else 0)
    return pence if pence <= 100_000_000_00 else None
