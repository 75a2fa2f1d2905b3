"""A council's published offers as Open Referral UK (HSDS-UK 3.0) documents.

Mapping: a provider is an ``organization``; a published offer is a ``service`` with its area as
a ``service_area``, its price per place as a ``cost_option`` (pounds, as the profile's
``amount`` is a number), its RFC 5545 rules as ``schedules`` (an offer with only days and
parts of the day gets WEEKLY ones at the hours of each part) and its age bands as
``minimum_age`` / ``maximum_age``. An offer with a place or coordinates has one ``location``
and one ``service_at_location`` (with the offer's address and postcode). Offer categories,
outcome tags and need levels are the terms of three national taxonomies (the same in every
council's feed), and each council may publish taxonomies of its own (``council_taxonomies``)
whose terms its providers tag offers with; all are linked to services by ``attributes``: an
offer for need levels 2 to 4 has the terms of levels 2, 3 and 4 (an offer that names no need
level has none: it is for any level). Drafts and withdrawn offers never
appear.

Ids are stable UUIDs (version 8, RFC 9562) that carry the kind of record and its database id,
so an id names the same record for as long as the record exists and can be looked up without
a table of ids. Records that have no endpoint of their own (attributes, areas, costs,
schedules) get name-based UUIDs (version 5). Each taxonomy's ``uri`` and each term's
``term_uri`` is the address of its own record in the council's feed, unless the council gave
the address where it publishes it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Select, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from models.accounts import Council
from models.openreferral import CouncilTaxonomy, CouncilTaxonomyTerm
from models.people import AGE_BANDS, DAYS, NEED_LEVEL_MAX, AgeBand, OutcomeTag
from models.providers import Offer, OfferCategory, OfferStatus, Provider
from web.services.errors import NotFound
from web.services.matching import haversine_km
from web.services.postcodes import national_point
from web.services.recurrence import (
    describe_rule,
    rule_key,
    rule_parts,
    until_date,
    weekly_rules,
)

HSDS_VERSION = "3.0"
PROFILE_URL = "https://openreferraluk.org/"
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100

# Kinds of record carried in the first group of our version 8 ids.
SERVICE, ORGANIZATION, LOCATION, SERVICE_AT_LOCATION, TAXONOMY, CATEGORY_TERM, TAG_TERM = range(
    1, 8
)
NEED_TERM = 8  # a need level's term: its database id is the level plus one
COUNCIL_TAXONOMY, COUNCIL_TERM = 9, 10  # a council's own taxonomy, and one of its terms
_ID = re.compile(r"^([0-9a-f]{8})-7a95-8e57-8000-([0-9a-f]{12})$")
# For the name-based ids of records with no endpoint of their own.
_NAMESPACE = uuid.UUID("7a95e570-0000-5000-8000-000000000000")

CATEGORY_TAXONOMY = 1
OUTCOME_TAXONOMY = 2
NEED_TAXONOMY = 3
TAXONOMIES = {
    CATEGORY_TAXONOMY: ("Tapestry service types", "The kind of service an offer is."),
    OUTCOME_TAXONOMY: ("Tapestry outcomes", "What a service helps a person to do or get."),
    NEED_TAXONOMY: (
        "Tapestry need levels",
        f"The levels of assessed need, 0 (none) to {NEED_LEVEL_MAX} (the most), a service is for.",
    ),
}
NEED_CODE = re.compile(r"^need-level-([0-9]{1,2})$")
CATEGORY_NAMES = {
    OfferCategory.employment: "Employment",
    OfferCategory.training: "Training",
    OfferCategory.day_opportunity: "Day opportunity",
    OfferCategory.home_support: "Support at home",
    OfferCategory.social: "Social",
    OfferCategory.creative: "Creative",
}
CATEGORIES: tuple[OfferCategory, ...] = tuple(OfferCategory)
# RFC 5545 day names, and the hours we take a part of the day to mean.
BYDAY = dict(zip(DAYS, ("MO", "TU", "WE", "TH", "FR", "SA", "SU"), strict=True))
HOURS = {
    "morning": ("09:00", "12:00"),
    "afternoon": ("12:00", "17:00"),
    "evening": ("17:00", "21:00"),
}
AGES: dict[AgeBand, tuple[int, int | None]] = {
    AgeBand.age_16_17: (16, 17),
    AgeBand.age_18_24: (18, 24),
    AgeBand.age_25_34: (25, 34),
    AgeBand.age_35_49: (35, 49),
    AgeBand.age_50_64: (50, 64),
    AgeBand.age_65_plus: (65, None),
}


def record_id(kind: int, pk: int) -> str:
    """The stable public id of record ``pk`` of ``kind``."""
    return f"{kind:08x}-7a95-8e57-8000-{pk:012x}"


def parse_id(value: str, kind: int) -> int | None:
    """The database id in ``value`` if it is one of our ids of ``kind``, else ``None``."""
    match = _ID.match(value)
    if match is None or int(match.group(1), 16) != kind:
        return None
    return int(match.group(2), 16)


def _name_id(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, ":".join(str(p) for p in parts)))


def web_address(value: str | None) -> str | None:
    """``value`` as an absolute http(s) URI (international host names IDNA-encoded), or None."""
    if not value:
        return None
    text = value.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    if parts.scheme not in {"http", "https"} or not host or " " in text:
        return None
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def _email(value: str | None) -> str | None:
    """``value`` as an ASCII email address (the domain IDNA-encoded), or None if it is not one."""
    if not value or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value.strip()):
        return None
    local, domain = value.strip().rsplit("@", 1)
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return f"{local}@{domain}" if local.isascii() else None


def _timestamp(value: datetime) -> str:
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Page:
    """One page of a list, in the profile's paging fields."""

    contents: list[dict[str, Any]]
    total_items: int
    page_number: int
    per_page: int

    def as_document(self) -> dict[str, Any]:
        total_pages = max(1, -(-self.total_items // self.per_page))
        return {
            "total_items": self.total_items,
            "total_pages": total_pages,
            "page_number": self.page_number,
            "size": len(self.contents),
            "first_page": self.page_number == 1,
            "last_page": self.page_number >= total_pages,
            "empty": not self.contents,
            "contents": self.contents,
        }


@dataclass(frozen=True)
class ServiceFilter:
    """The profile's filters of ``/services`` and ``/service_at_locations``."""

    search: str | None = None
    taxonomy_term_id: str | None = None
    taxonomy_id: str | None = None
    minimum_age: int | None = None
    maximum_age: int | None = None
    modified_after: datetime | None = None  # aware, UTC
    day: str | None = None
    start_time: str | None = None  # HH:MM
    end_time: str | None = None
    located: bool = False
    # A UK postcode ("EX1 1AA") or its district alone ("EX1"), tidied; with ``near``, the
    # point the postcode stands for and the most metres from it.
    postcode: str | None = None
    near: tuple[float, float] | None = None
    proximity_m: int | None = None

    @property
    def by_schedule(self) -> bool:
        return self.day is not None or self.start_time is not None or self.end_time is not None

    @property
    def in_python(self) -> bool:
        """Whether some filter runs on the loaded offers (schedules are JSON; distances)."""
        return self.by_schedule or self.proximity_m is not None


def council_by_slug(session: Session, slug: str) -> Council:
    council = session.scalar(select(Council).where(Council.slug == slug))
    if council is None:
        raise NotFound("No council has this web address.")
    return council


def _published(council: Council) -> Select[tuple[Offer]]:
    return (
        select(Offer)
        .join(Provider, Provider.id == Offer.provider_id)
        .where(Provider.council_id == council.id, Offer.status == OfferStatus.published)
    )


def _filtered(query: Select[tuple[Offer]], where: ServiceFilter) -> Select[tuple[Offer]]:
    if where.search and where.search.strip():
        words = where.search.strip()
        query = query.where(
            or_(
                Offer.title.icontains(words, autoescape=True),
                Offer.description.icontains(words, autoescape=True),
                Provider.name.icontains(words, autoescape=True),
            )
        )
    if where.taxonomy_term_id is not None:
        category = parse_id(where.taxonomy_term_id, CATEGORY_TERM)
        tag = parse_id(where.taxonomy_term_id, TAG_TERM)
        need = parse_id(where.taxonomy_term_id, NEED_TERM)
        council_term = parse_id(where.taxonomy_term_id, COUNCIL_TERM)
        if council_term is not None:
            query = query.where(Offer.council_terms.any(CouncilTaxonomyTerm.id == council_term))
        elif category is not None and 1 <= category <= len(CATEGORIES):
            query = query.where(Offer.category == CATEGORIES[category - 1])
        elif need is not None and 1 <= need <= NEED_LEVEL_MAX + 1:
            # The services for people at this level: those whose range of need levels holds it.
            query = query.where(
                or_(Offer.min_need_level.is_not(None), Offer.max_need_level.is_not(None)),
                or_(Offer.min_need_level.is_(None), Offer.min_need_level <= need - 1),
                or_(Offer.max_need_level.is_(None), Offer.max_need_level >= need - 1),
            )
        elif tag is not None:
            query = query.where(Offer.outcome_tags.any(OutcomeTag.id == tag))
        else:
            query = query.where(false())
    if where.taxonomy_id is not None:
        taxonomy = parse_id(where.taxonomy_id, TAXONOMY)
        own = parse_id(where.taxonomy_id, COUNCIL_TAXONOMY)
        if own is not None:
            query = query.where(Offer.council_terms.any(CouncilTaxonomyTerm.taxonomy_id == own))
        elif taxonomy == OUTCOME_TAXONOMY:
            query = query.where(Offer.outcome_tags.any())
        elif taxonomy == NEED_TAXONOMY:
            query = query.where(
                or_(Offer.min_need_level.is_not(None), Offer.max_need_level.is_not(None))
            )
        elif taxonomy != CATEGORY_TAXONOMY:  # every offer has a category
            query = query.where(false())
    if where.minimum_age is not None:
        # Services open to people of this age or older: the offer's top band reaches it.
        query = query.where(
            or_(
                Offer.max_age_band.is_(None),
                Offer.max_age_band.in_([b for b in AGE_BANDS if _top(b) >= where.minimum_age]),
            )
        )
    if where.maximum_age is not None:
        query = query.where(
            or_(
                Offer.min_age_band.is_(None),
                Offer.min_age_band.in_([b for b in AGE_BANDS if AGES[b][0] <= where.maximum_age]),
            )
        )
    if where.modified_after is not None:
        # A service changes when its offer or its organisation does.
        query = query.where(
            or_(
                Offer.updated_at >= where.modified_after,
                Provider.updated_at >= where.modified_after,
            )
        )
    if where.postcode is not None and where.proximity_m is None:
        # The services at locations in the postcode's district (its outward code, "EX1").
        district = where.postcode.split()[0]
        query = query.where(Offer.postcode.like(f"{district} %"))  # letters and digits only
    if where.proximity_m is not None:
        query = query.where(Offer.latitude.is_not(None), Offer.longitude.is_not(None))
    if where.located:
        query = query.where(
            or_(
                Offer.location.is_not(None),
                Offer.latitude.is_not(None),
                Offer.area.is_not(None),
                Offer.postcode.is_not(None),
                Offer.address_line.is_not(None),
            )
        )
    return query


def _top(band: AgeBand) -> int:
    top = AGES[band][1]
    return 200 if top is None else top


def _page_of(
    session: Session, query: Select[tuple[Offer]], page: int, per_page: int
) -> tuple[list[Offer], int]:
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    offers = list(
        session.scalars(
            query.options(selectinload(Offer.outcome_tags), selectinload(Offer.provider))
            .order_by(Offer.title, Offer.id)
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    return offers, total


def _meets(offer: Offer, where: ServiceFilter) -> bool:
    if where.by_schedule and not _meets_schedule(offer, where):
        return False
    if where.proximity_m is not None:
        if where.near is None or offer.latitude is None or offer.longitude is None:
            return False
        km = haversine_km(where.near[0], where.near[1], offer.latitude, offer.longitude)
        return km * 1000 <= where.proximity_m
    return True


def postcode_point(session: Session, council: Council, postcode: str) -> tuple[float, float] | None:
    """Where ``postcode`` is: its point in the national postcode table (the ONS Postcode
    Directory, when it has been imported), else the mean of the coordinates of the council's
    published offers at that postcode, else in its district; None when none of these knows it.
    """
    if " " in postcode and (point := national_point(session, postcode)) is not None:
        return point
    district = postcode.split()[0]
    located = _published(council).where(Offer.latitude.is_not(None), Offer.longitude.is_not(None))
    matches = [Offer.postcode.like(f"{district} %")]  # a district is letters and digits
    if " " in postcode:
        matches.insert(0, Offer.postcode == postcode)
    for match in matches:
        found = located.where(match).subquery()
        row = session.execute(
            select(func.avg(found.c.latitude), func.avg(found.c.longitude), func.count())
        ).one()
        if row[2]:
            return float(row[0]), float(row[1])
    return None


def _meets_schedule(offer: Offer, where: ServiceFilter) -> bool:
    """Whether the offer runs at some time on ``where.day`` within its start and end times."""
    for day, parts in (offer.schedule or {}).items():
        if where.day is not None and day != where.day:
            continue
        for part in parts:
            opens, closes = HOURS.get(part, ("", ""))
            if not opens:
                continue
            if where.start_time is not None and opens < where.start_time:
                continue
            if where.end_time is not None and closes > where.end_time:
                continue
            return True
    return False


def list_services(
    session: Session, council: Council, where: ServiceFilter, page: int, per_page: int
) -> Page:
    """A page of ``/services``: each service with its organisation, no other nested lists."""
    offers, total = _day_page(session, _filtered(_published(council), where), where, page, per_page)
    return Page([_service_summary(o) for o in offers], total, page, per_page)


def list_services_at_locations(
    session: Session, council: Council, where: ServiceFilter, page: int, per_page: int
) -> Page:
    """A page of ``/service_at_locations``: one per published offer with a place."""
    located = ServiceFilter(**{**where.__dict__, "located": True})
    offers, total = _day_page(
        session, _filtered(_published(council), located), where, page, per_page
    )
    return Page([_service_at_location(o, nested=False) for o in offers], total, page, per_page)


def _day_page(
    session: Session,
    query: Select[tuple[Offer]],
    where: ServiceFilter,
    page: int,
    per_page: int,
) -> tuple[list[Offer], int]:
    if not where.in_python:
        return _page_of(session, query, page, per_page)
    # Schedules are JSON, so the day and time filters run here; a council has hundreds of
    # offers, not millions.
    everyone = [
        o
        for o in session.scalars(
            query.options(selectinload(Offer.outcome_tags), selectinload(Offer.provider)).order_by(
                Offer.title, Offer.id
            )
        )
        if _meets(o, where)
    ]
    start = (page - 1) * per_page
    return everyone[start : start + per_page], len(everyone)


def get_service(session: Session, council: Council, public_id: str, base: str) -> dict[str, Any]:
    """The full service ``public_id`` of ``/services/{id}``; NotFound if not published here.

    ``base`` is the council's feed address (``https://.../openreferral/westmere``), for the
    ``term_uri`` of each term."""
    return _service_full(_offer(session, council, parse_id(public_id, SERVICE)), base)


def get_service_at_location(session: Session, council: Council, public_id: str) -> dict[str, Any]:
    offer = _offer(session, council, parse_id(public_id, SERVICE_AT_LOCATION))
    if not _has_location(offer):
        raise NotFound("No service at a location has this id.")
    return _service_at_location(offer, nested=True)


def _offer(session: Session, council: Council, pk: int | None) -> Offer:
    offer = None
    if pk is not None:
        offer = session.scalar(
            _published(council)
            .where(Offer.id == pk)
            .options(
                selectinload(Offer.outcome_tags),
                selectinload(Offer.provider),
                selectinload(Offer.council_terms).selectinload(CouncilTaxonomyTerm.taxonomy),
            )
        )
    if offer is None:
        raise NotFound("No published service has this id.")
    return offer


def _own_taxonomies(session: Session, council: Council) -> list[CouncilTaxonomy]:
    return list(
        session.scalars(
            select(CouncilTaxonomy)
            .where(CouncilTaxonomy.council_id == council.id)
            .options(selectinload(CouncilTaxonomy.terms))
            .order_by(CouncilTaxonomy.name, CouncilTaxonomy.id)
        )
    )


def _slice(items: list[dict[str, Any]], page: int, per_page: int) -> Page:
    start = (page - 1) * per_page
    return Page(items[start : start + per_page], len(items), page, per_page)


def list_taxonomies(
    session: Session, council: Council, base: str, page: int, per_page: int
) -> Page:
    """A page of ``/taxonomies``: the national ones, then the council's own by name."""
    items = [_taxonomy(pk, base) for pk in sorted(TAXONOMIES)]
    items += [_own_taxonomy(t, base) for t in _own_taxonomies(session, council)]
    return _slice(items, page, per_page)


def get_taxonomy(session: Session, council: Council, public_id: str, base: str) -> dict[str, Any]:
    """``/taxonomies/{id}``: the taxonomy with every one of its terms."""
    pk = parse_id(public_id, TAXONOMY)
    if pk in TAXONOMIES:
        document = _taxonomy(pk, base)
        document["taxonomy_terms"] = [
            t for t in _national_terms(session, base) if t["taxonomy_id"] == document["id"]
        ]
        return document
    own_pk = parse_id(public_id, COUNCIL_TAXONOMY)
    own = session.get(CouncilTaxonomy, own_pk) if own_pk is not None else None
    if own is None or own.council_id != council.id:
        raise NotFound("No taxonomy has this id.")
    document = _own_taxonomy(own, base)
    document["taxonomy_terms"] = [_own_term(t, own, base) for t in own.terms]
    return document


def list_taxonomy_terms(
    session: Session, council: Council, base: str, page: int, per_page: int
) -> Page:
    """A page of ``/taxonomy_terms``: the national terms, then the council's own."""
    terms = _national_terms(session, base) + [
        _own_term(term, taxonomy, base)
        for taxonomy in _own_taxonomies(session, council)
        for term in taxonomy.terms
    ]
    return _slice(terms, page, per_page)


def get_taxonomy_term(
    session: Session, council: Council, public_id: str, base: str
) -> dict[str, Any]:
    category = parse_id(public_id, CATEGORY_TERM)
    if category is not None and 1 <= category <= len(CATEGORIES):
        return _category_term(CATEGORIES[category - 1], base)
    need = parse_id(public_id, NEED_TERM)
    if need is not None and 1 <= need <= NEED_LEVEL_MAX + 1:
        return _need_term(need - 1, base)
    own_pk = parse_id(public_id, COUNCIL_TERM)
    own = session.get(CouncilTaxonomyTerm, own_pk) if own_pk is not None else None
    if own is not None and own.taxonomy.council_id == council.id:
        return _own_term(own, own.taxonomy, base)
    tag_pk = parse_id(public_id, TAG_TERM)
    tag = session.get(OutcomeTag, tag_pk) if tag_pk is not None else None
    if tag is None:
        raise NotFound("No taxonomy term has this id.")
    return _tag_term(tag, base)


def _national_terms(session: Session, base: str) -> list[dict[str, Any]]:
    tags = session.scalars(select(OutcomeTag).order_by(OutcomeTag.slug))
    return (
        [_category_term(c, base) for c in CATEGORIES]
        + [_tag_term(t, base) for t in tags]
        + [_need_term(level, base) for level in range(NEED_LEVEL_MAX + 1)]
    )


def _taxonomy_uri(base: str, public_id: str) -> str:
    return f"{base}/taxonomies/{public_id}"


def _term_uri(base: str, public_id: str) -> str:
    return f"{base}/taxonomy_terms/{public_id}"


def _own_taxonomy(taxonomy: CouncilTaxonomy, base: str) -> dict[str, Any]:
    public_id = record_id(COUNCIL_TAXONOMY, taxonomy.id)
    document: dict[str, Any] = {
        "id": public_id,
        "name": taxonomy.name,
        "description": taxonomy.description or taxonomy.name,
        "uri": taxonomy.uri or _taxonomy_uri(base, public_id),
    }
    if taxonomy.version:
        document["version"] = taxonomy.version
    return document


def _own_term(term: CouncilTaxonomyTerm, taxonomy: CouncilTaxonomy, base: str) -> dict[str, Any]:
    public_id = record_id(COUNCIL_TERM, term.id)
    document: dict[str, Any] = {
        "id": public_id,
        "name": term.name,
        "description": term.description or term.name,
        "code": term.code,
        "taxonomy": taxonomy.uri or taxonomy.name,
        "taxonomy_id": record_id(COUNCIL_TAXONOMY, taxonomy.id),
        "term": term.code,
        "term_uri": term.term_uri or _term_uri(base, public_id),
    }
    if term.parent_id is not None:
        document["parent_id"] = record_id(COUNCIL_TERM, term.parent_id)
    return document


def _need_term(level: int, base: str) -> dict[str, Any]:
    code = f"need-level-{level}"
    public_id = record_id(NEED_TERM, level + 1)
    return {
        "id": public_id,
        "name": f"Need level {level}",
        "description": f"For people whose assessed need is at level {level} of {NEED_LEVEL_MAX}.",
        "code": code,
        "taxonomy": TAXONOMIES[NEED_TAXONOMY][0],
        "taxonomy_id": record_id(TAXONOMY, NEED_TAXONOMY),
        "term": code,
        "term_uri": _term_uri(base, public_id),
    }


def need_levels(offer: Offer) -> list[int]:
    """The need levels an offer is for, when it says (an open end runs to 0 or the top)."""
    if offer.min_need_level is None and offer.max_need_level is None:
        return []
    low = 0 if offer.min_need_level is None else offer.min_need_level
    top = NEED_LEVEL_MAX if offer.max_need_level is None else offer.max_need_level
    return list(range(low, top + 1))


def _taxonomy(pk: int, base: str) -> dict[str, Any]:
    name, description = TAXONOMIES[pk]
    public_id = record_id(TAXONOMY, pk)
    return {
        "id": public_id,
        "name": name,
        "description": description,
        "uri": _taxonomy_uri(base, public_id),
    }


def _category_term(category: OfferCategory, base: str) -> dict[str, Any]:
    name = CATEGORY_NAMES[category]
    public_id = record_id(CATEGORY_TERM, CATEGORIES.index(category) + 1)
    return {
        "id": public_id,
        "name": name,
        "description": f"Services of the type: {name}.",
        "code": category.value,
        "taxonomy": TAXONOMIES[CATEGORY_TAXONOMY][0],
        "taxonomy_id": record_id(TAXONOMY, CATEGORY_TAXONOMY),
        "term": category.value,
        "term_uri": _term_uri(base, public_id),
    }


def _tag_term(tag: OutcomeTag, base: str) -> dict[str, Any]:
    public_id = record_id(TAG_TERM, tag.id)
    return {
        "id": public_id,
        "name": tag.label,
        "description": tag.description or tag.label,
        "code": tag.slug,
        "taxonomy": TAXONOMIES[OUTCOME_TAXONOMY][0],
        "taxonomy_id": record_id(TAXONOMY, OUTCOME_TAXONOMY),
        "term": tag.slug,
        "term_uri": _term_uri(base, public_id),
    }


def _organization(provider: Provider) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": record_id(ORGANIZATION, provider.id),
        "name": provider.name,
        "description": provider.description or provider.name,
    }
    if email := _email(provider.email):
        document["email"] = email
    if website := web_address(provider.website):
        document["website"] = website
    return document


def _ages(offer: Offer) -> dict[str, int]:
    ages: dict[str, int] = {}
    if offer.min_age_band is not None:
        ages["minimum_age"] = AGES[AgeBand(offer.min_age_band)][0]
    if offer.max_age_band is not None and (top := AGES[AgeBand(offer.max_age_band)][1]):
        ages["maximum_age"] = top
    return ages


def _service_summary(offer: Offer) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": record_id(SERVICE, offer.id),
        "organization_id": record_id(ORGANIZATION, offer.provider_id),
        "name": offer.title,
        "description": offer.description or offer.title,
        "status": "active",
        "fees": _fees(offer),
        **_ages(offer),
        "last_modified": _timestamp(max(offer.updated_at, offer.provider.updated_at)),
        "organization": _organization(offer.provider),
    }
    if email := _email(offer.provider.email):
        document["email"] = email
    if url := web_address(offer.provider.website):
        document["url"] = url
    return document


def _fees(offer: Offer) -> str:
    if offer.price_pence == 0:
        return "Free"
    pounds, pence = divmod(offer.price_pence, 100)
    return f"£{pounds:,}.{pence:02d} a place"


def _service_full(offer: Offer, base: str) -> dict[str, Any]:
    service_id = record_id(SERVICE, offer.id)
    document = _service_summary(offer)
    document["cost_options"] = [
        {
            "id": _name_id("cost", offer.id),
            "service_id": service_id,
            "option": "Price per place",
            # Pounds: pence / 100 is the nearest double, and reading repr() of it back gives
            # the pence exactly (the import does so).
            "amount": offer.price_pence / 100,
            "amount_description": _fees(offer),
            # Not in the UK profile's cost_option (its schemas allow more fields), but in
            # HSDS 3.0's: an importer need not assume pounds.
            "currency": "GBP",
        }
    ]
    # Every area it serves, the main one first (the one an import takes as the main area).
    document["service_areas"] = [
        {"id": _name_id("area", offer.id, area), "service_id": service_id, "name": area}
        for area in offer.service_areas
    ]
    document["schedules"] = _schedules(offer, service_id=service_id)
    document["service_at_locations"] = (
        [_service_at_location(offer, nested=False, with_service=False)]
        if _has_location(offer)
        else []
    )
    document["attributes"] = _attributes(offer, base)
    document["languages"] = [
        {"id": _name_id("language", offer.id, name), "service_id": service_id, "name": name}
        for name in offer.languages or []
    ]
    document["contacts"] = (
        [
            {
                "id": _name_id("contact", offer.id),
                "service_id": service_id,
                "name": offer.contact_name,
            }
        ]
        if offer.contact_name
        else []
    )
    document["funding"] = []
    return document


def _schedules(offer: Offer, **link: str) -> list[dict[str, Any]]:
    # An offer saved with days and parts alone (before it had rules) has weekly ones.
    rules = offer.schedule_rules or weekly_rules(offer.schedule or {}, None)
    return [_rule_schedule(offer, rule, link) for rule in rules]


def _rule_schedule(
    offer: Offer, rule: Mapping[str, Any], link: Mapping[str, str]
) -> dict[str, Any]:
    """One RFC 5545 rule as the profile's schedule: its RRULE parts as fields, DTSTART as
    ``dtstart`` and ``valid_from``, UNTIL as ``valid_to`` (the profile has no ``until``), and
    its EXDATEs, which the profile has no field for, as an RFC 5545 line in ``notes``."""
    parts = rule_parts(rule)
    document: dict[str, Any] = {
        "id": _name_id("schedule", offer.id, rule_key(rule)),
        **link,
        "freq": parts["FREQ"],
        "interval": int(parts.get("INTERVAL") or 1),
        "opens_at": rule["opens_at"],
        "closes_at": rule["closes_at"],
        "description": describe_rule(rule) + ".",
        "attending_type": "in person",
    }
    if rule.get("dtstart"):
        document["dtstart"] = document["valid_from"] = rule["dtstart"]
    if parts.get("BYDAY"):
        document["byday"] = parts["BYDAY"]
    if parts.get("BYMONTHDAY"):
        document["bymonthday"] = parts["BYMONTHDAY"]
    until = until_date(rule)
    if until is not None:
        document["valid_to"] = until.isoformat()
    if rule.get("exdates"):
        dates = ",".join(d.replace("-", "") for d in rule["exdates"])
        document["notes"] = f"EXDATE;VALUE=DATE:{dates}"
    return document


def _attributes(offer: Offer, base: str) -> list[dict[str, Any]]:
    terms = (
        [_category_term(OfferCategory(offer.category), base)]
        + [_tag_term(t, base) for t in offer.outcome_tags]
        + [_need_term(level, base) for level in need_levels(offer)]
        + [_own_term(t, t.taxonomy, base) for t in offer.council_terms]
    )
    return [
        {
            "id": _name_id("attribute", offer.id, term["id"]),
            "link_id": record_id(SERVICE, offer.id),
            "link_type": "service",
            "link_entity": "service",
            "taxonomy_term_id": term["id"],
            "taxonomy_term": term,
        }
        for term in terms
    ]


def _has_location(offer: Offer) -> bool:
    return bool(
        offer.location
        or offer.latitude is not None
        or offer.area
        or offer.postcode
        or offer.address_line
    )


def _location(offer: Offer) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": record_id(LOCATION, offer.id),
        "location_type": "physical",
        "name": offer.location or offer.area or offer.title,
    }
    if offer.area:
        document["description"] = f"In {offer.area}"
    if offer.latitude is not None and offer.longitude is not None:
        document["latitude"] = offer.latitude
        document["longitude"] = offer.longitude
    if offer.postcode or offer.address_line:
        document["addresses"] = [
            {
                "id": _name_id("address", offer.id),
                "location_id": record_id(LOCATION, offer.id),
                "address_1": offer.address_line or "",
                "city": offer.town or "",
                "state_province": "",  # the county: Tapestry does not ask for it
                "postal_code": offer.postcode or "",
                "country": "GB",
                "address_type": "physical",
            }
        ]
    if offer.accessibility:
        document["accessibility"] = [
            {
                "id": _name_id("accessibility", offer.id),
                "location_id": record_id(LOCATION, offer.id),
                "description": offer.accessibility,
            }
        ]
    return document


def _service_at_location(
    offer: Offer, *, nested: bool, with_service: bool = True
) -> dict[str, Any]:
    sal_id = record_id(SERVICE_AT_LOCATION, offer.id)
    document: dict[str, Any] = {
        "id": sal_id,
        "service_id": record_id(SERVICE, offer.id),
        "location_id": record_id(LOCATION, offer.id),
        "location": _location(offer),
    }
    if nested:
        document["schedules"] = _schedules(offer, service_at_location_id=sal_id)
    if with_service:
        document["service"] = _service_summary(offer)
    return document


def api_root(openapi_url: str) -> dict[str, Any]:
    """The document of ``/``: the HSDS version, the profile and where the OpenAPI file is."""
    return {"version": HSDS_VERSION, "profile": PROFILE_URL, "openapi_url": openapi_url}
