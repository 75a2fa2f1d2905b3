"""Hostile input against the JSON API: generated requests from its OpenAPI document.

schemathesis turns ``/api/v1/openapi.json`` into hypothesis strategies, valid (positive) and
invalid (negative), for every operation. Each generated request is sent through the WSGI app,
signed in as someone who may use that operation (valid ones signed out and as every other
role too), with the world's real ids in the path, inside a savepoint that is rolled back.
Whatever is sent, the API never answers 5xx, every 4xx has the JSON error body ``{code,
status, message, errors}``, and every answer passes schemathesis's checks (all but those in
``EXCLUDED_CHECKS``). Unknown fields are refused by name, and bodies above the size limit
answer 413 in the same shape.

Bounded: a few examples per operation and mode, no deadline, so it runs in a minute or two.
The test command runs it on SQLite and again on PostgreSQL (``scripts/test``), whose columns
refuse what SQLite stores (long text, integers past 32 or 64 bits, NUL): those values are put
in every field of a valid body, and a refused request must leave every table as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import hypothesis
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS
from schemathesis.core.failures import FailureGroup
from schemathesis.hooks import HookDispatcher, HookScope
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from models import Base
from models.people import REFERENCE_ALPHABET, AgeBand, reference_check_symbol
from models.rounds import Round
from tests.security.world import AREAS, TAGS, World
from web.services import rounds
from web.services.openreferral import COUNCIL_TERM, record_id

MAX_EXAMPLES = 8
# Each role that is not the operation's caller gets fewer: those answers are mostly 403.
OTHER_ROLE_EXAMPLES = 2
ROLES = ["person_a", "advocate", "provider_x", "commissioner", "admin"]
# Every schemathesis check runs on every answer, except two that are meaningless here, because
# we sign in with a real session cookie given to each call rather than through the document's
# security scheme: ``ignored_auth`` re-sends the request without that scheme's cookie but
# without our headers too, so it only meets the CSRF guard (signed-out calls are sent
# separately below and must be refused cleanly); and in negative mode schemathesis often makes
# only that cookie "invalid", which the real cookie then replaces, so
# ``negative_data_rejection`` would call a valid request invalid data.
EXCLUDED_CHECKS = {"ignored_auth", "negative_data_rejection"}
# Every operation's document states what it accepts, so ``positive_data_acceptance`` runs on
# all of them: a request that clashes with what is stored answers 409, which the check accepts.
# An operation whose rules the document cannot state yet would go here, with the reason.
UNSTATED_RULES: set[str] = set()
HEADERS = {"X-Requested-With": "schemathesis"}


@st.composite
def _references(draw: st.DrawFn) -> str:
    body = draw(st.text(alphabet=REFERENCE_ALPHABET, min_size=8, max_size=8))
    return f"P{body}{reference_check_symbol(body)}"


# The document's own formats (each described where it is used), for generating valid values.
schemathesis.openapi.format("email-or-reference", st.one_of(st.emails(), _references()))
schemathesis.openapi.format("outcome-tag", st.sampled_from(sorted(TAGS)))
schemathesis.openapi.format("council-area", st.sampled_from(AREAS))
schemathesis.openapi.format("served-area", st.sampled_from(AREAS))
schemathesis.openapi.format(
    "rule-attribute", st.sampled_from(["area", "age_band", "need_band", "ethnicity"])
)
schemathesis.openapi.format("rule-group", st.text(min_size=1, max_size=12))
schemathesis.openapi.format(
    "council-term", st.integers(1, 99).map(lambda n: record_id(COUNCIL_TERM, n))
)
# The world's published offers and the groups of each attribute people of the open round are
# in, set by each test (they differ between worlds).
PUBLISHED_OFFERS: list[int] = []
RULE_GROUPS: dict[str, list[str]] = {}
# The ids of the terms of the world's council taxonomy (format ``council-term``).
COUNCIL_TERMS: list[str] = []


def _world_values(ctx: Any, body: Any) -> Any:
    """Valid bodies name the world's stored things where the document can only describe them.

    OpenAPI 3.0 has no ``propertyNames``, so schemathesis ignores the document's "offer id"
    keys of ``places``; it sometimes puts a string the document mentions elsewhere into a
    field whose format names stored values (``served-area``, ``council-term``); and pairs of
    bounds that the document says must be in order (``min_age_band`` .. ``max_age_band``),
    fields that depend on others (further areas need a main one; a rule's groups are groups of
    its attribute; the stable mechanism allows 1 place each) and "at most one
    maximize_min_coverage rule" have no OpenAPI 3.0 keyword. These are put right here, in
    positive mode only, as the document says them in words, so ``positive_data_acceptance``
    tests what the API does with valid data.
    """
    if not isinstance(body, dict):
        return body
    body = dict(body)
    if isinstance(body.get("places"), dict):
        counts = list(body["places"].values())
        body["places"] = {
            str(offer): count for offer, count in zip(PUBLISHED_OFFERS, counts, strict=False)
        }
    if isinstance(body.get("area"), str) and body["area"] not in AREAS:
        body["area"] = AREAS[len(body["area"]) % len(AREAS)]
    if isinstance(body.get("council_terms"), list) and COUNCIL_TERMS:
        body["council_terms"] = COUNCIL_TERMS[: len(body["council_terms"])]
    if body.get("other_areas") and not body.get("area"):
        body["area"] = AREAS[0]  # "they need a main area"
    for low, high, order in (
        ("min_age_band", "max_age_band", [band.value for band in AgeBand]),
        ("min_need_level", "max_need_level", None),
    ):
        pair = [body.get(low), body.get(high)]
        if None not in pair:
            pair.sort(key=order.index if order else None)
            body[low], body[high] = pair
    if isinstance(body.get("rules"), list):
        body["rules"] = _world_rules(body["rules"])
    if body.get("mechanism") == "stable" and body.get("max_placements") is not None:
        body["max_placements"] = 1  # "the stable mechanism allows only 1"
    return body


def _world_rules(rules: list[Any]) -> list[Any]:
    """A policy's rules with real groups (format ``rule-group``, the groups of the rule's own
    attribute) and at most one ``maximize_min_coverage``, as the document says in words."""
    out: list[Any] = []
    for rule in rules:
        if not isinstance(rule, dict):
            out.append(rule)
            continue
        rule = dict(rule)
        if rule.get("type") == "maximize_min_coverage" and any(
            isinstance(r, dict) and r.get("type") == "maximize_min_coverage" for r in out
        ):
            continue
        if isinstance(rule.get("values"), list):
            groups = RULE_GROUPS.get(str(rule.get("attribute")), [])
            if groups:
                rule["values"] = [groups[i % len(groups)] for i in range(len(rule["values"]))]
            else:
                del rule["values"]
        out.append(rule)
    return out


WORLD_HOOKS = HookDispatcher(scope=HookScope.TEST)
WORLD_HOOKS.register_hook_with_name(_world_values, "map_body")
ERROR_KEYS = {"code", "status", "message", "errors"}

# Who calls each part of the API (the first matching prefix); public reads go anonymously.
CALLERS = [
    ("/api/v1/me", "person_a"),
    ("/api/v1/allocations/statements/provider", "provider_x"),
    ("/api/v1/allocations/placements", "provider_x"),
    ("/api/v1/allocations", "person_a"),
    ("/api/v1/consents", "advocate"),
    ("/api/v1/provider", "provider_x"),
    ("/api/v1/rounds", "commissioner"),
    ("/api/v1/offers", "anonymous"),
    ("/api/v1/providers", "anonymous"),
    ("/api/v1/market", "anonymous"),
]
# Real objects for path parameters, so generated bodies reach the handlers.
PATH_IDS = {
    "offer_id": "offer_x",
    "provider_id": "provider_x",
    "consent_id": "consent_a",
    "round_id": "open_round",
    "run_id": "run",
    "allocation_id": "offered_a",
    "person_id": "person_b",
}


def _caller(path: str) -> str:
    for prefix, actor in CALLERS:
        if path.startswith(prefix):
            return actor
    raise AssertionError(f"no caller chosen for {path}: add it to CALLERS")


def _cookies(app: Flask, world: World, login: Callable[..., Any]) -> dict[str, dict[str, str]]:
    jars: dict[str, dict[str, str]] = {"anonymous": {}}
    for actor, user in world.users.items():
        client = app.test_client()
        assert login(client, user).status_code == 302
        jars[actor] = {"tapestry_session": client.get_cookie("tapestry_session").value}
    return jars


def assert_error_shape(response: Any, where: str) -> None:
    status = response.status_code
    assert status < 500, f"{where}: {status} {response.text[:300]}"
    if status >= 400:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith("application/json"), f"{where}: {content_type}"
        body = response.json()
        assert isinstance(body, dict) and set(body) == ERROR_KEYS, f"{where}: {body}"
        assert body["code"] == status and isinstance(body["errors"], dict), f"{where}: {body}"
        assert isinstance(body["message"], str) and body["message"], where


def _operations(app: Flask) -> list[Any]:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    return operations


def _checks(label: str) -> list[Any]:
    excluded = set(EXCLUDED_CHECKS)
    if label in UNSTATED_RULES:
        excluded.add("positive_data_acceptance")
    return [check for check in CHECKS.get_all() if check.__name__ not in excluded]


def _fuzzer(
    strategy: Any,
    cookies: dict[str, str],
    mode: str,
    db_connection: Connection,
    checks: list[Any],
    examples: int = MAX_EXAMPLES,
) -> Callable[[], None]:
    """A hypothesis test sending each generated case, in a savepoint rolled back after it, and
    checking the answer with ``checks`` and the one error shape."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.generate],
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        savepoint = db_connection.begin_nested()
        try:
            before = _row_counts(db_connection)
            response = case.call(headers=HEADERS, cookies=cookies)
            where = f"{case.method} {case.formatted_path} ({mode}) query={case.query!r}"
            assert_error_shape(response, where)
            if response.status_code >= 400:  # a refused request changes nothing
                assert _row_counts(db_connection) == before, (
                    f"{where}: {response.status_code}, half-written"
                )
            try:
                case.validate_response(response, checks=checks, headers=HEADERS)
            except FailureGroup as failures:  # a BaseExceptionGroup: name each failure
                raise AssertionError(f"{where}: {failures}") from None
        finally:
            savepoint.rollback()

    return check  # type: ignore[no-any-return]


def _learn_world(world: World, db_session: Session) -> None:
    """Note the world's published offers and the groups people of its open round are in."""
    PUBLISHED_OFFERS[:] = [world.ids["offer_x"], world.ids["offer_y"]]
    COUNCIL_TERMS[:] = [record_id(COUNCIL_TERM, world.ids["council_term"])]
    open_round = db_session.get(Round, world.ids["open_round"])
    assert open_round is not None
    RULE_GROUPS.clear()
    for attribute in rounds.available_attributes(db_session, open_round):
        RULE_GROUPS[attribute] = sorted(rounds.known_groups(db_session, open_round, attribute))
    assert RULE_GROUPS["area"] and RULE_GROUPS["ethnicity"]


@pytest.mark.slow
def test_generated_requests_never_crash_and_errors_have_one_shape(
    app: Flask,
    world: World,
    login: Callable[..., Any],
    db_connection: Connection,
    db_session: Session,
) -> None:
    jars = _cookies(app, world, login)
    _learn_world(world, db_session)
    failures: list[str] = []
    for operation in _operations(app):
        path_parameters = {
            name: world.ids[key]
            for name, key in PATH_IDS.items()
            if f"{{{name}}}" in operation.path
        }
        caller = _caller(operation.full_path)
        checks = _checks(operation.label)
        # As its caller, valid and invalid; signed out and as every other role, valid (each
        # must be refused cleanly, or answered as the document says).
        runs = [(caller, GenerationMode.POSITIVE), (caller, GenerationMode.NEGATIVE)]
        runs += [
            (actor, GenerationMode.POSITIVE) for actor in ["anonymous", *ROLES] if actor != caller
        ]
        for actor, mode in runs:
            strategy = operation.as_strategy(
                generation_mode=mode,
                path_parameters=path_parameters,
                hooks=WORLD_HOOKS if mode is GenerationMode.POSITIVE else None,
            )
            examples = MAX_EXAMPLES if actor in (caller, "anonymous") else OTHER_ROLE_EXAMPLES
            check = _fuzzer(
                strategy, jars[actor], f"{mode.value}, {actor}", db_connection, checks, examples
            )
            try:
                check()
            except hypothesis.errors.Unsatisfiable:
                # Nothing to make invalid: the path's ids are fixed and there is no body.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (AssertionError, hypothesis.errors.HypothesisException) as error:
                failures.append(f"{operation.label} {mode.value} {actor}: {error}")
    assert not failures, "\n\n".join(failures)


def _body_operations(app: Flask) -> list[tuple[str, str]]:
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    found = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in {"post", "put", "patch", "delete"}:
                continue
            content = (op.get("requestBody") or {}).get("content", {})
            if "application/json" in content:
                found.append((method.upper(), path))
    assert found
    return found


def _concrete(path: str, world: World) -> str:
    for name, key in PATH_IDS.items():
        path = path.replace(f"{{{name}}}", str(world.ids[key]))
    return path


def test_unknown_fields_are_refused_by_name(
    app: Flask, world: World, login: Callable[..., Any], db_connection: Connection
) -> None:
    jars = _cookies(app, world, login)
    for method, path in _body_operations(app):
        client = app.test_client()
        for name, value in jars[_caller(path)].items():
            client.set_cookie(name, value)
        savepoint = db_connection.begin_nested()
        try:
            response = client.open(
                _concrete(path, world), method=method, json={"zz_unknown": 1}, headers=HEADERS
            )
        finally:
            savepoint.rollback()
        assert response.status_code == 422, (method, path, response.status_code)
        body = response.get_json()
        assert set(body) == ERROR_KEYS and "zz_unknown" in body["errors"], (method, path, body)
    # Query strings too, where an operation reads one.
    response = app.test_client().get("/api/v1/offers?zz_unknown=1")
    assert response.status_code == 422 and "zz_unknown" in response.get_json()["errors"]


def test_bodies_over_the_limit_answer_413_json(
    app: Flask, world: World, login: Callable[..., Any]
) -> None:
    jars = _cookies(app, world, login)
    big = '{"title": "' + "x" * (app.config["MAX_CONTENT_LENGTH"] + 10) + '"}'
    for method, path in _body_operations(app):
        client = app.test_client()
        for name, value in jars[_caller(path)].items():
            client.set_cookie(name, value)
        response = client.open(
            _concrete(path, world),
            method=method,
            data=big,
            content_type="application/json",
            headers=HEADERS,
        )
        assert response.status_code == 413, (method, path, response.status_code)
        body = response.get_json()
        assert set(body) == ERROR_KEYS and body["code"] == 413


def test_the_nul_character_is_refused_everywhere(
    app: Flask, world: World, login: Callable[..., Any]
) -> None:
    """PostgreSQL cannot store NUL in text: it is refused at the door (400), never a 500."""
    jars = _cookies(app, world, login)
    api = app.test_client()
    for name, value in jars["person_a"].items():
        api.set_cookie(name, value)
    for response in (
        api.get("/api/v1/offers?q=a%00b"),
        api.get("/api/v1/offers?area=%00"),
        api.patch("/api/v1/me/profile", json={"aspirations_text": "a\x00b"}, headers=HEADERS),
        api.put("/api/v1/me/choices", json={"offer_ids": [], "\x00": 1}, headers=HEADERS),
    ):
        assert response.status_code == 400
        body = response.get_json()
        assert set(body) == ERROR_KEYS and "NUL" in body["message"]
    page = api.get("/person/about-me")
    assert api.get("/person/services?q=%00").status_code == 400
    from tests.web.conftest import csrf_token

    response = api.post(
        "/person/about-me",
        data={"csrf_token": csrf_token(page), "aspirations_text": "hello\x00"},
    )
    assert response.status_code == 400  # the page for a bad request, not a crash


def test_numbers_too_big_for_the_database_are_refused(
    app: Flask, world: World, login: Callable[..., Any]
) -> None:
    """A number that does not fit its column is a 422 (body, query) or 404 (URL), never 500."""
    jars = _cookies(app, world, login)
    provider = app.test_client()
    for name, value in jars["provider_x"].items():
        provider.set_cookie(name, value)
    huge = 2**63 - 1
    for url in (f"/api/v1/offers?max_price_pence={huge}", f"/api/v1/offers?provider_id={huge}",
                f"/api/v1/offers?page={2**40}"):  # fmt: skip
        response = app.test_client().get(url)
        assert response.status_code == 422, url
        assert set(response.get_json()) == ERROR_KEYS
    response = provider.put(
        f"/api/v1/provider/offers/{world.ids['offer_x']}/capacity",
        json={"capacity": 2**31},
        headers=HEADERS,
    )
    assert response.status_code == 422 and "capacity" in response.get_json()["errors"]
    assert app.test_client().get(f"/api/v1/offers/{2**40}").status_code == 404
    assert provider.get(f"/provider/offers/{2**40}").status_code == 404


def test_page_forms_with_numbers_too_big_are_refused_not_crashed(
    app: Flask, world: World, login: Callable[..., Any], db_connection: Connection
) -> None:
    from tests.web.conftest import csrf_token

    huge = str(10**20)
    ids = world.ids
    tries = [
        ("person_a", "/person/", "/person/choices/add", {"offer_id": huge}),
        ("person_a", "/person/", "/person/about-me", {"max_travel_km": huge}),
        ("commissioner", "/commissioner/", f"/commissioner/rounds/{ids['open_round']}/places",
         {f"places-{ids['offer_x']}": huge}),
        ("commissioner", "/commissioner/", f"/commissioner/rounds/{ids['open_round']}/budgets",
         {"person_id": huge, "amount": "10"}),
        ("provider_x", "/provider/", f"/provider/offers/{ids['offer_x']}/capacity",
         {"capacity": huge}),
    ]  # fmt: skip
    for actor, home, url, form in tries:
        client = app.test_client()
        login(client, world.users[actor])
        token = csrf_token(client.get(home))
        savepoint = db_connection.begin_nested()
        try:
            response = client.post(url, data={"csrf_token": token, **form})
        finally:
            savepoint.rollback()
        assert response.status_code < 500, (url, response.status_code)


@pytest.mark.parametrize(
    "rule",
    [
        {"type": ["coverage_floor"], "attribute": "area", "min_share": 0.5},
        {"type": {"a": 1}, "attribute": "area"},
        {"type": "coverage_floor", "attribute": ["area"], "min_share": 0.5},
        {"type": "coverage_gap", "attribute": {"area": 1}, "max_gap": 0.1},
        {"type": "maximize_min_coverage", "attribute": 7},
        {"type": "coverage_floor", "attribute": "area", "min_share": [0.5]},
        {"type": "coverage_floor", "attribute": "area", "min_share": 0.5, "values": [["north"]]},
    ],
    ids=lambda rule: repr(rule)[:60],
)
def test_a_rule_with_fields_of_the_wrong_kind_is_refused_by_its_index(
    app: Flask, world: World, login: Callable[..., Any], rule: dict[str, Any]
) -> None:
    """Each rule's fields are checked for their JSON type before anything looks them up."""
    client = app.test_client()
    login(client, world.users["commissioner"])
    url = f"/api/v1/rounds/{world.ids['open_round']}/policy"
    before = client.get(f"/api/v1/rounds/{world.ids['open_round']}").get_json()
    response = client.put(
        url, json={"mechanism": "welfare", "rules": [{"type": "coverage_gap",
        "attribute": "area", "max_gap": 0.5}, rule]}, headers=HEADERS
    )  # fmt: skip
    assert response.status_code == 422, response.text[:300]
    body = response.get_json()
    assert set(body) == ERROR_KEYS and list(body["errors"]) == ["rules-1"], body
    after = client.get(f"/api/v1/rounds/{world.ids['open_round']}").get_json()
    assert after == before


#: JSON values of every kind, put in place of each field of a valid body in turn.
WRONG_KINDS: list[Any] = [None, True, 7, 2.5, "x", [], ["x"], [[1]], {}, {"a": [1]}]
#: Values that fit JSON but not PostgreSQL's columns (SQLite stores them all): text longer than
#: any VARCHAR, integers outside INTEGER and BIGINT, text with a NUL (a lone surrogate, which
#: schemathesis cannot send, is in ``test_hostile_bodies``).
TOO_BIG_FOR_COLUMNS: list[Any] = ["x" * 5000, 2**31, -(2**31) - 1, 2**63, "a\x00b"]


def _paths(value: Any, depth: int = 3) -> list[tuple[Any, ...]]:
    """Every place in a JSON body down to ``depth``: object keys and list indexes."""
    if depth == 0:
        return []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else []
    )
    found: list[tuple[Any, ...]] = []
    for key, inner in items:
        found.append((key,))
        found += [(key, *rest) for rest in _paths(inner, depth - 1)]
    return found  # fmt: skip


def _replaced(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(body))
    inner = copy
    for key in path[:-1]:
        inner = inner[key]
    inner[path[-1]] = value
    return copy


#: Tables that a refused request writes by design: tries are counted (sign-ins, consent
#: requests), and the answer to a request sent with an Idempotency-Key is kept, refusals too,
#: so that sending it again gets the same answer (``web.services.idempotency``).
_COUNTS_TRIES = {"login_throttles", "idempotency_records"}


def _row_counts(connection: Connection) -> dict[str, int]:
    """How many rows each table holds, in one query (a full comparison of every row after
    each of the thousands of requests would take minutes)."""
    tables = [t.name for t in Base.metadata.sorted_tables if t.name not in _COUNTS_TRIES]
    counts = ", ".join(f'(SELECT count(*) FROM "{name}") AS "{name}"' for name in tables)
    return dict(connection.exec_driver_sql(f"SELECT {counts}").one()._mapping)


def _wrong_kinds_fuzzer(
    strategy: Any, cookies: dict[str, str], label: str, db_connection: Connection
) -> Callable[[], None]:
    """A hypothesis test taking two valid bodies and sending each with one place changed to
    each of :data:`WRONG_KINDS`, in a savepoint rolled back after it."""

    @settings(
        max_examples=2,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.generate],
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        if not isinstance(case.body, dict | list):
            return
        valid = case.body
        before = _row_counts(db_connection)  # each try is rolled back to this
        for place in _paths(valid):
            for value in WRONG_KINDS + TOO_BIG_FOR_COLUMNS:
                case.body = _replaced(valid, place, value)
                savepoint = db_connection.begin_nested()
                try:
                    response = case.call(headers=HEADERS, cookies=cookies)
                    where = f"{label} {place}={str(value)[:40]!r}"
                    assert_error_shape(response, where)
                    if response.status_code >= 400:  # a refused request changes nothing
                        assert _row_counts(db_connection) == before, (
                            f"{where}: {response.status_code}, half-written"
                        )
                finally:
                    savepoint.rollback()
        case.body = valid

    return check  # type: ignore[no-any-return]


@pytest.mark.slow
def test_every_field_of_a_valid_body_given_every_kind_of_json_value(
    app: Flask,
    world: World,
    login: Callable[..., Any],
    db_connection: Connection,
    db_session: Session,
) -> None:
    """A valid body with one field (at any depth) made a list, an object, a number, text or
    null, or a value too big for its PostgreSQL column, is answered, or refused in the one
    error shape with nothing written: a field's JSON type is checked before it is used (a
    rule's type as a list once reached a dict lookup: a 500)."""
    jars = _cookies(app, world, login)
    _learn_world(world, db_session)
    failures: list[str] = []
    for operation in _operations(app):
        if operation.method.upper() not in {"POST", "PUT", "PATCH"}:
            continue
        path_parameters = {
            name: world.ids[key]
            for name, key in PATH_IDS.items()
            if f"{{{name}}}" in operation.path
        }
        strategy = operation.as_strategy(
            generation_mode=GenerationMode.POSITIVE,
            path_parameters=path_parameters,
            hooks=WORLD_HOOKS,
        )
        check = _wrong_kinds_fuzzer(
            strategy, jars[_caller(operation.full_path)], operation.label, db_connection
        )
        try:
            check()
        except (AssertionError, hypothesis.errors.HypothesisException) as error:
            failures.append(f"{operation.label}: {str(error)[:600]}")
    assert not failures, "\n\n".join(failures)
