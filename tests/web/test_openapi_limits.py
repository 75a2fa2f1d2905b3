"""The OpenAPI document states the limits the API enforces, so a client (or schemathesis) that
follows it is never refused for a rule it could not read."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from models.people import DAYS, TIMES_OF_DAY
from web.services.offers import MAX_CAPACITY, MAX_PRICE_PENCE, TITLE_MAX


def _spec(client: FlaskClient) -> dict[str, Any]:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert isinstance(spec, dict)
    return spec


def test_availability_states_its_days_and_no_other_key(client: FlaskClient) -> None:
    schemas = _spec(client)["components"]["schemas"]
    for name in ("Profile", "ProfilePatch"):
        availability = schemas[name]["properties"]["availability"]
        assert availability["additionalProperties"] is False
        assert list(availability["properties"]) == list(DAYS)
        for day in DAYS:
            assert availability["properties"][day]["items"]["enum"] == list(TIMES_OF_DAY)


def test_offer_fields_state_their_ranges(client: FlaskClient) -> None:
    offer = _spec(client)["components"]["schemas"]["OfferInput"]["properties"]
    assert offer["name"]["minLength"] == 1 and offer["name"]["maxLength"] == TITLE_MAX
    not_blank = r"^[^\x00]*[^\x00\s][^\x00]*$"  # some text that is not a space, and no NUL
    assert offer["name"]["pattern"] == not_blank and offer["description"]["pattern"] == not_blank
    assert offer["price_pence"]["maximum"] == MAX_PRICE_PENCE
    assert offer["capacity"]["maximum"] == MAX_CAPACITY


def test_the_idempotency_key_states_what_it_accepts(client: FlaskClient) -> None:
    accept = _spec(client)["paths"]["/api/v1/allocations/{allocation_id}/accept"]["post"]
    header = next(p for p in accept["parameters"] if p["name"] == "Idempotency-Key")
    assert header["schema"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": "^[ -~]+$",
    }


def test_every_whole_number_states_the_range_the_database_holds(client: FlaskClient) -> None:
    schemas = _spec(client)["components"]["schemas"]
    offer_ids = schemas["ChoicesPut"]["properties"]["offer_ids"]["items"]
    assert (offer_ids["minimum"], offer_ids["maximum"]) == (-(2**31 - 1), 2**31 - 1)
    pot = schemas["RoundCreate"]["properties"]["pot_pence"]
    assert pot["maximum"] == 2**63 - 1
    answer = client.put("/api/v1/me/choices", json={"offer_ids": [2**31]})
    assert answer.status_code in (401, 400, 422)  # refused, never a crash


def test_a_rounds_choices_limit_is_stated(client: FlaskClient) -> None:
    from web.services.rounds import MAX_CHOICES_LIMIT

    create = _spec(client)["components"]["schemas"]["RoundCreate"]["properties"]["max_choices"]
    assert (create["minimum"], create["maximum"]) == (1, MAX_CHOICES_LIMIT)


def test_text_states_that_it_holds_no_nul(client: FlaskClient) -> None:
    providers = _spec(client)["paths"]["/api/v1/providers"]["get"]["parameters"]
    area = next(p for p in providers if p["name"] == "area")
    assert area["schema"]["pattern"] == r"^[^\x00]*$"
    assert client.get("/api/v1/providers", query_string={"area": "a\x00b"}).status_code == 400
