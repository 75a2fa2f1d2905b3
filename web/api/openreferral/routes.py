"""``/openreferral/<council>``: a council's published offers as an Open Referral UK 3.0 API.

The endpoints, query parameters and paging are the profile's (``profile/openapi.json``, a copy
of OpenReferralUK/uk-profile's). Every answer is public, read-only JSON with
``Access-Control-Allow-Origin: *`` (errors too), as the profile's compliance rules ask. Errors
have Tapestry's one shape ``{code, status, message, errors}``: an unknown council or id is 404,
a query parameter that cannot be read is 422 naming it.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request, url_for

from web.api.service_errors import abort_for
from web.db import get_session
from web.services import openreferral
from web.services.errors import InvalidInput, ServiceError
from web.services.postcodes import normal_postcode

PREFIX = "/openreferral"
PROFILE = Path(__file__).with_name("profile")
bp = Blueprint("openreferral", __name__, url_prefix=PREFIX + "/<council_slug>")

_DAYS = {"MO": "mon", "TU": "tue", "WE": "wed", "TH": "thu", "FR": "fri", "SA": "sat", "SU": "sun"}
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_MAX_WORDS = 200


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(_allow_any_origin)


def _allow_any_origin(response: Response) -> Response:
    # Every answer under the feed, 404s and 405s included, may be read by any web page.
    if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _fail(error: ServiceError) -> Any:
    abort_for(error)


def _base(council_slug: str) -> str:
    """The council's feed address, for the ``uri`` and ``term_uri`` of taxonomies and terms."""
    return str(url_for(".root", council_slug=council_slug, _external=True)).rstrip("/")


def _council(slug: str) -> Any:
    try:
        return openreferral.council_by_slug(get_session(), slug)
    except ServiceError as error:
        _fail(error)


def _whole_number(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"[0-9]{1,9}", raw) or not low <= int(raw) <= high:
        _fail(InvalidInput({name: f"Give {name} as a whole number from {low} to {high}."}))
    return int(raw)


def _paging() -> tuple[int, int]:
    page = _whole_number("page", 1, 1, 10**9)
    per_page = _whole_number(
        "per_page", openreferral.DEFAULT_PER_PAGE, 1, openreferral.MAX_PER_PAGE
    )
    assert page is not None and per_page is not None
    return page, per_page


def _text(name: str) -> str | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > _MAX_WORDS or "\x00" in raw:
        _fail(InvalidInput({name: f"Give {name} in at most {_MAX_WORDS} characters."}))
    return raw


def _filters() -> openreferral.ServiceFilter:
    day = _text("day")
    if day is not None and day.upper() not in _DAYS:
        _fail(InvalidInput({"day": "Give day as MO, TU, WE, TH, FR, SA or SU."}))
    times: dict[str, str | None] = {}
    for name in ("start_time", "end_time"):
        times[name] = _text(name)
        if times[name] is not None and not _TIME.match(times[name] or ""):
            _fail(InvalidInput({name: f"Give {name} as a time like 09:30."}))
    modified_after = None
    if (raw := _text("modified_after")) is not None:
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            # A time without a zone is taken to be UTC.
            modified_after = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
            modified_after = modified_after.astimezone(UTC)
        except (ValueError, OverflowError):
            _fail(
                InvalidInput(
                    {
                        "modified_after": "Give modified_after as a date and time, "
                        "like 2024-05-01T09:00:00Z."
                    }
                )  # fmt: skip
            )
    return openreferral.ServiceFilter(
        search=_text("search"),
        taxonomy_term_id=_text("taxonomy_term_id"),
        taxonomy_id=_text("taxonomy_id"),
        minimum_age=_whole_number("minimum_age", None, 0, 200),
        maximum_age=_whole_number("maximum_age", None, 0, 200),
        modified_after=modified_after,
        day=_DAYS[day.upper()] if day else None,
        start_time=times["start_time"],
        end_time=times["end_time"],
    )


_DISTRICT = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")


def _postcode_search(council: Any, where: openreferral.ServiceFilter) -> openreferral.ServiceFilter:
    """``where`` with the profile's ``postcode`` and ``proximity`` (metres from the postcode)."""
    raw = _text("postcode")
    proximity = _whole_number("proximity", None, 0, 10**6)
    if raw is None:
        if proximity is not None:
            _fail(InvalidInput({"proximity": "Give a postcode to measure the proximity from."}))
        return where
    postcode = normal_postcode(raw)
    district = " ".join(raw.upper().split())
    if postcode is None and not _DISTRICT.match(district):
        _fail(InvalidInput({"postcode": "Give postcode as a UK postcode, like EX1 1AA, or EX1."}))
    postcode = postcode or district
    near = None
    if proximity is not None:
        near = openreferral.postcode_point(get_session(), council, postcode)
        if near is None:
            # Neither the national postcode table (if imported) nor the services know it.
            _fail(
                InvalidInput(
                    {
                        "postcode": f"We do not know where the postcode {postcode} is. Leave "
                        "out proximity to list the services in its district."
                    }  # fmt: skip
                )
            )
    return replace(where, postcode=postcode, near=near, proximity_m=proximity)


@bp.get("/")
def root(council_slug: str) -> Response:
    """What this API is: the HSDS version, the profile and its OpenAPI document. The profile
    fixes the document's fields, so the council's market position statement is a Link."""
    _council(council_slug)
    response = jsonify(
        openreferral.api_root(url_for(".openapi", council_slug=council_slug, _external=True))
    )
    statement = url_for("market.statement", council_slug=council_slug, _external=True)
    response.headers["Link"] = f'<{statement}>; rel="related"; title="Market position statement"'
    return response


@bp.get("/openapi.json")
def openapi(council_slug: str) -> dict[str, Any]:
    """The profile's OpenAPI document, with this council's base URL as its server."""
    _council(council_slug)
    document = copy.deepcopy(corrected_openapi())
    document["servers"] = [
        {"url": url_for(".root", council_slug=council_slug, _external=True).rstrip("/")}
    ]
    return document


@bp.get("/services")
def services(council_slug: str) -> dict[str, Any]:
    council = _council(council_slug)
    where = _filters()
    page, per_page = _paging()
    return openreferral.list_services(get_session(), council, where, page, per_page).as_document()


@bp.get("/services/<path:service_id>")
def service(council_slug: str, service_id: str) -> dict[str, Any]:
    council = _council(council_slug)
    try:
        return openreferral.get_service(get_session(), council, service_id, _base(council_slug))
    except ServiceError as error:
        _fail(error)


@bp.get("/service_at_locations")
def services_at_locations(council_slug: str) -> dict[str, Any]:
    council = _council(council_slug)
    where = _postcode_search(council, _filters())
    page, per_page = _paging()
    session = get_session()
    return openreferral.list_services_at_locations(
        session, council, where, page, per_page
    ).as_document()


@bp.get("/service_at_locations/<path:service_at_location_id>")
def service_at_location(council_slug: str, service_at_location_id: str) -> dict[str, Any]:
    council = _council(council_slug)
    try:
        return openreferral.get_service_at_location(get_session(), council, service_at_location_id)
    except ServiceError as error:
        _fail(error)


@bp.get("/taxonomies")
def taxonomies(council_slug: str) -> dict[str, Any]:
    council = _council(council_slug)
    page, per_page = _paging()
    return openreferral.list_taxonomies(
        get_session(), council, _base(council_slug), page, per_page
    ).as_document()


@bp.get("/taxonomies/<path:taxonomy_id>")
def taxonomy(council_slug: str, taxonomy_id: str) -> dict[str, Any]:
    council = _council(council_slug)
    try:
        return openreferral.get_taxonomy(get_session(), council, taxonomy_id, _base(council_slug))
    except ServiceError as error:
        _fail(error)


@bp.get("/taxonomy_terms")
def taxonomy_terms(council_slug: str) -> dict[str, Any]:
    council = _council(council_slug)
    page, per_page = _paging()
    return openreferral.list_taxonomy_terms(
        get_session(), council, _base(council_slug), page, per_page
    ).as_document()


@bp.get("/taxonomy_terms/<path:taxonomy_term_id>")
def taxonomy_term(council_slug: str, taxonomy_term_id: str) -> dict[str, Any]:
    council = _council(council_slug)
    try:
        return openreferral.get_taxonomy_term(
            get_session(), council, taxonomy_term_id, _base(council_slug)
        )
    except ServiceError as error:
        _fail(error)


@cache
def corrected_openapi() -> dict[str, Any]:
    """The profile's OpenAPI document with its two known faults corrected (see SOURCE.md).

    ``start_time`` and ``end_time`` say ``"type": "time"``, which JSON Schema does not have:
    they become ``HH:MM`` strings. ``/service_at_locations/{id}`` answers a service at a
    location, so its response points at ``compiled/service_at_location.json``.
    """
    document: dict[str, Any] = json.loads((PROFILE / "openapi.json").read_text("utf-8"))
    for name in ("start_time", "end_time"):
        document["components"]["parameters"][name]["schema"] = {
            "type": "string",
            "pattern": _TIME.pattern,
        }
    schema = document["paths"]["/service_at_locations/{id}"]["get"]["responses"]["200"]
    ref = schema["content"]["application/json"]["schema"]
    ref["$ref"] = ref["$ref"].replace("compiled/service.json", "compiled/service_at_location.json")
    return document
