"""The Open Referral UK 3.0 feed at ``/openreferral/<council>``.

Every answer is validated against the profile's compiled JSON schemas (formats checked: uuid,
uri, email, date-time) and, for pages, the profile's ``Page`` fields.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models import OfferCategory, OfferStatus
from models.people import AgeBand
from tests import factories
from tests.web.api_helpers import assert_error
from web.api.openreferral.routes import PROFILE

BASE = "/openreferral/westmere"
PAGE_FIELDS = {
    "total_items": int,
    "total_pages": int,
    "page_number": int,
    "size": int,
    "first_page": bool,
    "last_page": bool,
    "empty": bool,
    "contents": list,
}
# The schema of each item of a page, and of one record, by endpoint.
ITEM_SCHEMAS = {
    "services": "compiled/service_list.json",
    "service_at_locations": "compiled/service_at_location_list.json",
    "taxonomies": "taxonomy.json",
    "taxonomy_terms": "taxonomy_term.json",
}
RECORD_SCHEMAS = {
    "services": "compiled/service.json",
    "service_at_locations": "compiled/service_at_location.json",
    "taxonomies": "taxonomy.json",
    "taxonomy_terms": "taxonomy_term.json",
}


@cache
def _validator(name: str) -> Any:
    schema = json.loads((PROFILE / name).read_text("utf-8"))
    return jsonschema_rs.validator_for(schema, validate_formats=True, retriever=_local_schema)


def _local_schema(uri: str) -> Any:
    """The profile's schemas refer to each other by web address; read our copies instead."""
    name = uri.rsplit("/schema/", 1)[-1] if "/schema/" in uri else uri.rsplit("/", 1)[-1]
    return json.loads((PROFILE / name).read_text("utf-8"))


def assert_valid(document: Any, name: str) -> None:
    errors = [f"{e.instance_path}: {e.message}" for e in _validator(name).iter_errors(document)]
    assert not errors, (name, errors)


def get_page(client: FlaskClient, endpoint: str, query: str = "") -> dict[str, Any]:
    response = client.get(f"{BASE}/{endpoint}{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = response.get_json()
    assert set(body) == set(PAGE_FIELDS), body
    for field, kind in PAGE_FIELDS.items():
        assert type(body[field]) is kind, field
    for item in body["contents"]:
        assert_valid(item, ITEM_SCHEMAS[endpoint])
    return body  # type: ignore[no-any-return]


def get_record(client: FlaskClient, endpoint: str, public_id: str) -> dict[str, Any]:
    response = client.get(f"{BASE}/{endpoint}/{public_id}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = response.get_json()
    assert_valid(body, RECORD_SCHEMAS[endpoint])
    return body  # type: ignore[no-any-return]


@pytest.fixture
def world(db_session: Session) -> dict[str, Any]:
    council = factories.CouncilFactory(slug="westmere")
    provider = factories.ProviderFactory(
        council=council,
        name="Harbour Café",
        website="https://harbour-café.example.org/menu",
        email="hello@harbour-café.example.org",
    )
    tag = factories.OutcomeTagFactory(slug="paid-work", label="Getting a paid job")
    alpha = factories.OfferFactory(
        provider=provider,
        title="Alpha kitchen",
        outcome_tags=[tag],
        price_pence=4550,
        area="east",
        latitude=50.1,
        longitude=-4.2,
        min_age_band=AgeBand.age_18_24,
        max_age_band=AgeBand.age_35_49,
        schedule={"tue": ["morning", "afternoon"]},
    )
    beta = factories.OfferFactory(
        provider=provider,
        title="Beta training",
        category=OfferCategory.training,
        price_pence=0,
        area=None,
        location=None,
        schedule={"sat": ["evening"]},
        min_age_band=AgeBand.age_50_64,
    )
    draft = factories.OfferFactory(provider=provider, title="Draft", status=OfferStatus.draft)
    withdrawn = factories.OfferFactory(
        provider=provider, title="Gone", status=OfferStatus.withdrawn
    )
    elsewhere = factories.OfferFactory(title="Elsewhere")  # another council
    db_session.flush()
    return {
        "alpha": alpha,
        "beta": beta,
        "draft": draft,
        "withdrawn": withdrawn,
        "elsewhere": elsewhere,
        "tag": tag,
    }


def _ids(client: FlaskClient, endpoint: str, query: str = "") -> list[str]:
    return [item["name"] for item in get_page(client, endpoint, query)["contents"]]


def test_root_and_the_profiles_openapi_document(app: Flask, world: dict[str, Any]) -> None:
    client = app.test_client()
    body = client.get(BASE + "/").get_json()
    assert body["version"] == "3.0"
    assert body["openapi_url"] == "http://localhost/openreferral/westmere/openapi.json"
    document = client.get(BASE + "/openapi.json").get_json()
    assert document["servers"] == [{"url": "http://localhost/openreferral/westmere"}]
    assert set(document["paths"]) >= {"/services", "/services/{id}", "/taxonomy_terms"}
    time_schema = document["components"]["parameters"]["start_time"]["schema"]
    assert time_schema["type"] == "string"


def test_services_are_the_published_offers_in_pages(app: Flask, world: dict[str, Any]) -> None:
    client = app.test_client()
    body = get_page(client, "services")
    assert [s["name"] for s in body["contents"]] == ["Alpha kitchen", "Beta training"]
    assert (body["total_items"], body["total_pages"], body["size"]) == (2, 1, 2)
    assert body["first_page"] and body["last_page"] and not body["empty"]

    second = get_page(client, "services", "?per_page=1&page=2")
    assert [s["name"] for s in second["contents"]] == ["Beta training"]
    assert (second["total_pages"], second["page_number"], second["size"]) == (2, 2, 1)
    assert not second["first_page"] and second["last_page"]
    beyond = get_page(client, "services", "?per_page=1&page=9")
    assert beyond["empty"] and beyond["contents"] == [] and beyond["total_items"] == 2

    alpha = body["contents"][0]
    # International host names are IDNA-encoded, so the address is a valid URI.
    assert alpha["url"] == "https://xn--harbour-caf-lbb.example.org/menu"
    assert alpha["email"] == "hello@xn--harbour-caf-lbb.example.org"
    assert alpha["organization"]["name"] == "Harbour Café"
    assert (alpha["minimum_age"], alpha["maximum_age"]) == (18, 49)
    assert alpha["fees"] == "£45.50 a place"


def test_one_full_service(app: Flask, world: dict[str, Any]) -> None:
    client = app.test_client()
    public_id = get_page(client, "services")["contents"][0]["id"]
    service = get_record(client, "services", public_id)
    assert service["id"] == public_id
    assert service["cost_options"][0]["amount"] == 45.5
    assert [a["name"] for a in service["service_areas"]] == ["east"]
    assert [(s["byday"], s["opens_at"], s["closes_at"]) for s in service["schedules"]] == [
        ("TU", "09:00", "12:00"),
        ("TU", "12:00", "17:00"),
    ]
    location = service["service_at_locations"][0]["location"]
    assert (location["latitude"], location["longitude"]) == (50.1, -4.2)
    terms = {a["taxonomy_term"]["name"] for a in service["attributes"]}
    assert terms == {"Creative", "Getting a paid job"}
    # The same id again: ids are stable.
    assert get_page(client, "services")["contents"][0]["id"] == public_id


def test_unknown_and_unpublished_ids_are_404_in_one_shape(
    app: Flask, world: dict[str, Any]
) -> None:
    client = app.test_client()
    real = get_page(client, "services")["contents"][0]["id"]
    # An id of another kind, or of an offer that is not published here.
    from web.services.openreferral import SERVICE, record_id

    hidden = [record_id(SERVICE, world[name].id) for name in ("draft", "withdrawn", "elsewhere")]
    for endpoint in RECORD_SCHEMAS:
        for public_id in [
            *hidden,
            "not-an-id",
            "00000000-0000-0000-0000-000000000000",
            real.upper(),
            "%C3%A9",
            "a/b",
        ]:
            if endpoint == "services" and public_id == real:
                continue
            response = client.get(f"{BASE}/{endpoint}/{public_id}")
            assert_error(response, 404)
            assert response.headers["Access-Control-Allow-Origin"] == "*"
    names = json.dumps(get_page(client, "services")) + json.dumps(
        get_page(client, "service_at_locations")
    )
    assert "Draft" not in names and "Gone" not in names and "Elsewhere" not in names
    response = client.get("/openreferral/nowhere/services")
    assert_error(response, 404)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert_error(client.get(BASE + "/organizations"), 404)


def test_filters(app: Flask, world: dict[str, Any]) -> None:
    client = app.test_client()
    assert _ids(client, "services", "?search=kitchen") == ["Alpha kitchen"]
    assert _ids(client, "services", "?search=%25") == []
    assert _ids(client, "services", "?search=caf%C3%A9") == ["Alpha kitchen", "Beta training"]
    assert _ids(client, "services", "?minimum_age=60") == ["Beta training"]
    assert _ids(client, "services", "?maximum_age=30") == ["Alpha kitchen"]
    assert _ids(client, "services", "?day=SA") == ["Beta training"]
    assert _ids(client, "services", "?start_time=12:00") == ["Alpha kitchen", "Beta training"]
    assert _ids(client, "services", "?end_time=17:00") == ["Alpha kitchen"]
    assert _ids(client, "services", "?modified_after=2000-01-01T00:00:00Z") == [
        "Alpha kitchen",
        "Beta training",
    ]
    assert _ids(client, "services", "?modified_after=2999-01-01T00:00:00Z") == []

    terms = {t["name"]: t for t in get_page(client, "taxonomy_terms")["contents"]}
    assert _ids(client, "services", f"?taxonomy_term_id={terms['Training']['id']}") == [
        "Beta training"
    ]
    tag_term = terms["Getting a paid job"]
    assert _ids(client, "services", f"?taxonomy_term_id={tag_term['id']}") == ["Alpha kitchen"]
    assert _ids(client, "services", f"?taxonomy_id={tag_term['taxonomy_id']}") == ["Alpha kitchen"]
    assert _ids(client, "services", "?taxonomy_term_id=nonsense") == []
    get_record(client, "taxonomy_terms", tag_term["id"])
    taxonomies = get_page(client, "taxonomies")["contents"]
    assert [t["name"] for t in taxonomies] == [
        "Tapestry service types",
        "Tapestry outcomes",
        "Tapestry need levels",
    ]
    get_record(client, "taxonomies", taxonomies[0]["id"])


def test_services_at_locations(app: Flask, world: dict[str, Any]) -> None:
    client = app.test_client()
    body = get_page(client, "service_at_locations")
    assert [item["service"]["name"] for item in body["contents"]] == ["Alpha kitchen"]
    record = get_record(client, "service_at_locations", body["contents"][0]["id"])
    assert record["location"]["latitude"] == 50.1
    beta_sal = body["contents"][0]["id"][:-12] + f"{world['beta'].id:012x}"
    assert_error(client.get(f"{BASE}/service_at_locations/{beta_sal}"), 404)


def test_addresses_languages_and_contacts(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    alpha = world["alpha"]
    alpha.address_line, alpha.town, alpha.postcode = "12 Mill Lane", "Westmere", "TR1 1AA"
    alpha.languages, alpha.contact_name = ["Polish", "British Sign Language"], "Sam"
    db_session.flush()
    client = app.test_client()
    service = get_record(client, "services", get_page(client, "services")["contents"][0]["id"])
    [address] = service["service_at_locations"][0]["location"]["addresses"]
    assert (address["address_1"], address["city"], address["postal_code"]) == (
        "12 Mill Lane",
        "Westmere",
        "TR1 1AA",
    )
    assert address["country"] == "GB"
    assert [item["name"] for item in service["languages"]] == ["Polish", "British Sign Language"]
    assert [item["name"] for item in service["contacts"]] == ["Sam"]


def test_postcode_and_proximity(app: Flask, db_session: Session, world: dict[str, Any]) -> None:
    alpha = world["alpha"]  # at 50.1, -4.2
    alpha.postcode = "TR1 1AA"
    provider = alpha.provider
    factories.OfferFactory(
        provider=provider, title="Gamma, 2 km away", postcode="TR1 2BB", latitude=50.118,
        longitude=-4.2,
    )  # fmt: skip
    factories.OfferFactory(
        provider=provider, title="Delta, 30 km away", postcode="TR9 9ZZ", latitude=50.37,
        longitude=-4.2,
    )  # fmt: skip
    db_session.flush()
    client = app.test_client()

    def names(query: str) -> list[str]:
        contents = get_page(client, "service_at_locations", query)["contents"]
        return [item["service"]["name"] for item in contents]

    # A postcode alone: the services in its district (the part before the space).
    assert names("?postcode=tr1%201aa") == ["Alpha kitchen", "Gamma, 2 km away"]
    assert names("?postcode=TR9") == ["Delta, 30 km away"]
    assert names("?postcode=EX1%201AA") == []
    # With proximity: within that many metres of where the postcode is.
    assert names("?postcode=TR1%201AA&proximity=500") == ["Alpha kitchen"]
    assert names("?postcode=TR1%201AA&proximity=5000") == ["Alpha kitchen", "Gamma, 2 km away"]
    assert len(names("?postcode=TR1&proximity=100000")) == 3

    for query, field, words in [
        ("?postcode=hello", "postcode", "UK postcode"),
        ("?proximity=500", "proximity", "Give a postcode"),
        ("?postcode=EX1%201AA&proximity=500", "postcode", "do not know where the postcode"),
        ("?postcode=TR1%201AA&proximity=near", "proximity", "whole number"),
    ]:
        body = assert_error(client.get(f"{BASE}/service_at_locations{query}"), 422)
        assert list(body["errors"]) == [field] and words in str(body["errors"][field]), query


@pytest.mark.parametrize(
    "query",
    [
        "?page=0",
        "?page=-1",
        "?page=abc",
        "?page=1e3",
        "?page=99999999999999999999",
        "?per_page=0",
        "?per_page=1000",
        "?minimum_age=old",
        "?maximum_age=%00",
        "?day=Funday",
        "?start_time=25:00",
        "?end_time=9am",
        "?modified_after=yesterday",
        "?modified_after=0001-01-01T00:00:00%2B14:00",
        "?search=" + "x" * 500,
        "?search=a%00b",
    ],
)
def test_hostile_query_strings_are_refused_naming_the_field(
    app: Flask, world: dict[str, Any], query: str
) -> None:
    response = app.test_client().get(f"{BASE}/services{query}")
    # NUL characters are refused at the door (400), for the whole site; the rest here (422).
    body = assert_error(response, 400 if "%00" in query else 422)
    assert list(body["errors"]) == [query[1:].split("=")[0]]
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_writes_are_refused(app: Flask, world: dict[str, Any]) -> None:
    response = app.test_client().post(f"{BASE}/services", headers={"X-Requested-With": "x"})
    assert_error(response, 405)
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_profile_copy_is_the_shared_one() -> None:
    shared = Path("/work/shared/openreferral-uk/schema")
    if not shared.exists():
        pytest.skip("the shared copy of the profile is not on this machine")
    for path in shared.rglob("*.json"):
        assert (PROFILE / path.relative_to(shared)).read_bytes() == path.read_bytes(), path


def test_the_whole_demo_feed_is_valid(app: Flask, db_session: Session) -> None:
    """Every page of the demo's feed, and every record in it, as the profile's schemas say."""
    from web.services.demo import build_demo

    build_demo(db_session, persons=10)
    db_session.flush()
    client = app.test_client()
    for endpoint in ITEM_SCHEMAS:
        page, seen, total = 1, 0, None
        while True:
            body = get_page(client, endpoint, f"?per_page=100&page={page}")
            total = body["total_items"]
            seen += body["size"]
            for item in body["contents"]:
                get_record(client, endpoint, item["id"])
            if body["last_page"]:
                break
            page += 1
        assert seen == total, endpoint
        if endpoint == "services":
            assert total > 0
    # The demo's places have postcodes, so a directory can search it by postcode.
    near = get_page(client, "service_at_locations", "?postcode=WM1&per_page=100")["contents"]
    assert near and all(
        a["postal_code"].startswith("WM1 ")
        for item in near
        for a in item["location"].get("addresses", [])
    )
    assert get_page(client, "service_at_locations", "?postcode=WM1%201AQ&proximity=50000")["size"]


def test_a_service_is_modified_when_its_organisation_is(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    from datetime import UTC, datetime

    alpha, beta = world["alpha"], world["beta"]
    for offer in (alpha, beta):
        offer.updated_at = datetime(2020, 1, 1, tzinfo=UTC)
    world["elsewhere"].provider.updated_at = datetime(2025, 6, 1, tzinfo=UTC)
    alpha.provider.updated_at = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    db_session.flush()
    client = app.test_client()
    assert _ids(client, "services", "?modified_after=2024-06-01T12:00:00Z") == [
        "Alpha kitchen",
        "Beta training",
    ]
    assert _ids(client, "services", "?modified_after=2024-06-01T12:00:01Z") == []
    last = {s["name"]: s["last_modified"] for s in get_page(client, "services")["contents"]}
    assert last["Alpha kitchen"] == "2024-06-01T12:00:00Z"


def test_a_browser_may_ask_first(app: Flask, world: dict[str, Any]) -> None:
    """A web page elsewhere may read the feed: the preflight and the answer both allow it."""
    client = app.test_client()
    response = client.options(f"{BASE}/services", headers={"Origin": "https://elsewhere.example"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response.headers["Allow"]


def test_need_levels_are_terms_of_their_own_taxonomy(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    alpha = world["alpha"]
    alpha.min_need_level, alpha.max_need_level = 2, 4
    db_session.flush()
    client = app.test_client()
    service = get_record(client, "services", get_page(client, "services")["contents"][0]["id"])
    levels = [
        a["taxonomy_term"]["code"]
        for a in service["attributes"]
        if a["taxonomy_term"]["taxonomy"] == "Tapestry need levels"
    ]
    assert levels == ["need-level-2", "need-level-3", "need-level-4"]

    terms = get_page(client, "taxonomy_terms", "?per_page=100")["contents"]
    need_terms = [t for t in terms if t["code"].startswith("need-level-")]
    assert len(need_terms) == 11
    level_3 = next(t for t in need_terms if t["code"] == "need-level-3")
    assert get_record(client, "taxonomy_terms", level_3["id"])["name"] == "Need level 3"
    assert _ids(client, "services", f"?taxonomy_term_id={level_3['id']}") == ["Alpha kitchen"]
    level_9 = next(t for t in need_terms if t["code"] == "need-level-9")
    assert _ids(client, "services", f"?taxonomy_term_id={level_9['id']}") == []
    need_taxonomy = level_3["taxonomy_id"]
    assert get_record(client, "taxonomies", need_taxonomy)["name"] == "Tapestry need levels"
    assert _ids(client, "services", f"?taxonomy_id={need_taxonomy}") == ["Alpha kitchen"]
