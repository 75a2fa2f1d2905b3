"""Import an Open Referral UK (HSDS-UK 3.0) feed or file into a council as draft offers.

Steps: :func:`read_source` reads a file or fetches a feed (following its pages, then each
service's full record); :func:`import_services` maps every organisation to a provider and every
service to an offer of the council, keyed on the feed's ids in ``openreferral_sources``, so a
second import of the same feed updates the records the first one made (or leaves them
unchanged) instead of copying them.

Mapping, the inverse of :mod:`web.services.openreferral`'s: the first cost option is the price
per place (pounds to pence); the service areas that name the council's areas are the offer's
areas, the first its main one; the first location gives the place, coordinates and access;
WEEKLY and MONTHLY schedules give its RFC 5545 rules (and so its days and parts of the day);
minimum and maximum ages give the age bands that hold them; taxonomy terms whose
code is a service type or an outcome tag give the category and tags, and those that name a
term of the council's own taxonomies (by the term's id or address, or its taxonomy and code)
tag it with that term. New offers are drafts
with no places (the provider says how many before publishing); an update never touches places
or status.

All or nothing per organisation: one refused service refuses its whole organisation, and
nothing of that organisation changes.
"""

from __future__ import annotations

import json
import logging
import math
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models.accounts import Council
from models.audit import append_event
from models.base import utcnow
from models.jobs import Job, JobStatus
from models.openreferral import CouncilTaxonomy, CouncilTaxonomyTerm, SourceKind, SourceRecord
from models.people import AGE_BANDS, NEED_LEVEL_MAX, AgeBand, OutcomeTag
from models.providers import Offer, OfferCategory, OfferStatus, Provider
from web.services.errors import InvalidInput, NotFound
from web.services.offers import MAX_TAGS, clean_offer_fields, normal_postcode
from web.services.openreferral import (
    AGES,
    CATEGORY_NAMES,
    COUNCIL_TAXONOMY,
    HOURS,
    NEED_CODE,
    record_id,
)
from web.services.providers import NAME_MAX
from web.services.providers import TEXT_MAX as PROVIDER_TEXT_MAX
from web.services.recurrence import check_rule, pattern_from_rules
from web.services.words import count

log = logging.getLogger(__name__)

# Limits of reading a feed over the network.
FETCH_TIMEOUT_S = 20.0
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
MAX_PAGES = 10_000
MAX_SERVICES = 100_000
SOURCE_ID_MAX = 200
DEFAULT_CATEGORY = OfferCategory.social

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])(:[0-5][0-9](\.[0-9]+)?)?(Z|[+-][0-9:]+)?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_SLUG_CHARS = re.compile(r"[^a-z0-9]+")


class SourceProblem(Exception):
    """The file or feed cannot be read at all; ``problems`` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class UnstorableText(SourceProblem):
    """The JSON is well formed, but some text in it cannot be stored: NUL, or half of a
    surrogate pair (``"\\ud800"``), which no database keeps as text."""


# What JSON text may hold that a database cannot store as text.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class RecordResult:
    """What the import did with one organisation or service of the feed."""

    kind: SourceKind
    source_id: str
    name: str
    result: str  # created, updated, unchanged or refused
    reason: str | None = None
    notes: tuple[str, ...] = ()


@dataclass
class ImportReport:
    """Every record's result, in the feed's order of organisations."""

    records: list[RecordResult] = field(default_factory=list)

    def count(self, result: str, kind: SourceKind | None = None) -> int:
        return sum(
            1 for r in self.records if r.result == result and (kind is None or r.kind == kind)
        )

    @property
    def refused(self) -> list[RecordResult]:
        return [r for r in self.records if r.result == "refused"]

    def summary(self) -> str:
        parts = []
        for kind, word in (
            (SourceKind.organization, "organisations"),
            (SourceKind.service, "services"),
        ):
            counts = ", ".join(
                f"{self.count(result, kind)} {result}"
                for result in ("created", "updated", "unchanged", "refused")
            )
            parts.append(f"{word}: {counts}")
        return "; ".join(parts)


# Reading ------------------------------------------------------------------------------------


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to another http(s) address (never file:, ftp: or data:)."""

    max_redirections = 5

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if urlsplit(newurl).scheme not in {"http", "https"}:
            raise urllib.error.HTTPError(newurl, code, "redirected away from http(s)", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    # Built by hand, not with build_opener: only http and https handlers, no file: or ftp:.
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        _SafeRedirects(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.HTTPDefaultErrorHandler(),
    ):
        opener.add_handler(handler)
    return opener


def is_web_address(source: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", source))


def fetch_json(url: str, *, timeout_s: float = FETCH_TIMEOUT_S) -> Any:
    """The JSON document at ``url`` (http or https only, at most MAX_DOCUMENT_BYTES)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SourceProblem([f"{url}: only http:// and https:// web addresses can be read"])
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": "Tapestry-import/1"}
    )
    try:
        with _opener().open(request, timeout=timeout_s) as response:
            body = response.read(MAX_DOCUMENT_BYTES + 1)
    except urllib.error.HTTPError as error:
        error.close()  # it holds the answer's socket
        if 300 <= error.code < 400:
            # The standard library, or _SafeRedirects, refused to follow it.
            raise SourceProblem([f"{url}: it redirects away from http(s) or too often"]) from None
        raise SourceProblem([f"{url}: the feed answered {error.code} {error.reason}"]) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise SourceProblem([f"{url}: cannot be read ({reason})"]) from None
    if len(body) > MAX_DOCUMENT_BYTES:
        raise SourceProblem([f"{url}: larger than {MAX_DOCUMENT_BYTES // 2**20} MB"])
    return parse_json(body, url)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(body: bytes, where: str) -> Any:
    """The JSON document in ``body``; :class:`SourceProblem` for anything else, including the
    NaN and Infinity that Python would accept and a nesting too deep to read, and
    :class:`UnstorableText` naming the first text that cannot be stored."""
    try:
        document = json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        raise SourceProblem([f"{where}: not JSON Tapestry can read (nested too deeply)"]) from None
    except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError is a ValueError
        raise SourceProblem([f"{where}: not JSON ({error})"]) from None
    if (place := unstorable_text(document)) is not None:
        raise UnstorableText(
            [f"{where}: {place} has a character that cannot be kept (NUL, or half of a pair)"]
        )
    return document


def unstorable_text(document: Any) -> str | None:
    """Where in ``document`` the first key or text that cannot be stored is (``services[2].
    name``), or None. Walked without recursion, so any depth json could read is fine."""
    stack: list[tuple[str, Any]] = [("the document", document)]
    while stack:
        place, value = stack.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                return place
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                if _UNSTORABLE.search(key):
                    return place
                stack.append((key if place == "the document" else f"{place}.{key}", item))
        elif isinstance(value, list):
            for n in range(len(value) - 1, -1, -1):
                stack.append((f"{place}[{n}]", value[n]))
    return None


def read_file(path: Path) -> list[dict[str, Any]]:
    """The services in a JSON file: one service, a page of services, an organisation with its
    services, or a list of services."""
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES * 10:
            raise SourceProblem([f"{path}: larger than {MAX_DOCUMENT_BYTES * 10 // 2**20} MB"])
        body = path.read_bytes()
    except OSError as error:
        raise SourceProblem([f"{path}: cannot be read ({error.strerror})"]) from None
    return services_in(parse_json(body, str(path)), str(path))


def services_in(document: Any, where: str) -> list[dict[str, Any]]:
    """The service documents held in ``document`` (see :func:`read_file` for the shapes)."""
    if isinstance(document, list):
        items = document
    elif isinstance(document, dict) and isinstance(document.get("contents"), list):
        items = document["contents"]
    elif isinstance(document, dict) and isinstance(document.get("services"), list):
        organization = {k: v for k, v in document.items() if k != "services"}
        items = [
            {**s, "organization": s.get("organization") or organization}
            if isinstance(s, dict)
            else s
            for s in document["services"]
        ]
    elif isinstance(document, dict) and "name" in document:
        items = [document]
    else:
        raise SourceProblem(
            [f"{where}: holds no Open Referral services (a service, a page or an organisation)"]
        )
    return [item if isinstance(item, dict) else {"_not_an_object": item} for item in items]


def _with_query(url: str, **params: str | int) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update({k: str(v) for k, v in params.items()})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def read_feed(url: str, fetch: Callable[[str], Any] = fetch_json) -> list[dict[str, Any]]:
    """Every service of the feed at ``url``, full records, following ``/services``' pages.

    ``url`` may be the feed's base (its ``/`` answers the HSDS version), its ``/services``
    list, or one service.
    """
    document = fetch(url)
    services_url = url
    if isinstance(document, dict) and "version" in document and "contents" not in document:
        parts = urlsplit(url)
        path = parts.path.rstrip("/") + "/services"
        services_url = urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
        document = fetch(services_url)
    if not (isinstance(document, dict) and isinstance(document.get("contents"), list)):
        return services_in(document, url)
    base = urlsplit(services_url)
    listing = urlunsplit((base.scheme, base.netloc, base.path.rstrip("/"), "", ""))
    summaries: list[dict[str, Any]] = []
    page = int(document.get("page_number") or 1) if _is_int(document.get("page_number")) else 1
    pages = 0
    while True:
        summaries.extend(services_in(document, services_url))
        pages += 1
        total_pages = document.get("total_pages")
        last = document.get("last_page") is True or not document["contents"]
        if _is_int(total_pages) and page >= total_pages:
            last = True
        if last:
            break
        if pages >= MAX_PAGES or len(summaries) > MAX_SERVICES:
            raise SourceProblem([f"{url}: more than {MAX_PAGES} pages or {MAX_SERVICES} services"])
        page += 1
        document = fetch(_with_query(services_url, page=page))
        if not (isinstance(document, dict) and isinstance(document.get("contents"), list)):
            raise SourceProblem([f"{url}: page {page} is not a page of services"])
    full = []
    for summary in summaries:
        source_id = summary.get("id")
        if not isinstance(source_id, str) or not source_id or len(source_id) > SOURCE_ID_MAX:
            full.append(summary)  # refused later, with the reason
            continue
        record = fetch(f"{listing}/{quote(source_id, safe='')}")
        full.append(record if isinstance(record, dict) else summary)
    return full


def read_source(source: str, fetch: Callable[[str], Any] = fetch_json) -> list[dict[str, Any]]:
    """The services of ``source``: an http(s) address of a feed, or a file's path."""
    if is_web_address(source):
        return read_feed(source, fetch)
    return read_file(Path(source))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Mapping ------------------------------------------------------------------------------------


class Refused(Exception):
    """One record cannot be imported; the message is the reason, for a reader."""


def _text(document: Mapping[str, Any], name: str) -> str:
    value = document.get(name)
    return value.strip() if isinstance(value, str) else ""


def _source_id(document: Mapping[str, Any], what: str) -> str:
    value = document.get("id")
    if not isinstance(value, str) or not value.strip():
        raise Refused(f"the {what} has no id")
    if len(value) > SOURCE_ID_MAX:
        raise Refused(f"the {what}'s id is longer than {SOURCE_ID_MAX} characters")
    return value.strip()


def _objects(document: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    value = document.get(name)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _minutes(value: Any) -> int | None:
    match = _CLOCK.match(value.strip()) if isinstance(value, str) else None
    return int(match.group(1)) * 60 + int(match.group(2)) if match else None


def _part_minutes(part: str) -> tuple[int, int]:
    opens, closes = HOURS[part]
    return _minutes(opens) or 0, _minutes(closes) or 0


def _schedule_rules(service: Mapping[str, Any], notes: list[str]) -> list[dict[str, Any]]:
    """RFC 5545 rules from the service's schedules (else its locations'): ``freq``,
    ``interval``, ``byday``, ``bymonthday`` and ``valid_to`` (as UNTIL) make the RRULE,
    ``dtstart`` (else ``valid_from``) the DTSTART, and an ``EXDATE`` line in ``notes`` the dates
    it does not run. Missing times are taken as 09:00 to 21:00. A schedule that is not weekly
    or monthly, or cannot be read, is left out with a note."""
    schedules = _objects(service, "schedules")
    if not schedules:
        for at_location in _objects(service, "service_at_locations"):
            schedules.extend(_objects(at_location, "schedules"))
    rules: list[dict[str, Any]] = []
    skipped = 0
    for schedule in schedules:
        try:
            rule = check_rule(_rule_of(schedule))
        except ValueError:
            skipped += 1
            continue
        if rule not in rules:
            rules.append(rule)
    if skipped:
        notes.append(f"{skipped} schedule entries that are not weekly or monthly were left out")
    return rules


def _rule_of(schedule: Mapping[str, Any]) -> dict[str, Any]:
    freq = _text(schedule, "freq").upper()
    interval = schedule.get("interval", 1)
    if not _is_int(interval) or not 1 <= int(interval) <= 52:
        raise ValueError("its interval is not a whole number of weeks or months")
    pieces = [f"FREQ={freq}", f"INTERVAL={int(interval)}"]
    byday = _text(schedule, "byday").upper().replace(" ", "")
    bymonthday = _text(schedule, "bymonthday").replace(" ", "")
    if byday:
        pieces.append(f"BYDAY={byday}")
    if bymonthday:
        pieces.append(f"BYMONTHDAY={bymonthday}")
    if not byday and not bymonthday:
        raise ValueError("it names no day")
    valid_to = _text(schedule, "valid_to")[:10]
    if valid_to:
        pieces.append(f"UNTIL={valid_to.replace('-', '')}")
    opens = _minutes(schedule.get("opens_at"))
    closes = _minutes(schedule.get("closes_at"))
    opens = _part_minutes("morning")[0] if opens is None else opens
    closes = _part_minutes("evening")[1] if closes is None or closes <= opens else closes
    exdates = []
    for line in _text(schedule, "notes").splitlines():
        name, _, value = line.partition(":")
        if name.strip().upper().startswith("EXDATE"):
            for item in value.split(","):
                item = item.strip()[:8]
                exdates.append(f"{item[:4]}-{item[4:6]}-{item[6:8]}")
    return {
        "rrule": ";".join(pieces),
        "dtstart": (_text(schedule, "dtstart") or _text(schedule, "valid_from"))[:10] or None,
        "opens_at": f"{opens // 60:02d}:{opens % 60:02d}",
        "closes_at": f"{closes // 60:02d}:{closes % 60:02d}",
        "exdates": exdates,
    }


def _band_holding(age: int) -> AgeBand | None:
    for band in AGE_BANDS:
        low, top = AGES[band]
        if low <= age and (top is None or age <= top):
            return band
    return None


def _ages(service: Mapping[str, Any]) -> dict[str, AgeBand | None]:
    low, top = service.get("minimum_age"), service.get("maximum_age")
    bands: dict[str, AgeBand | None] = {"min_age_band": None, "max_age_band": None}
    for name, age in (("minimum_age", low), ("maximum_age", top)):
        if isinstance(age, float) and not math.isfinite(age):
            raise Refused(f"its {name} is not a number")
    if _is_int(low) or isinstance(low, float):
        # Younger than our youngest band: the service takes every band we have.
        bands["min_age_band"] = _band_holding(int(low)) if low >= AGES[AGE_BANDS[0]][0] else None
    if _is_int(top) or isinstance(top, float):
        oldest = AGES[AGE_BANDS[-1]][0]
        bands["max_age_band"] = _band_holding(int(top)) if top < oldest else None
        if top < AGES[AGE_BANDS[0]][0]:
            raise Refused(f"it is for people up to {int(top)}, younger than anyone Tapestry serves")
    return bands


def _terms(service: Mapping[str, Any]) -> list[dict[str, Any]]:
    terms = []
    for attribute in _objects(service, "attributes"):
        term = attribute.get("taxonomy_term")
        if isinstance(term, dict):
            terms.append(term)
    return terms


def _council_term_index(session: Session, council: Council) -> dict[str, CouncilTaxonomyTerm]:
    """The council's own terms, by every name a feed may give one: the id the council gave
    it, its address, or its taxonomy (id, name or address) with its code."""
    index: dict[str, CouncilTaxonomyTerm] = {}
    for taxonomy in session.scalars(
        select(CouncilTaxonomy)
        .where(CouncilTaxonomy.council_id == council.id)
        .options(selectinload(CouncilTaxonomy.terms))
    ):
        names = {
            taxonomy.source_id,
            record_id(COUNCIL_TAXONOMY, taxonomy.id),
            taxonomy.name.casefold(),
            taxonomy.uri or "",
        } - {""}
        for term in taxonomy.terms:
            # The id the council gave it (not ours: another Tapestry's ids can be the same).
            index[f"id:{term.source_id}"] = term
            if term.term_uri:
                index[f"uri:{term.term_uri}"] = term
            for name in names:
                index[f"code:{name}|{term.code}"] = term
    return index


def _council_terms(
    service: Mapping[str, Any], index: Mapping[str, CouncilTaxonomyTerm]
) -> list[CouncilTaxonomyTerm]:
    """The council's own terms that the service's attributes name, in the council's order."""
    found: dict[int, CouncilTaxonomyTerm] = {}
    for term in _terms(service):
        code = _text(term, "term") or _text(term, "code")
        keys = [f"id:{_text(term, 'id')}", f"uri:{_text(term, 'term_uri')}"]
        for taxonomy in (_text(term, "taxonomy_id"), _text(term, "taxonomy")):
            keys += [f"code:{taxonomy}|{code}", f"code:{taxonomy.casefold()}|{code}"]
        for key in keys:
            if key in index:
                found[index[key].id] = index[key]
                break
    return sorted(found.values(), key=lambda t: (t.taxonomy_id, t.position, t.id))


def _category_and_tags(
    service: Mapping[str, Any],
    tags: Mapping[str, OutcomeTag],
    notes: list[str],
    known: int = 0,
) -> tuple[OfferCategory, list[str]]:
    """The category and outcome tags the service's terms give; ``known`` of its terms are the
    council's own (not counted as left out)."""
    names = {name.lower(): category for category, name in CATEGORY_NAMES.items()}
    category = None
    slugs: list[str] = []
    unknown = 0
    for term in _terms(service):
        code = _text(term, "code") or _text(term, "term")
        if NEED_CODE.match(code):
            continue  # read by _need_levels
        if category is None and code in OfferCategory.__members__.values():
            category = OfferCategory(code)
        elif category is None and _text(term, "name").lower() in names:
            category = names[_text(term, "name").lower()]
        elif code in tags and code not in slugs:
            slugs.append(code)
        elif code not in {c.value for c in OfferCategory}:
            unknown += 1
    if category is None:
        category = DEFAULT_CATEGORY
        notes.append(f"no service type was given, so it is {CATEGORY_NAMES[category]}: check it")
    unknown = max(0, unknown - known)
    if unknown:
        notes.append(f"{unknown} taxonomy terms that Tapestry does not use were left out")
    if len(slugs) > MAX_TAGS:
        notes.append(f"only the first {MAX_TAGS} outcomes were kept")
        slugs = slugs[:MAX_TAGS]
    return category, slugs


def _need_levels(service: Mapping[str, Any], notes: list[str]) -> dict[str, int | None]:
    """The lowest and highest of the need levels the service's terms name (none: any level)."""
    levels = set()
    for term in _terms(service):
        match = NEED_CODE.match(_text(term, "code") or _text(term, "term"))
        if match and int(match.group(1)) <= NEED_LEVEL_MAX:
            levels.add(int(match.group(1)))
        elif match:
            notes.append(
                f"need level {match.group(1)} is above {NEED_LEVEL_MAX}, so it was left out"
            )
    if not levels:
        return {"min_need_level": None, "max_need_level": None}
    low, top = min(levels), max(levels)
    if len(levels) != top - low + 1:
        notes.append(f"its need levels have gaps, so it is for every level from {low} to {top}")
    return {
        "min_need_level": None if low == 0 else low,
        "max_need_level": None if top == NEED_LEVEL_MAX else top,
    }


def _price_pence(service: Mapping[str, Any], notes: list[str]) -> int:
    for option in _objects(service, "cost_options"):
        amount = option.get("amount")
        if amount is None:
            continue
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            # Money written as text, say "12.50", is refused, never read as no cost at all.
            raise Refused("its cost amount is not written as a number")
        if not math.isfinite(amount) or amount < 0:
            raise Refused("its cost is not a sum of money of 0 or more")
        currency = _text(option, "currency").upper()
        if currency and currency != "GBP":
            raise Refused(f"its cost is in {currency}, not pounds")
        # Exactly, from the number as written: a float times 100 can miss a penny.
        pence = Decimal(repr(amount)) * 100
        if pence != pence.to_integral_value():
            raise Refused(f"its cost £{amount} is not a whole number of pence")
        return int(pence)
    notes.append("no cost was given, so the price per place is £0: check it")
    return 0


def _areas(
    service: Mapping[str, Any], council_areas: Mapping[str, str], notes: list[str]
) -> list[str]:
    """The council's areas the service's areas name, in the feed's order (the first is the
    main one), each once; the others are left out, with a note."""
    given = _objects(service, "service_areas")
    found: list[str] = []
    left_out = 0
    for area in given:
        names = [_text(area, "name"), _text(area, "service_area")]
        known = [council_areas[n.lower()] for n in names if n.lower() in council_areas]
        if not known:
            left_out += 1
        elif known[0] not in found:
            found.append(known[0])
    if given and not found:
        notes.append("no service area is one of the council's areas, so it has no area")
    elif left_out:
        areas = count(left_out, "service area is", "service areas are")
        notes.append(f"{areas} not one of the council's areas, so left out")
    return found


def _area_values(areas: list[str]) -> dict[str, Any]:
    return {"area": areas[0] if areas else None, "other_areas": areas[1:]}


def _place(service: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    for at_location in _objects(service, "service_at_locations"):
        location = at_location.get("location")
        if not isinstance(location, dict):
            continue
        place: dict[str, Any] = {
            "location": _text(location, "name") or None,
            "latitude": None,
            "longitude": None,
        }
        latitude, longitude = location.get("latitude"), location.get("longitude")
        if isinstance(latitude, int | float) and isinstance(longitude, int | float):
            if -90 <= latitude <= 90 and -180 <= longitude <= 180:
                place["latitude"], place["longitude"] = float(latitude), float(longitude)
            else:
                notes.append("its coordinates are not on the Earth, so they were left out")
        access = [_text(a, "description") for a in _objects(location, "accessibility")]
        place["accessibility"] = "\n\n".join(a for a in access if a) or None
        addresses = _objects(location, "addresses")
        address = addresses[0] if addresses else {}
        place["address_line"] = _text(address, "address_1") or None
        place["town"] = _text(address, "city") or None
        postcode = _text(address, "postal_code")
        place["postcode"] = normal_postcode(postcode)
        if postcode and place["postcode"] is None:
            notes.append(f"its postcode {postcode[:20]!r} is not a UK one, so it was left out")
        return place
    return {
        "location": None,
        "latitude": None,
        "longitude": None,
        "accessibility": None,
        "address_line": None,
        "town": None,
        "postcode": None,
    }


def _languages(service: Mapping[str, Any]) -> list[str]:
    # The profile's language has only ids; HSDS 3.0's has a name (and a code) beside them.
    names = [
        _text(language, "name") or _text(language, "code")
        for language in _objects(service, "languages")
    ]
    return [name for name in names if name]


def _contact_name(service: Mapping[str, Any]) -> str | None:
    for contact in _objects(service, "contacts"):
        name = _text(contact, "name") or _text(contact, "title")
        if name:
            return name
    return None


def _offer_values(
    session: Session,
    provider: Provider,
    service: Mapping[str, Any],
    tags: Mapping[str, OutcomeTag],
    council_areas: Mapping[str, str],
    notes: list[str],
    council_terms: Mapping[str, CouncilTaxonomyTerm] | None = None,
) -> dict[str, Any]:
    name = _text(service, "name")
    if not name:
        raise Refused("the service has no name")
    own_terms = _council_terms(service, council_terms or {})
    category, slugs = _category_and_tags(service, tags, notes, len(own_terms))
    place = _place(service, notes)
    rules = _schedule_rules(service, notes)
    data: dict[str, Any] = {
        "title": name,
        "description": _text(service, "description") or name,
        "category": category.value,
        "price_pence": _price_pence(service, notes),
        **_area_values(_areas(service, council_areas, notes)),
        "location": place["location"],
        "accessibility": place["accessibility"],
        "address_line": place["address_line"],
        "town": place["town"],
        "postcode": place["postcode"],
        "languages": _languages(service),
        "contact_name": _contact_name(service),
        **_need_levels(service, notes),
        "schedule": pattern_from_rules(rules),
        **{k: (v.value if v else None) for k, v in _ages(service).items()},
    }
    try:
        values = clean_offer_fields(session, provider, data, partial=True)
    except InvalidInput as error:
        raise Refused("; ".join(f"{k}: {v}" for k, v in sorted(error.errors.items()))) from None
    # The slugs are known tags already: no query for them (one per service would be slow).
    values["tags"] = sorted((tags[slug] for slug in slugs), key=lambda t: t.slug)
    values["council_terms"] = own_terms
    values["latitude"] = place["latitude"]
    values["longitude"] = place["longitude"]
    values["schedule_rules"] = rules
    return values


def _provider_values(organization: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    name = _text(organization, "name")
    if not name:
        raise Refused("the organisation has no name")
    if len(name) > NAME_MAX:
        raise Refused(f"the organisation's name is longer than {NAME_MAX} characters")
    description = _text(organization, "description") or name
    if len(description) > PROVIDER_TEXT_MAX:
        raise Refused(
            f"the organisation's description is longer than {PROVIDER_TEXT_MAX} characters"
        )
    email = _text(organization, "email").lower() or None
    if email and (not _EMAIL.match(email) or len(email) > 320):
        notes.append("its email address is not one, so it was left out")
        email = None
    website = _text(organization, "website") or _text(organization, "url") or None
    if website and (not _URL.match(website) or len(website) > 500):
        notes.append("its website is not a web address, so it was left out")
        website = None
    identifier = None
    for item in _objects(organization, "organization_identifiers"):
        identifier = _text(item, "identifier")[:100] or None
        if identifier:
            break
    return {
        "name": name,
        "description": description,
        "email": email,
        "website": website,
        "registered_identifier": identifier,
    }


# Importing ----------------------------------------------------------------------------------


@dataclass
class _Organisation:
    source_id: str
    document: dict[str, Any]
    services: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # id, name, reason


def _group(services: Iterable[dict[str, Any]], report: ImportReport) -> list[_Organisation]:
    """Services by organisation, in the feed's order; a service that names no organisation,
    or repeats an id, is refused (and refuses its organisation, when it names one)."""
    organisations: dict[str, _Organisation] = {}
    seen: set[str] = set()
    for service in services:
        name = _text(service, "name") or "(no name)"
        organization = service.get("organization")
        org_id = organization.get("id") if isinstance(organization, dict) else None
        org_id = org_id or service.get("organization_id")
        try:
            service_id = _source_id(service, "service")
        except Refused as error:
            service_id, reason = str(service.get("id") or "")[:SOURCE_ID_MAX], str(error)
        else:
            reason = ""
        if not isinstance(org_id, str) or not org_id.strip() or len(org_id) > SOURCE_ID_MAX:
            report.records.append(
                RecordResult(
                    SourceKind.service,
                    service_id,
                    name,
                    "refused",
                    reason or "it names no organisation (organization.id)",
                )
            )
            continue
        org_id = org_id.strip()
        group = organisations.get(org_id)
        if group is None:
            document = organization if isinstance(organization, dict) else {"id": org_id}
            group = organisations[org_id] = _Organisation(org_id, document)
        elif isinstance(organization, dict) and "name" not in group.document:
            group.document = organization
        if not reason and service_id in seen:
            reason = "its id is given to another service of the feed too"
        seen.add(service_id)
        if reason:
            group.refused.append((service_id, name, reason))
        else:
            group.services.append((service_id, service))
    return list(organisations.values())


def import_services(
    session: Session,
    council: Council,
    services: Iterable[dict[str, Any]],
    *,
    actor_user_id: int | None = None,
    only_provider: Provider | None = None,
) -> ImportReport:
    """Import ``services`` (Open Referral documents) into ``council``; see the module.

    With ``only_provider`` (a provider importing its own services), the feed must hold one
    organisation, which becomes that provider (its profile is left as the provider wrote it);
    one already imported as another provider is refused. Flushes; never commits.
    """
    report = ImportReport()
    groups = _group(services, report)
    if only_provider is not None and len(groups) > 1:
        reason = (
            f"the feed holds {len(groups)} organisations: import only your own organisation's "
            "services (the council can import the rest)"
        )
        for group in groups:
            report.records.extend(_refused_group(group, reason, reason))
        return report
    sources = {
        (s.kind, s.source_id): s
        for s in session.scalars(select(SourceRecord).where(SourceRecord.council_id == council.id))
    }
    tags = {t.slug: t for t in session.scalars(select(OutcomeTag))}
    terms = _council_term_index(session, council)
    areas = {a.lower(): a for a in council.areas or []}
    for group in groups:
        savepoint = session.begin_nested()
        try:
            with session.no_autoflush:
                results = _import_organisation(
                    session,
                    council,
                    group,
                    sources,
                    tags,
                    areas,
                    actor_user_id,
                    only_provider,
                    terms,
                )
        except Refused as error:
            savepoint.rollback()
            # The savepoint's new rows are gone: forget the ids they were given.
            sources = {k: s for k, s in sources.items() if s.id is not None and s in session}
            report.records.extend(_refused_group(group, str(error)))
            continue
        savepoint.commit()
        report.records.extend(results)
    return report


def _refused_group(
    group: _Organisation,
    reason: str,
    others: str = "not imported: another record of its organisation was refused",
) -> list[RecordResult]:
    name = _text(group.document, "name") or "(no name)"
    records = [RecordResult(SourceKind.organization, group.source_id, name, "refused", reason)]
    failed = {service_id for service_id, _, _ in group.refused}
    for service_id, service_name, service_reason in group.refused:
        records.append(
            RecordResult(SourceKind.service, service_id, service_name, "refused", service_reason)
        )
    for service_id, service in group.services:
        if service_id in failed:
            continue
        records.append(
            RecordResult(
                SourceKind.service,
                service_id,
                _text(service, "name") or "(no name)",
                "refused",
                others,
            )
        )
    return records


def _unique_slug(session: Session, name: str) -> str:
    base = _SLUG_CHARS.sub("-", name.lower()).strip("-")[:80] or "provider"
    slug, n = base, 1
    while session.scalar(select(Provider.id).where(Provider.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _import_organisation(
    session: Session,
    council: Council,
    group: _Organisation,
    sources: dict[tuple[SourceKind, str], SourceRecord],
    tags: Mapping[str, OutcomeTag],
    areas: Mapping[str, str],
    actor_user_id: int | None,
    only_provider: Provider | None,
    council_terms: Mapping[str, CouncilTaxonomyTerm] | None = None,
) -> list[RecordResult]:
    """Import one organisation and its services, or raise :class:`Refused` for all of it."""
    service_failures: list[tuple[str, str, str]] = list(group.refused)
    org_notes: list[str] = []
    try:
        provider_values = _provider_values(group.document, org_notes)
    except Refused as error:
        raise Refused(str(error)) from None
    key = (SourceKind.organization, group.source_id)
    source = sources.get(key)
    provider = session.get(Provider, source.provider_id) if source else None
    if only_provider is not None:
        if provider is not None and provider.id != only_provider.id:
            raise Refused("this organisation was imported as another provider")
        provider, provider_values = only_provider, {}  # a provider keeps its own profile
    org_result = "unchanged"
    if provider is None:
        provider = Provider(
            council_id=council.id,
            slug=_unique_slug(session, provider_values["name"]),
            areas_served=[],
            **provider_values,
        )
        session.add(provider)
        session.flush()
        org_result = "created"
    elif any(getattr(provider, k) != v for k, v in provider_values.items()):
        for name, value in provider_values.items():
            setattr(provider, name, value)
        org_result = "updated"
    if source is None:
        source = SourceRecord(
            council_id=council.id,
            kind=SourceKind.organization,
            source_id=group.source_id,
            provider_id=provider.id,
        )
        session.add(source)
        sources[key] = source

    # The provider serves every council area its services name (an offer's area must be one).
    named: list[str] = []
    for _, service in group.services:
        for area in _areas(service, areas, []):
            if area not in named:
                named.append(area)
    served = list(provider.areas_served or [])
    missing = [a for a in named if a not in served]
    if missing:
        provider.areas_served = [a for a in council.areas or [] if a in served + missing]
        if org_result == "unchanged":
            org_result = "updated"

    offers = {
        o.id: o
        for o in session.scalars(
            select(Offer)
            .where(Offer.provider_id == provider.id)
            .options(selectinload(Offer.outcome_tags), selectinload(Offer.council_terms))
        )
    }
    results: list[RecordResult] = []
    new_offers: list[tuple[str, Offer]] = []
    updated: list[int] = []
    for service_id, service in group.services:
        notes: list[str] = []
        name = _text(service, "name") or "(no name)"
        try:
            values = _offer_values(session, provider, service, tags, areas, notes, council_terms)
        except Refused as error:
            service_failures.append((service_id, name, str(error)))
            continue
        service_key = (SourceKind.service, service_id)
        service_source = sources.get(service_key)
        offer = offers.get(service_source.offer_id or 0) if service_source else None
        if service_source is not None and offer is None:
            service_failures.append(
                (service_id, name, "it was imported before for another provider")
            )
            continue
        if offer is None:
            offer = Offer(provider_id=provider.id, status=OfferStatus.draft, capacity=0)
            _set(offer, values)
            session.add(offer)
            new_offers.append((service_id, offer))
            notes.append("it has no places yet: say how many before publishing it")
            result = "created"
        elif _set(offer, values):
            updated.append(offer.id)
            result = "updated"
        else:
            result = "unchanged"
        results.append(
            RecordResult(SourceKind.service, service_id, name, result, None, tuple(notes))
        )
    if service_failures:
        failed = ", ".join(f'"{n}"' for _, n, _ in service_failures[:3])
        group.refused = service_failures
        raise Refused(f"{len(service_failures)} of its services cannot be imported ({failed})")
    session.flush()  # one flush for the organisation's new offers: it gives their ids
    created = [offer.id for _, offer in new_offers]
    for service_id, offer in new_offers:
        service_source = SourceRecord(
            council_id=council.id,
            kind=SourceKind.service,
            source_id=service_id,
            provider_id=provider.id,
            offer_id=offer.id,
        )
        session.add(service_source)
        sources[(SourceKind.service, service_id)] = service_source
    session.flush()
    if org_result != "unchanged" or created or updated:
        append_event(
            session,
            "openreferral.imported",
            actor_user_id=actor_user_id,
            object_type="provider",
            object_id=provider.id,
            details={
                "source_id": group.source_id,
                "provider": org_result,
                "offers_created": created,
                "offers_updated": updated,
            },
        )
    organisation = RecordResult(
        SourceKind.organization,
        group.source_id,
        provider.name,
        org_result,
        None,
        tuple(org_notes),
    )
    return [organisation, *results]


def _set(offer: Offer, values: Mapping[str, Any]) -> bool:
    """Give ``offer`` these values; whether any of them changed."""
    changed = False
    for name, value in values.items():
        attribute = "outcome_tags" if name == "tags" else name
        before = getattr(offer, attribute)
        if name == "tags":
            same = [t.slug for t in before] == [t.slug for t in value]
        elif name == "council_terms":
            same = [t.id for t in before] == [t.id for t in value]
        else:
            same = before == value
        if not same:
            setattr(offer, attribute, value)
            changed = True
    return changed


# A record of each import made from the site's pages -----------------------------------------

#: The kind of the ``jobs`` row that keeps a page's import and its report. The import itself
#: runs in the request (a feed is read within FETCH_TIMEOUT_S a document); the row is written
#: done, so no worker ever claims it, and the report page reads it after the redirect.
IMPORT_RECORD_KIND = "openreferral.import"


def report_document(report: ImportReport) -> dict[str, Any]:
    return {
        "records": [
            {
                "kind": r.kind.value,
                "source_id": r.source_id,
                "name": r.name,
                "result": r.result,
                "reason": r.reason,
                "notes": list(r.notes),
            }
            for r in report.records
        ]
    }


def report_from_document(document: Mapping[str, Any]) -> ImportReport:
    return ImportReport(
        [
            RecordResult(
                SourceKind(r["kind"]),
                r["source_id"],
                r["name"],
                r["result"],
                r.get("reason"),
                tuple(r.get("notes") or ()),
            )
            for r in document.get("records", [])
        ]
    )


def record_import(
    session: Session,
    council: Council,
    actor_user_id: int,
    source: str,
    report: ImportReport,
    *,
    provider: Provider | None = None,
) -> int:
    """Keep ``report`` of an import made from a page; returns its id for the report page."""
    now = utcnow()
    job = Job(
        kind=IMPORT_RECORD_KIND,
        payload={
            "council_id": council.id,
            "provider_id": provider.id if provider else None,
            "user_id": actor_user_id,
            "source": source[:500],
        },
        status=JobStatus.done,
        progress=100,
        message=report.summary()[:500],
        result=report_document(report),
        finished_at=now,
        max_attempts=0,
    )
    session.add(job)
    session.flush()
    return job.id


def recorded_import(
    session: Session, record_id: int, council: Council, provider: Provider | None = None
) -> tuple[str, ImportReport]:
    """The source and report of import ``record_id`` made in ``council`` (by ``provider``,
    when given); :class:`NotFound` for any other."""
    job = session.get(Job, record_id)
    payload = job.payload if job is not None and job.kind == IMPORT_RECORD_KIND else {}
    if (
        job is None
        or payload.get("council_id") != council.id
        or (provider is not None and payload.get("provider_id") != provider.id)
    ):
        raise NotFound("We could not find that import.")
    return str(payload.get("source") or ""), report_from_document(job.result or {})
