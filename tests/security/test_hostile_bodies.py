"""Hostile request bodies: refused at the door with a 4xx in the one error shape, one log line.

Each of these once answered 500 (some before sign-in): JSON nested hundreds of layers deep (a
``RecursionError`` in the NUL check that runs before CSRF and sign-in), half a surrogate pair
(``"x\\ud800y"``) in a text field, a whole number of 5,000 digits, and CR/LF in ``next`` after a
right password. The hypothesis test sends raw hostile bodies to every API operation, signed out
and as each role, and to every page that takes a post, signed out; it would have found each.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import hypothesis
import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from models import Consent
from models.audit import AuditEvent
from tests.security.test_hostile_input import ERROR_KEYS, HEADERS, PATH_IDS, _cookies
from tests.security.world import World
from tests.web.conftest import csrf_token

DEEP_ARRAY = "[" * 5000 + "]" * 5000
DEEP_OBJECTS = '{"a":' * 400 + "1" + "}" * 400
SURROGATE = '{"aspirations_text": "x\\ud800y"}'
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _api_client(app: Flask, cookies: dict[str, str]) -> Any:
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def _assert_json_error(response: Any, where: object, status: int | None = None) -> None:
    assert 400 <= response.status_code < 500, (where, response.status_code)
    if status is not None:
        assert response.status_code == status, (where, response.status_code)
    assert response.mimetype == "application/json", where
    body = response.get_json()
    assert set(body) == ERROR_KEYS and body["code"] == response.status_code, (where, body)
    assert isinstance(body["message"], str) and body["message"], where


def _refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "web.security"]


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECTS], ids=["5000 arrays", "400 objects"])
def test_deep_json_is_refused_before_sign_in_with_one_log_line(
    app: Flask, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = app.test_client()
    response = client.post("/api/v1/consents", data=body, content_type="application/json")
    _assert_json_error(response, "api", 400)
    assert "layers" in response.get_json()["message"]
    page = client.post("/sign-in", data=body, content_type="application/json")
    assert page.status_code == 400 and page.mimetype == "text/html"
    refusals = _refusals(caplog)
    assert len(refusals) == 2
    for record in refusals:
        assert record.levelno == logging.WARNING and record.exc_info is None
        assert "\n" not in record.getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_half_a_surrogate_pair_is_refused_by_field_and_nothing_is_saved(
    app: Flask, world: World, login: Callable[..., Any], db_session: Session
) -> None:
    person = app.test_client()
    login(person, world.users["person_a"])
    response = person.patch(
        "/api/v1/me/profile", data=SURROGATE, content_type="application/json", headers=HEADERS
    )
    _assert_json_error(response, "profile", 400)
    assert "aspirations_text" in response.get_json()["errors"]
    assert "Aspiration-of-Ariadne" in person.get("/api/v1/me/profile").get_data(as_text=True)

    advocate = app.test_client()
    login(advocate, world.users["advocate"])
    consents = db_session.scalar(select(func.count()).select_from(Consent))
    events = db_session.scalar(select(func.count()).select_from(AuditEvent))
    for body in ('{"who": "x\\ud800y"}', '{"x\\udfff": 1}'):
        response = advocate.post(
            "/api/v1/consents", data=body, content_type="application/json", headers=HEADERS
        )
        _assert_json_error(response, body, 400)
    assert db_session.scalar(select(func.count()).select_from(Consent)) == consents
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_a_five_thousand_digit_number_is_refused_naming_its_field(
    app: Flask, world: World, login: Callable[..., Any]
) -> None:
    provider = app.test_client()
    login(provider, world.users["provider_x"])
    for digits in (25, 4299, 5000, 100_000):
        response = provider.patch(
            f"/api/v1/provider/offers/{world.ids['offer_x']}",
            data='{"min_need_level": ' + "9" * digits + "}",
            content_type="application/json",
            headers=HEADERS,
        )
        _assert_json_error(response, digits, 422)
        assert response.get_json()["errors"] == {"min_need_level": ["This number is too big."]}


@pytest.mark.parametrize(
    "target", ["/person/%0d%0aSet-Cookie:%20x=1", "/person/%0aX", "/%09/evil.example"]
)
def test_control_characters_in_next_go_home_with_the_cookie_set(
    app: Flask, world: World, target: str
) -> None:
    client = app.test_client()
    page = client.get(f"/sign-in?next={target}")
    response = client.post(
        f"/sign-in?next={target}",
        data={
            "csrf_token": csrf_token(page),
            "email": world.users["person_a"].email,
            "password": "correct horse battery staple",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/person/"
    assert client.get_cookie("tapestry_session") is not None
    assert client.get("/person/").status_code == 200


# --- the fuzzer ----------------------------------------------------------------------------

_NAMES = st.sampled_from(
    ["aspirations_text", "who", "price_pence", "capacity", "offer_ids", "places", "title",
     "amount_pence", "min_need_level", "status", "email", "password", "csrf_token", "x"]
)  # fmt: skip
_BROKEN_TEXT = st.text(
    st.one_of(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), st.just("\x00")),
    min_size=1,
    max_size=3,
).flatmap(lambda bad: st.text(max_size=5).map(lambda good: good + bad + good))


def _nested(depth: int, inner: str, kind: str) -> str:
    if kind == "array":
        return "[" * depth + inner + "]" * depth
    return '{"a":' * depth + inner + "}" * depth


_HOSTILE_JSON = st.one_of(
    # Deeper than any body the site reads.
    st.builds(
        _nested,
        st.integers(33, 3000),
        st.sampled_from(["", "1", '"x"']),
        st.sampled_from(["array", "object"]),
    ),  # fmt: skip
    # Half a surrogate pair or NUL, as a value or a key.
    st.builds(lambda name, text: json.dumps({name: text}), _NAMES, _BROKEN_TEXT),
    st.builds(lambda name, text: json.dumps({text: 1, name: "a"}), _NAMES, _BROKEN_TEXT),
    # Whole numbers longer than any column holds, even past Python's 4,300-digit limit.
    st.builds(
        lambda name, n: '{"' + name + '": ' + "9" * n + "}", _NAMES, st.integers(20, 6000)
    ),  # fmt: skip
)
# Whatever else: odd values in known fields, not JSON at all, not UTF-8.
_ODD_JSON = st.one_of(
    st.dictionaries(
        _NAMES,
        st.recursive(
            st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=3), inner, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=4,
    ).map(json.dumps),
    st.binary(max_size=40),
    st.sampled_from(["NaN", '{"a": Infinity}', "", "{", "[1,]", '"\\ud800"', "1e999999"]),
)


def _api_operations(app: Flask, world: World) -> list[tuple[str, str]]:
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    operations = []
    for path, item in spec["paths"].items():
        for method in item:
            if method.upper() in UNSAFE:
                concrete = path
                for name, key in PATH_IDS.items():
                    concrete = concrete.replace(f"{{{name}}}", str(world.ids[key]))
                operations.append((method.upper(), concrete))
    assert len(operations) >= 15
    return operations


def _page_posts(app: Flask, world: World) -> list[tuple[str, str]]:
    """Every page address that takes a post, with the world's ids in it."""
    posts = []
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) & UNSAFE
        if not methods or rule.rule.startswith("/api/"):
            continue
        url = rule.rule
        for argument in rule.arguments:
            url = url.replace(f"<int:{argument}>", str(world.ids["offer_x"]))
            url = url.replace(f"<{argument}>", "x")
        posts.extend((method, url) for method in sorted(methods))
    assert ("POST", "/sign-in") in posts
    return posts


def test_hostile_raw_bodies_never_crash_anything(
    app: Flask, world: World, login: Callable[..., Any], db_connection: Connection
) -> None:
    jars = _cookies(app, world, login)
    clients = {actor: _api_client(app, cookies) for actor, cookies in jars.items()}
    api = _api_operations(app, world)
    pages = _page_posts(app, world)

    @settings(
        max_examples=250,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.generate],
    )
    @given(
        target=st.one_of(
            st.tuples(st.sampled_from(api), st.sampled_from(sorted(clients))),
            st.tuples(st.sampled_from(pages), st.just("anonymous")),
        ),
        hostile=st.booleans(),
        data=st.data(),
    )
    def check(target: tuple[tuple[str, str], str], hostile: bool, data: Any) -> None:
        (method, url), actor = target
        body = data.draw(_HOSTILE_JSON if hostile else _ODD_JSON)
        content_type = data.draw(
            st.sampled_from(["application/json", "application/json; charset=utf-8"])
        )
        savepoint = db_connection.begin_nested()
        try:
            response = clients[actor].open(
                url, method=method, data=body, content_type=content_type, headers=HEADERS
            )
        finally:
            savepoint.rollback()
        where = (method, url, actor, body[:80])
        assert response.status_code < 500, where
        if hostile:
            assert 400 <= response.status_code < 500, where
        if url.startswith("/api/") and response.status_code >= 400:
            _assert_json_error(response, where)

    check()
