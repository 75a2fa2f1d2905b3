"""Whole numbers (money in pence, places, ids, levels) are refused unless written as one.

marshmallow's ``Integer`` would store ``45.5`` as 45 and ``"45"`` as 45 without a word. Every
integer field of every API request body, found from the OpenAPI document, refuses a number with
a decimal point, a string, a boolean and a number of thousands of digits with 422 naming the
field; query strings refuse anything but digits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection

from tests.security.test_hostile_input import (
    ERROR_KEYS,
    HEADERS,
    _caller,
    _concrete,
    _cookies,
)
from tests.security.world import World

NOT_WHOLE = ["45.5", "45.0", '"45"', "true", "9" * 5000, "1e3"]


def _integer_fields(spec: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(method, path, field) for each integer property of a JSON request body."""
    schemas = spec.get("components", {}).get("schemas", {})
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in {"post", "put", "patch", "delete"}:
                continue
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json")
            if not body:
                continue
            schema = body["schema"]
            if "$ref" in schema:
                schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
            for name, prop in schema.get("properties", {}).items():
                kinds = prop.get("type")
                kinds = kinds if isinstance(kinds, list) else [kinds]
                if "integer" in kinds and not prop.get("readOnly"):
                    yield method.upper(), path, name


def test_every_integer_field_refuses_what_is_not_a_whole_number(
    app: Flask, world: World, login: Callable[..., Any], db_connection: Connection
) -> None:
    jars = _cookies(app, world, login)
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    fields = list(_integer_fields(spec))
    names = {name for _, _, name in fields}
    assert {"price_pence", "capacity", "amount_pence", "min_need_level"} <= names, names
    for method, path, name in fields:
        client = app.test_client()
        for cookie, value in jars[_caller(path)].items():
            client.set_cookie(cookie, value)
        for bad in NOT_WHOLE:
            savepoint = db_connection.begin_nested()
            try:
                response = client.open(
                    _concrete(path, world),
                    method=method,
                    data=f'{{"{name}": {bad}}}',
                    content_type="application/json",
                    headers=HEADERS,
                )
            finally:
                savepoint.rollback()
            where = (method, path, name, bad[:10], response.status_code)
            assert response.status_code == 422, where
            body = response.get_json()
            assert set(body) == ERROR_KEYS and name in body["errors"], (where, body)


def test_price_with_pence_after_a_point_is_refused_and_nothing_changes(
    app: Flask, world: World, login: Callable[..., Any]
) -> None:
    client = app.test_client()
    login(client, world.users["provider_x"])
    url = f"/api/v1/provider/offers/{world.ids['offer_x']}"
    before = client.get(url).get_json()["price_pence"]
    response = client.patch(url, json={"price_pence": 45.5}, headers=HEADERS)
    assert response.status_code == 422
    assert response.get_json()["errors"]["price_pence"] == [
        "Enter a whole number of pence, like 4550 for £45.50, not text or a number with a "
        "decimal point."
    ]
    assert client.get(url).get_json()["price_pence"] == before
    assert client.patch(url, json={"price_pence": 4550}, headers=HEADERS).status_code == 200
    assert client.get(url).get_json()["price_pence"] == 4550


@pytest.mark.parametrize("value", ["1.5", "²", "1_000", "+1", "0x10", "9" * 5000, ""])
def test_query_numbers_are_digits_only(app: Flask, value: str) -> None:
    response = app.test_client().get("/api/v1/offers", query_string={"page": value})
    assert response.status_code == 422, value
    assert "page" in response.get_json()["errors"]


def test_query_numbers_written_as_digits_still_work(app: Flask, world: World) -> None:
    response = app.test_client().get("/api/v1/offers?page=1&per_page=5")
    assert response.status_code == 200
    response = app.test_client().get(f"/api/v1/offers?provider_id={world.ids['provider_x']}")
    assert response.status_code == 200


@pytest.mark.parametrize("typed", ["²", "١٢", "1.5", "1_0", "9" * 5000])
def test_page_forms_refuse_what_is_not_a_whole_number(
    app: Flask,
    world: World,
    login: Callable[..., Any],
    db_connection: Connection,
    typed: str,
) -> None:
    """``str.isdigit`` passes "²" (``int`` then crashes) and 5,000 digits (``int`` raises past
    4,300): every form refuses them beside the field instead of answering 500 or saving."""
    from tests.web.conftest import csrf_token

    ids = world.ids
    tries = [
        ("person_a", "/person/about-me", {"max_travel_miles": typed}),
        ("commissioner", f"/commissioner/rounds/{ids['open_round']}/places",
         {f"places-{ids['offer_x']}": typed}),
        ("commissioner", f"/commissioner/rounds/{ids['open_round']}/budgets",
         {"person_id": typed, "amount": "10"}),
        ("provider_x", f"/provider/offers/{ids['offer_x']}/capacity", {"capacity": typed}),
    ]  # fmt: skip
    clients: dict[str, tuple[Any, str]] = {}
    for actor, url, form in tries:
        if actor not in clients:
            client = app.test_client()
            signed_in = login(client, world.users[actor])
            clients[actor] = (client, csrf_token(client.get(signed_in.headers["Location"])))
        client, token = clients[actor]
        savepoint = db_connection.begin_nested()
        try:
            response = client.post(url, data={"csrf_token": token, **form})
        finally:
            savepoint.rollback()
        # The form again with the error beside the field (some pages answer 200), not saved.
        assert response.status_code in (200, 400, 422), (url, form, response.status_code)
        assert "<title>Error:" in response.get_data(as_text=True), (url, form)


def test_a_code_in_other_digits_is_wrong_not_a_crash(app: Flask, world: World) -> None:
    from tests.web.conftest import csrf_token

    client = app.test_client()
    page = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={
            "csrf_token": csrf_token(page),
            "email": world.users["commissioner"].email,
            "password": "correct horse battery staple",
        },
    )
    assert response.headers["Location"].endswith("/sign-in/code")
    page = client.get("/sign-in/code")
    response = client.post("/sign-in/code", data={"csrf_token": csrf_token(page), "code": "١٢٣٤٥٦"})
    assert 400 <= response.status_code < 500
