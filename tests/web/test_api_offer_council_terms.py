"""Offers tagged with the council's own taxonomy terms through the API: written by the provider
(ids as in the council's Open Referral feed), checked, and read back on every offer."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from models import Role, User
from models.openreferral import CouncilTaxonomyTerm
from tests import factories
from tests.web.api_helpers import assert_error, call
from web.services.offers import MAX_COUNCIL_TERMS
from web.services.openreferral import COUNCIL_TAXONOMY, COUNCIL_TERM, record_id

NEW_OFFER = {
    "name": "Cafe training",
    "description": "Learn to run a cafe counter.",
    "category": "training",
    "price_pence": 4550,
    "capacity": 8,
}


@pytest.fixture
def member(db_session: Session, make_user: Callable[..., User]) -> User:
    return make_user(Role.provider)


@pytest.fixture
def terms(db_session: Session, member: User) -> list[CouncilTaxonomyTerm]:
    council_id = member.provider_memberships[0].provider.council_id
    taxonomy = factories.CouncilTaxonomyFactory(council_id=council_id, name="Westmere support")
    db_session.flush()
    made = [
        factories.CouncilTaxonomyTermFactory(taxonomy_id=taxonomy.id, code=c, name=n, position=i)
        for i, (c, n) in enumerate([("day", "Day opportunities"), ("home", "Help at home")])
    ]
    db_session.flush()
    return made


@pytest.fixture
def client(app: Flask, login, member: User):  # type: ignore[no-untyped-def]
    client = app.test_client()
    login(client, member)
    return client


def _id(term: CouncilTaxonomyTerm) -> str:
    return record_id(COUNCIL_TERM, term.id)


def test_a_provider_tags_an_offer_and_reads_the_terms_back(
    client, terms: list[CouncilTaxonomyTerm], db_session: Session
) -> None:
    day, home = terms
    response = call(
        client, "POST", "/api/v1/provider/offers", {**NEW_OFFER, "council_terms": [_id(day)]}
    )
    assert response.status_code == 201, response.get_json()
    offer = response.get_json()
    assert offer["council_terms"] == [
        {
            "id": _id(day),
            "name": "Day opportunities",
            "code": "day",
            "taxonomy": "Westmere support",
            "taxonomy_id": record_id(COUNCIL_TAXONOMY, day.taxonomy_id),
        }
    ]
    url = f"/api/v1/provider/offers/{offer['id']}"

    # Changed: the list sent is the whole list.
    response = call(client, "PATCH", url, {"council_terms": [_id(home), _id(day)]})
    assert response.status_code == 200, response.get_json()
    assert [t["code"] for t in response.get_json()["council_terms"]] == ["day", "home"]
    assert [t["code"] for t in client.get(url).get_json()["council_terms"]] == ["day", "home"]

    # Published, anyone reads them on the public offer too.
    assert call(client, "PATCH", url, {"status": "published"}).status_code == 200
    public = client.get(f"/api/v1/offers/{offer['id']}").get_json()
    assert [t["name"] for t in public["council_terms"]] == ["Day opportunities", "Help at home"]

    # An empty list takes them all away; a change without the field keeps them.
    assert call(client, "PATCH", url, {"price_pence": 5000}).get_json()["council_terms"]
    assert call(client, "PATCH", url, {"council_terms": []}).get_json()["council_terms"] == []


def test_an_offer_without_terms_reads_an_empty_list(client, terms) -> None:  # type: ignore[no-untyped-def]
    response = call(client, "POST", "/api/v1/provider/offers", NEW_OFFER)
    assert response.status_code == 201
    assert response.get_json()["council_terms"] == []


@pytest.mark.parametrize(
    "value",
    [
        ["not-an-id"],
        [record_id(COUNCIL_TERM, 999_999)],
        [record_id(COUNCIL_TAXONOMY, 1)],  # a taxonomy's id, not a term's
        "one-id",
        [7],
        [None],
    ],
)
def test_a_term_that_is_not_the_councils_is_refused_naming_the_field(
    client, terms, value: object, db_session: Session
) -> None:  # type: ignore[no-untyped-def]
    body = assert_error(
        call(client, "POST", "/api/v1/provider/offers", {**NEW_OFFER, "council_terms": value}),
        422,
    )
    assert "council_terms" in body["errors"], body


def test_another_councils_term_is_refused(client, terms, db_session: Session) -> None:  # type: ignore[no-untyped-def]
    elsewhere = factories.CouncilTaxonomyTermFactory()
    db_session.flush()
    response = call(
        client, "POST", "/api/v1/provider/offers", {**NEW_OFFER, "council_terms": [_id(elsewhere)]}
    )
    body = assert_error(response, 422)
    assert body["errors"]["council_terms"] == ["Choose the council's terms from the list"]


def test_too_many_terms_are_refused(client, terms) -> None:  # type: ignore[no-untyped-def]
    many = [_id(terms[0])] * (MAX_COUNCIL_TERMS + 1)
    response = call(client, "POST", "/api/v1/provider/offers", {**NEW_OFFER, "council_terms": many})
    assert "council_terms" in assert_error(response, 422)["errors"]


def test_the_openapi_document_states_the_field(app: Flask) -> None:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    written = schemas["OfferInput"]["properties"]["council_terms"]
    assert written["type"] == "array"
    assert (written["items"]["type"], written["items"]["format"]) == ("string", "council-term")
    assert written["maxItems"] == MAX_COUNCIL_TERMS
    read = schemas["Offer"]["properties"]["council_terms"]
    assert read["items"]["$ref"].endswith("/CouncilTerm")
    assert set(schemas["CouncilTerm"]["required"]) == {
        "id",
        "name",
        "code",
        "taxonomy",
        "taxonomy_id",
    }
