"""Access control: every route and API operation, for every kind of actor.

``MATRIX`` has one row per (method, URL rule) of the app. Each row names the URL to try (with
objects belonging to person A, provider X or the commissioner's council), what to send, and
the expected outcome for each actor:

- ``OK``: let through (200 for a GET; for a change, anything but a refusal: a redirect, or a
  400/409/422 because the test sends a minimal form);
- ``LOGIN``: not signed in (pages redirect to the sign-in page; the API answers 401);
- ``NO``: signed in with the wrong role (403);
- ``HIDE``: someone else's object (404), and the answer does not show the object's name;
- ``MOVED``: sent on elsewhere, not to the sign-in page (a signed-in user asking for the
  sign-in pages goes to their home page).

A route that is not in the matrix, or a row for a route that no longer exists, fails the test,
so every new page must say who may use it. Each request runs in a savepoint that is rolled
back, so the cells cannot change each other's world.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection
from werkzeug.test import TestResponse

from tests.security.world import World
from tests.web.conftest import csrf_token

OK, LOGIN, NO, HIDE, MOVED = "ok", "login", "forbidden", "hidden", "moved"

ACTORS = (
    "anonymous",
    "person_a",
    "person_b",
    "advocate",
    "provider_x",
    "provider_y",
    "commissioner",
    "admin",
)
SIGNED_IN = ACTORS[1:]
API_HEADERS = {"X-Requested-With": "access-matrix"}


@dataclass(frozen=True)
class Row:
    method: str
    rule: str
    path: str  # formatted with World.ids
    expect: dict[str, str]
    form: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    # World.secrets keys that a HIDE answer must not contain.
    secrets: tuple[str, ...] = ()


def only(*allowed: str, hide: tuple[str, ...] = (), anonymous: str = LOGIN) -> dict[str, str]:
    """``allowed`` get OK, ``hide`` get HIDE, other signed-in actors NO."""
    expect = {actor: NO for actor in SIGNED_IN}
    expect["anonymous"] = anonymous
    expect.update({actor: HIDE for actor in hide})
    expect.update({actor: OK for actor in allowed})
    return expect


EVERYONE = {actor: OK for actor in ACTORS}
ANY_SIGNED_IN = only(*SIGNED_IN)
PERSONS = only("person_a", "person_b")
ADVOCATE = only("advocate")
PROVIDERS = only("provider_x", "provider_y")
COMMISSIONER = only("commissioner")
ADMIN = only("admin")
# Objects of person A, provider X: their owner may, the other person or provider gets 404.
A_ONLY = only("person_a", hide=("person_b",))
X_ONLY = only("provider_x", hide=("provider_y",))
A_SECRETS = ("name_a", "needs_a", "aspiration_a", "offer_x")


def rows() -> list[Row]:
    r: list[Row] = []

    def add(method: str, rule: str, expect: dict[str, str], path: str | None = None, **kw: Any):
        r.append(Row(method, rule, path or rule, expect, **kw))

    # -- public pages, assets, the API's documents ------------------------------------------
    add("GET", "/", EVERYONE)
    add("GET", "/accessibility", EVERYONE)
    add("GET", "/cookies", EVERYONE)
    add("GET", "/health", EVERYONE)
    add("GET", "/static/<path:filename>", EVERYONE, "/static/js/govuk-init.js")
    add("GET", "/assets/<path:filename>", EVERYONE, "/assets/images/favicon.ico")
    add("GET", "/api/v1/openapi.json", EVERYONE)
    add("GET", "/api/v1/docs", EVERYONE)
    # The language switch saves the choice and sends everyone back to a page of the site.
    add("GET", "/language/<code>", {a: MOVED for a in ACTORS}, "/language/cy")

    # -- accounts ---------------------------------------------------------------------------
    signed_in_moves = {**{a: MOVED for a in SIGNED_IN}, "anonymous": OK}
    add("GET", "/sign-in", signed_in_moves)
    add("POST", "/sign-in", EVERYONE, form={"email": "nobody@example.org", "password": "x"})
    # The code page is only for a session that has passed the password step.
    add("GET", "/sign-in/code", {**signed_in_moves, "anonymous": LOGIN})
    add("POST", "/sign-in/code", {**EVERYONE, "anonymous": LOGIN}, form={"code": "1"})
    add("POST", "/sign-out", EVERYONE)
    add("GET", "/account/password", ANY_SIGNED_IN)
    add("POST", "/account/password", ANY_SIGNED_IN, form={"current_password": "wrong"})
    add("GET", "/account", ANY_SIGNED_IN)
    add("POST", "/account/confirm-email", ANY_SIGNED_IN)
    add("GET", "/account/confirm/<token>", EVERYONE, "/account/confirm/not-a-link")
    add("GET", "/account/forgot-password", EVERYONE)
    add("POST", "/account/forgot-password", EVERYONE, form={"email": "nobody@example.org"})
    add("GET", "/account/forgot-password/sent", EVERYONE)
    # The link's token goes into the session at once, and the page is shown without it.
    add("GET", "/account/reset/<token>", {a: MOVED for a in ACTORS}, "/account/reset/not-a-link")
    add("GET", "/account/reset", EVERYONE)
    add("POST", "/account/reset", EVERYONE, form={"new_password": "x"})
    add("GET", "/account/notifications", ANY_SIGNED_IN)
    add("POST", "/account/notifications", ANY_SIGNED_IN, form={"channel": "pigeon"})
    add("GET", "/account/language", ANY_SIGNED_IN)
    add("POST", "/account/language", ANY_SIGNED_IN, form={"language": "klingon"})
    add("GET", "/account/sessions", ANY_SIGNED_IN)
    add("POST", "/account/sessions/<int:session_id>/end", ANY_SIGNED_IN,
        "/account/sessions/999999/end")  # fmt: skip
    add("POST", "/account/sessions/end-others", ANY_SIGNED_IN)

    # -- person pages (A's own objects) -----------------------------------------------------
    p = "/person"
    for rule in ("/", "/about-me", "/matches", "/services", "/choices", "/place", "/ideas"):
        add("GET", p + rule, PERSONS)
    add("GET", p + "/ideas/new", PERSONS)
    add("POST", p + "/about-me", PERSONS, form={"max_travel_km": "not a number"})
    add("POST", p + "/ideas/new", PERSONS, form={"title": ""})
    add("POST", p + "/choices/add", PERSONS, form={"offer_id": "{offer_y}"})
    add("GET", p + "/services/<int:offer_id>", PERSONS, p + "/services/{offer_x}")
    add(
        "POST",
        p + "/choices/<int:offer_id>",
        A_ONLY,
        p + "/choices/{offer_x}",
        form={"action": "down"},
    )
    for rule in ("/place/<int:allocation_id>",):
        add("GET", p + rule, A_ONLY, p + "/place/{offered_a}", secrets=A_SECRETS)
        add("POST", p + rule, A_ONLY, p + "/place/{offered_a}", form={"answer": "maybe"})
    add("GET", p + "/place/<int:allocation_id>/rate", A_ONLY, p + "/place/{accepted_a}/rate",
        secrets=A_SECRETS)  # fmt: skip
    add("POST", p + "/place/<int:allocation_id>/rate", A_ONLY, p + "/place/{accepted_a}/rate",
        form={"rating": "9"})  # fmt: skip
    # A's accepted place has started, so giving it up is refused (nothing changes).
    add("GET", p + "/place/<int:allocation_id>/give-up", A_ONLY,
        p + "/place/{accepted_a}/give-up", secrets=A_SECRETS)  # fmt: skip
    add("POST", p + "/place/<int:allocation_id>/give-up", A_ONLY,
        p + "/place/{accepted_a}/give-up")  # fmt: skip
    # Ideas are shared with everyone in the council: B may support A's idea.
    add("POST", p + "/ideas/<int:proposal_id>/support", PERSONS, p + "/ideas/{proposal_a}/support")
    add("GET", p + "/who-can-help-me", PERSONS)
    add("GET", p + "/changes-made-for-you", PERSONS)
    add("GET", p + "/who-can-help-me/<int:consent_id>", A_ONLY, p + "/who-can-help-me/{consent_a}")
    add("POST", p + "/who-can-help-me/<int:consent_id>", A_ONLY,
        p + "/who-can-help-me/{consent_a}", form={"decision": "revoke"})  # fmt: skip

    add("GET", p + "/easy-read", PERSONS)
    add("POST", p + "/easy-read", PERSONS, form={"easy_read": "maybe"})
    add("GET", p + "/my-data/", PERSONS)
    add("GET", p + "/my-data/download", PERSONS)
    add("GET", p + "/my-data/read", PERSONS)
    add("GET", p + "/my-data/print", PERSONS)

    # -- advocate pages; acting for A -------------------------------------------------------
    add("GET", "/advocate/", ADVOCATE)
    add("GET", "/advocate/ask", ADVOCATE)
    add("POST", "/advocate/ask", ADVOCATE, form={"who": ""})
    add("POST", "/advocate/act/<int:person_id>", ADVOCATE, "/advocate/act/{person_a}")
    add("POST", "/advocate/act/stop", ADVOCATE)
    q = "/advocate/acting"
    for rule in ("/", "/about-me", "/matches", "/services", "/choices", "/place", "/ideas"):
        add("GET", q + rule, ADVOCATE)
    add("GET", q + "/ideas/new", ADVOCATE)
    add("POST", q + "/about-me", ADVOCATE, form={"max_travel_km": "not a number"})
    add("POST", q + "/ideas/new", ADVOCATE, form={"title": ""})
    add("POST", q + "/choices/add", ADVOCATE, form={"offer_id": "{offer_y}"})
    add("GET", q + "/services/<int:offer_id>", ADVOCATE, q + "/services/{offer_x}")
    add("POST", q + "/choices/<int:offer_id>", ADVOCATE, q + "/choices/{offer_x}",
        form={"action": "down"})  # fmt: skip
    add("GET", q + "/place/<int:allocation_id>", ADVOCATE, q + "/place/{offered_a}")
    add("POST", q + "/place/<int:allocation_id>", ADVOCATE, q + "/place/{offered_a}",
        form={"answer": "maybe"})  # fmt: skip
    add("GET", q + "/place/<int:allocation_id>/rate", ADVOCATE, q + "/place/{accepted_a}/rate")
    add("POST", q + "/place/<int:allocation_id>/rate", ADVOCATE, q + "/place/{accepted_a}/rate",
        form={"rating": "9"})  # fmt: skip
    add("GET", q + "/place/<int:allocation_id>/give-up", ADVOCATE,
        q + "/place/{accepted_a}/give-up")  # fmt: skip
    add("POST", q + "/place/<int:allocation_id>/give-up", ADVOCATE,
        q + "/place/{accepted_a}/give-up")  # fmt: skip
    add("POST", q + "/ideas/<int:proposal_id>/support", ADVOCATE,
        q + "/ideas/{proposal_a}/support")  # fmt: skip
    add("GET", q + "/easy-read", ADVOCATE)
    add("POST", q + "/easy-read", ADVOCATE, form={"easy_read": "maybe"})

    # -- provider pages (X's offers) --------------------------------------------------------
    v = "/provider"
    for rule in ("/", "/demand", "/placements", "/feedback", "/organisation", "/offers/new"):
        add("GET", v + rule, PROVIDERS)
    add("POST", v + "/organisation", PROVIDERS, form={"name": ""})
    add("GET", v + "/money", PROVIDERS)
    add("GET", v + "/money.csv", PROVIDERS)
    # A's offered place is at X's offer: X may open it (and answer once A says yes).
    add("GET", v + "/placements/<int:allocation_id>", X_ONLY, v + "/placements/{offered_a}")
    add("POST", v + "/placements/<int:allocation_id>", X_ONLY, v + "/placements/{offered_a}",
        form={"action": "confirm"})  # fmt: skip
    add("POST", v + "/offers/new", PROVIDERS, form={"title": ""})
    add("GET", v + "/offers/<int:offer_id>", X_ONLY, v + "/offers/{draft_x}", secrets=("draft_x",))
    # The offer form a question at a time: X's offer, and X's own draft of a new one.
    for method in ("GET", "POST"):
        add(method, v + "/offers/<int:offer_id>/change/<slug>", X_ONLY,
            v + "/offers/{draft_x}/change/name", form={"title": ""},
            secrets=("draft_x",))  # fmt: skip
        add(method, v + "/offers/drafts/<int:draft_id>/<slug>", X_ONLY,
            v + "/offers/drafts/{offer_draft_x}/name", form={"title": ""},
            secrets=("offer_draft_x",))  # fmt: skip
        add(method, v + "/offers/drafts/<int:draft_id>/check", X_ONLY,
            v + "/offers/drafts/{offer_draft_x}/check", secrets=("offer_draft_x",))  # fmt: skip
    add("POST", v + "/offers/<int:offer_id>/status", X_ONLY, v + "/offers/{offer_x}/status",
        form={"action": "withdraw"}, secrets=("offer_x",))  # fmt: skip
    add("GET", v + "/offers/<int:offer_id>/capacity", X_ONLY, v + "/offers/{offer_x}/capacity",
        secrets=("offer_x",))  # fmt: skip
    add("POST", v + "/offers/<int:offer_id>/capacity", X_ONLY, v + "/offers/{offer_x}/capacity",
        form={"capacity": "-1"}, secrets=("offer_x",))  # fmt: skip
    add("GET", v + "/offers/<int:offer_id>/schedule", X_ONLY, v + "/offers/{offer_x}/schedule",
        secrets=("offer_x",))  # fmt: skip
    add("POST", v + "/offers/<int:offer_id>/schedule", X_ONLY, v + "/offers/{offer_x}/schedule",
        form={"often": ""}, secrets=("offer_x",))  # fmt: skip
    add("POST", v + "/offers/<int:offer_id>/schedule/<key>/remove", X_ONLY,
        v + "/offers/{offer_x}/schedule/000000000000/remove", secrets=("offer_x",))  # fmt: skip

    # -- commissioner pages (their council's rounds) ----------------------------------------
    c = "/commissioner"
    rnd = c + "/rounds/{published_round}"
    add("GET", c + "/", COMMISSIONER)
    add("GET", c + "/voice", COMMISSIONER)
    add("GET", c + "/rounds/new", COMMISSIONER)
    add("POST", c + "/rounds/new", COMMISSIONER, form={"name": ""})
    add("GET", c + "/proposals/<int:proposal_id>", COMMISSIONER, c + "/proposals/{proposal_a}")
    add("POST", c + "/proposals/<int:proposal_id>", COMMISSIONER, c + "/proposals/{proposal_a}",
        form={"status": ""})  # fmt: skip
    for rule in ("", "/compare", "/money", "/money.csv", "/budgets", "/budgets/import",
                 "/places", "/policy", "/edit", "/cycle"):  # fmt: skip
        add("GET", c + "/rounds/<int:round_id>" + rule, COMMISSIONER, rnd + rule)
    for rule in ("/budgets", "/budgets/import", "/places", "/policy", "/edit", "/open",
                 "/close", "/runs"):  # fmt: skip
        add("POST", c + "/rounds/<int:round_id>" + rule, COMMISSIONER, rnd + rule)
    run = "/rounds/<int:round_id>/runs/<int:run_id>"
    for rule in ("", "/instance.json", "/result.json", "/people", "/unplaced", "/results.csv"):
        add("GET", c + run + rule, COMMISSIONER, rnd + "/runs/{run}" + rule)
    add("GET", c + run + "/people/<int:person_id>", COMMISSIONER,
        rnd + "/runs/{run}/people/{person_a}")  # fmt: skip
    add("POST", c + run + "/publish", COMMISSIONER, rnd + "/runs/{run}/publish")
    # "Are you sure?" pages; the round is published, so they send the commissioner back to it.
    sent_back = {**COMMISSIONER, "commissioner": MOVED}
    add("GET", c + run + "/publish", sent_back, rnd + "/runs/{run}/publish")
    add("GET", c + "/rounds/<int:round_id>/close", sent_back, rnd + "/close")
    add("GET", c + "/rounds/<int:round_id>/open", sent_back, rnd + "/open")
    add("GET", c + "/rounds/<int:round_id>/held", COMMISSIONER, rnd + "/held")
    held = "/rounds/<int:round_id>/held/<int:allocation_id>"
    add("GET", c + held, COMMISSIONER, rnd + "/held/{offered_a}")
    add("POST", c + held, COMMISSIONER, rnd + "/held/{offered_a}", form={"choice": ""})

    # -- admin ------------------------------------------------------------------------------
    add("GET", "/admin/", ADMIN)
    add("GET", "/admin/erasure/", ADMIN)
    add("GET", "/admin/erasure/<int:user_id>", ADMIN, "/admin/erasure/{user_a}")
    add("POST", "/admin/erasure/<int:user_id>", ADMIN, "/admin/erasure/{user_a}",
        form={"reason": ""})  # fmt: skip

    # -- API --------------------------------------------------------------------------------
    api = "/api/v1"
    add("GET", api + "/me", ANY_SIGNED_IN)
    add("GET", api + "/me/export", ANY_SIGNED_IN)
    add("GET", api + "/me/profile", PERSONS)
    add("PATCH", api + "/me/profile", PERSONS, json={"max_travel_km": 5})
    add("GET", api + "/me/choices", PERSONS)
    add("PUT", api + "/me/choices", PERSONS, json={"offer_ids": []})
    add("GET", api + "/consents", only("person_a", "person_b", "advocate"))
    # Only advocates ask; persons answer.
    add("POST", api + "/consents", ADVOCATE,
        json={"who": "nobody@example.org", "scopes": ["view"]})  # fmt: skip
    add("GET", api + "/consents/<int:consent_id>", only("person_a", "advocate", hide=("person_b",)),
        api + "/consents/{consent_a}", secrets=("name_a",))  # fmt: skip
    add("PATCH", api + "/consents/<int:consent_id>", only("person_a", hide=("person_b",)),
        api + "/consents/{consent_a}", json={"status": "revoked"}, secrets=("name_a",))  # fmt: skip
    add("GET", api + "/offers", EVERYONE)
    add("GET", api + "/offers/<int:offer_id>", EVERYONE, api + "/offers/{offer_x}")
    add("GET", api + "/providers", EVERYONE)
    add("GET", api + "/providers/<int:provider_id>", EVERYONE, api + "/providers/{provider_x}")
    add("GET", api + "/provider/offers", PROVIDERS)
    add("POST", api + "/provider/offers", PROVIDERS, json={"title": ""})
    add("GET", api + "/provider/offers/<int:offer_id>", X_ONLY, api + "/provider/offers/{draft_x}",
        secrets=("draft_x",))  # fmt: skip
    add("PATCH", api + "/provider/offers/<int:offer_id>", X_ONLY,
        api + "/provider/offers/{draft_x}", json={"capacity": 4}, secrets=("draft_x",))  # fmt: skip
    add("PUT", api + "/provider/offers/<int:offer_id>/capacity", X_ONLY,
        api + "/provider/offers/{offer_x}/capacity", json={"capacity": 5},
        secrets=("offer_x",))  # fmt: skip

    # Rounds (commissioners of the round's council) and places and money.
    rr = api + "/rounds/<int:round_id>"
    rp = api + "/rounds/{published_round}"
    add("GET", api + "/rounds", COMMISSIONER)
    add("POST", api + "/rounds", COMMISSIONER, json={"name": ""})
    add("GET", rr, COMMISSIONER, rp)
    add("PUT", rr + "/places", COMMISSIONER, rp + "/places", json={"places": {}})
    add("PUT", rr + "/policy", COMMISSIONER, rp + "/policy", json={"mechanism": "welfare"})
    add("POST", rr + "/open", COMMISSIONER, rp + "/open")
    add("POST", rr + "/close", COMMISSIONER, rp + "/close")
    add("PUT", rr + "/budgets/<int:person_id>", COMMISSIONER, rp + "/budgets/{person_a}",
        json={"amount_pence": 1000})  # fmt: skip
    add("GET", rr + "/runs", COMMISSIONER, rp + "/runs")
    add("POST", rr + "/runs", COMMISSIONER, rp + "/runs", json={})
    for rule in ("", "/instance", "/result", "/explanations", "/rule-prices", "/place-values"):
        add("GET", rr + "/runs/<int:run_id>" + rule, COMMISSIONER, rp + "/runs/{run}" + rule)
    add("GET", rr + "/runs/<int:run_id>/explanations/<int:person_id>", COMMISSIONER,
        rp + "/runs/{run}/explanations/{person_a}")  # fmt: skip
    add("POST", rr + "/runs/<int:run_id>/publish", COMMISSIONER, rp + "/runs/{run}/publish")
    add("GET", rr + "/statement", COMMISSIONER, rp + "/statement")
    add("GET", rr + "/cycle", COMMISSIONER, rp + "/cycle")
    add("GET", rr + "/held-places", COMMISSIONER, rp + "/held-places")
    hp = "/held-places/<int:allocation_id>"
    add("POST", rr + hp + "/move", COMMISSIONER, rp + "/held-places/{offered_a}/move",
        json={"to_offer_id": 1, "reason": ""})  # fmt: skip
    add("POST", rr + hp + "/release", COMMISSIONER, rp + "/held-places/{offered_a}/release",
        json={"reason": ""})  # fmt: skip
    al = api + "/allocations"
    add("GET", al + "/mine", PERSONS)
    for verb in ("accept", "decline"):
        add("POST", al + "/<int:allocation_id>/" + verb, A_ONLY, al + "/{offered_a}/" + verb,
            secrets=A_SECRETS)  # fmt: skip
    add("GET", al + "/statements/mine/<int:round_id>", PERSONS,
        al + "/statements/mine/{published_round}")  # fmt: skip
    add("GET", al + "/statements/provider", PROVIDERS)
    # A's offered place: giving it up is refused (409), as it is not accepted.
    add("POST", al + "/<int:allocation_id>/give-up", A_ONLY, al + "/{offered_a}/give-up",
        secrets=A_SECRETS)  # fmt: skip
    add("GET", al + "/placements", PROVIDERS)
    add("GET", al + "/statements/provider/by-month", PROVIDERS)
    # A's offered place is at X's offer: X is answered 409 (A has not said yes), Y 404.
    add("POST", al + "/placements/<int:allocation_id>/confirm", X_ONLY,
        al + "/placements/{offered_a}/confirm", json={"start_date": "2027-01-18"})  # fmt: skip
    add("POST", al + "/placements/<int:allocation_id>/decline", X_ONLY,
        al + "/placements/{offered_a}/decline", json={"reason": "No room"})  # fmt: skip

    # -- the Open Referral UK feed: public, read-only, for everyone ------------------------
    oruk, feed = "/openreferral/<council_slug>", "/openreferral/westmere"
    # Public ids carry the record's kind and database id (web.services.openreferral).
    one = {
        "services": ("service_id", "00000001-7a95-8e57-8000-{offer_x:012x}"),
        "service_at_locations": (
            "service_at_location_id",
            "00000004-7a95-8e57-8000-{offer_x:012x}",
        ),
        "taxonomies": ("taxonomy_id", "00000005-7a95-8e57-8000-000000000001"),
        "taxonomy_terms": ("taxonomy_term_id", "00000006-7a95-8e57-8000-000000000001"),
    }
    add("GET", oruk + "/", EVERYONE, feed + "/")
    add("GET", oruk + "/openapi.json", EVERYONE, feed + "/openapi.json")
    for name, (param, public_id) in one.items():
        add("GET", f"{oruk}/{name}", EVERYONE, f"{feed}/{name}")
        add("GET", f"{oruk}/{name}/<path:{param}>", EVERYONE, f"{feed}/{name}/{public_id}")

    # -- bringing in services from another Open Referral directory --------------------------
    for who, prefix in ((COMMISSIONER, "/commissioner"), (PROVIDERS, "/provider")):
        add("GET", prefix + "/directory/import", who)
        add("POST", prefix + "/directory/import", who, form={"address": ""})
    # The council's own service types (Open Referral taxonomies): its commissioners only.
    add("GET", "/commissioner/taxonomies", COMMISSIONER)
    add("POST", "/commissioner/taxonomies", COMMISSIONER)
    # Each import's report is its importer's own; no import is numbered 999999, so it is 404.
    add("GET", "/commissioner/directory/imports/<int:record_id>", only(hide=("commissioner",)),
        "/commissioner/directory/imports/999999")  # fmt: skip
    add("GET", "/provider/directory/imports/<int:record_id>",
        only(hide=("provider_x", "provider_y")), "/provider/directory/imports/999999")  # fmt: skip

    # -- the market position statement: public figures, for everyone ----------------------
    add("GET", "/market", EVERYONE)
    add("GET", "/market/<council_slug>", EVERYONE, "/market/westmere")
    add(
        "GET",
        "/market/<council_slug>/<any(demand, waiting, unmet, prices):table>.csv",
        EVERYONE,
        "/market/westmere/demand.csv",
    )
    add("GET", api + "/market/<council_slug>", EVERYONE, api + "/market/westmere")
    return r


MATRIX = rows()


def _route_keys(app: Flask) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }


def test_every_route_and_operation_is_in_the_matrix(app: Flask) -> None:
    routes = _route_keys(app)
    listed = [(row.method, row.rule) for row in MATRIX]
    assert len(listed) == len(set(listed)), "a route is listed twice"
    missing = sorted(routes - set(listed))
    stale = sorted(set(listed) - routes)
    assert not missing, f"routes with no row in the access matrix: {missing}"
    assert not stale, f"matrix rows for routes that do not exist: {stale}"


def test_every_row_names_every_actor() -> None:
    for row in MATRIX:
        assert set(row.expect) == set(ACTORS), (row.method, row.rule)


@dataclass
class Credentials:
    cookies: dict[str, str]
    csrf: str


def _credentials(client: FlaskClient) -> dict[str, str]:
    names = ("tapestry_session", "tapestry_state")
    return {n: c.value for n in names if (c := client.get_cookie(n)) is not None}


def _sign_in_all(
    app: Flask, world: World, login: Callable[..., Any], only: str | None = None
) -> dict[str, Credentials]:
    """Everyone's credentials (signed out, and each of the world's users signed in through
    the form); only that actor's (and the signed-out ones) when ``only`` names one, so a test
    that needs one actor does not pay for every password check."""
    creds: dict[str, Credentials] = {}
    anonymous = app.test_client()
    creds["anonymous"] = Credentials({}, "")
    page = anonymous.get("/sign-in")
    creds["anonymous"] = Credentials(_credentials(anonymous), csrf_token(page))
    for actor, user in world.users.items():
        if only is not None and actor != only:
            continue
        client = app.test_client()
        response = login(client, user)
        assert response.status_code == 302, (actor, response.status_code)
        home = client.get(response.headers["Location"])
        assert home.status_code == 200, actor
        token = csrf_token(home)
        if actor == "advocate":
            started = client.post(
                f"/advocate/act/{world.ids['person_a']}", data={"csrf_token": token}
            )
            assert started.status_code == 302
        creds[actor] = Credentials(_credentials(client), token)
    return creds


def _classify(response: TestResponse, is_api: bool, method: str) -> str:
    status = response.status_code
    if status == 401 and is_api:
        return LOGIN
    if status == 302 and "/sign-in" in response.headers.get("Location", ""):
        return LOGIN
    if status == 302 and method == "GET":
        return MOVED
    if status == 403:
        return NO
    if status == 404:
        return HIDE
    if status >= 500:
        return f"error {status}"
    if method == "GET":
        return OK if status == 200 else f"unexpected {status}"
    if status in (200, 201, 202, 204, 302, 303, 400, 409, 422):
        return OK
    if status == 401 and not is_api:
        return OK  # the sign-in form's answer to a wrong password
    return f"unexpected {status}"


def _send(app: Flask, creds: Credentials, row: Row, path: str) -> TestResponse:
    client = app.test_client()
    for name, value in creds.cookies.items():
        client.set_cookie(name, value)
    is_api = path.startswith("/api/")
    if is_api:
        return client.open(path, method=row.method, json=row.json, headers=API_HEADERS)
    if row.method == "GET":
        return client.get(path)
    form = {k: v.format(**_IDS) if isinstance(v, str) else v for k, v in row.form.items()}
    return client.open(path, method=row.method, data={"csrf_token": creds.csrf, **form})


_IDS: dict[str, int] = {}


@pytest.mark.slow
def test_access_matrix(
    app: Flask, world: World, login: Callable[..., Any], db_connection: Connection
) -> None:
    creds = _sign_in_all(app, world, login)
    _IDS.clear()
    _IDS.update(world.ids)
    failures: list[str] = []
    for row in MATRIX:
        path = row.path.format(**world.ids)
        for actor in ACTORS:
            savepoint = db_connection.begin_nested()
            try:
                response = _send(app, creds[actor], row, path)
                body = response.get_data().decode("utf-8", "replace")
                response.close()
            finally:
                savepoint.rollback()
            got = _classify(response, path.startswith("/api/"), row.method)
            want = row.expect[actor]
            cell = f"{row.method} {path} as {actor}"
            if got != want:
                failures.append(f"{cell}: expected {want}, got {got} ({response.status_code})")
            elif got == HIDE:
                for key in row.secrets:
                    if world.secrets[key] in body:
                        failures.append(f"{cell}: the 404 shows {key}")
    assert not failures, "\n".join(failures)


def test_a_commissioner_cannot_reach_another_councils_rounds(
    app: Flask, world: World, login: Callable[..., Any], db_connection: Connection
) -> None:
    """Rounds, runs, budgets and ideas of another council answer 404 and show nothing of it."""
    from tests import factories

    other = factories.CouncilFactory(name="Zephyrdale Council")
    round_ = factories.RoundFactory(council=other, name="Zephyr-Round", status="published")
    run = factories.SolverRunFactory(round=round_)
    person = factories.PersonProfileFactory(user__council=other)
    proposal = factories.ProposalFactory(council=other, title="Zephyr-Idea")
    factories.BudgetFactory(round=round_, person=person)
    ids = {
        **world.ids,
        "published_round": round_.id,
        "open_round": round_.id,
        "run": run.id,
        "proposal_a": proposal.id,
        "person_a": person.id,
    }
    creds = _sign_in_all(app, world, login, only="commissioner")["commissioner"]
    _IDS.clear()
    _IDS.update(ids)
    failures = []
    checked = 0
    for row in MATRIX:
        if "{" not in row.path or row.expect["commissioner"] != OK:
            continue
        if not row.rule.startswith(("/commissioner/", "/api/v1/rounds/")):
            continue
        path = row.path.format(**ids)
        savepoint = db_connection.begin_nested()
        try:
            response = _send(app, creds, row, path)
            body = response.get_data().decode("utf-8", "replace")
        finally:
            savepoint.rollback()
        checked += 1
        if response.status_code != 404:
            failures.append(f"{row.method} {path}: {response.status_code}")
        elif "Zephyr" in body:
            failures.append(f"{row.method} {path}: the 404 names the other council's object")
    assert checked > 20
    assert not failures, "\n".join(failures)
