"""The load test's personas still fit the site: each one's steps, through the Flask test client.

``loadtests/locustfile.py`` finds its way by reading pages (CSRF tokens, links to services,
the capacity field, the choice forms). This walks every persona's steps once on a small demo
council, with the locustfile's own helpers, so a page change that would blind the load test
fails here instead of in a two-minute run.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pyotp
import pytest
from flask.testing import FlaskClient

from models import Role, Round
from web import create_app
from web.db import session_scope
from web.demo import build_demo_database

PAGES = Path(__file__).resolve().parents[2] / "loadtests" / "pages.py"


@pytest.fixture(scope="module")
def locustfile() -> ModuleType:
    # The locustfile's page helpers (loadtests/pages.py); the locustfile itself imports
    # locust, whose gevent monkey-patching must stay out of the test process.
    spec = importlib.util.spec_from_file_location("tapestry_load_pages", PAGES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    folder = tmp_path_factory.mktemp("load-demo")
    url, logins = build_demo_database(persons=30, seed=2027, folder=folder)
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "locustfile test",
            "SESSION_COOKIE_SECURE": False,
            "AUTO_UPGRADE_DB": False,
            "INSTANCE_PATH": str(folder),
        }
    )
    return app, logins


def _sign_in(lf: ModuleType, client: FlaskClient, email: str, password: str) -> Any:
    form = client.get("/sign-in").get_data(as_text=True)
    data = {
        "email": email,
        "password": password,
        "csrf_token": lf.csrf_token(form),
        "form_token": lf.form_token(form),
    }
    return client.post("/sign-in", data=data, follow_redirects=True)


@pytest.mark.slow
def test_every_persona_finds_its_way(locustfile: ModuleType, demo: tuple[Any, Any]) -> None:
    lf = locustfile
    app, logins = demo

    with app.test_client() as person:
        assert _sign_in(lf, person, logins.accounts[Role.person], logins.password).request.path == (
            "/person/"
        )
        offers = lf.OFFER_LINK.findall(person.get("/person/services").get_data(as_text=True))
        assert offers
        page = person.get(f"/person/services/{offers[0]}")
        added = person.post(
            "/person/choices/add",
            data={
                "offer_id": offers[0],
                "csrf_token": lf.csrf_token(page.get_data(as_text=True)),
                "form_token": lf.form_token(page.get_data(as_text=True)),
            },
        )
        # Done (302), or an answer shown on the next page (303: post/redirect/get).
        assert added.status_code in (302, 303)
        mine = person.get("/person/choices").get_data(as_text=True)
        assert lf.CHOICE_FORM.findall(mine)
        for path in ("/person/", "/person/matches"):
            assert person.get(path).status_code == 200

    with app.test_client() as provider:
        _sign_in(lf, provider, logins.accounts[Role.provider], logins.password)
        home = provider.get("/provider/").get_data(as_text=True)
        offer_id = lf.CAPACITY_LINK.findall(home)[0]
        form = provider.get(f"/provider/offers/{offer_id}/capacity").get_data(as_text=True)
        assert lf.CAPACITY_VALUE.search(form)
        changed = provider.post(
            f"/provider/offers/{offer_id}/capacity",
            data={
                "capacity": "7",
                "csrf_token": lf.csrf_token(form),
                "form_token": lf.form_token(form),
            },
        )
        assert changed.status_code == 302

    with app.test_client() as commissioner:
        answer = _sign_in(lf, commissioner, logins.accounts[Role.commissioner], logins.password)
        assert answer.request.path == "/sign-in/code"
        code = pyotp.TOTP(logins.totp_secrets[Role.commissioner]).now()
        html = answer.get_data(as_text=True)
        data = {"code": code, "csrf_token": lf.csrf_token(html), "form_token": lf.form_token(html)}
        assert commissioner.post("/sign-in/code", data=data).status_code == 302
        with session_scope(app) as session:
            past = session.get(Round, logins.counts["past_round_id"])
            assert past is not None
            results = f"/commissioner/rounds/{past.id}/runs/{past.published_run_id}"
        for path in (
            "/commissioner/",
            f"/commissioner/rounds/{logins.counts['open_round_id']}",
            results,
            f"/commissioner/rounds/{past.id}/money",
            "/commissioner/voice",
        ):
            assert commissioner.get(path).status_code == 200, path

    with app.test_client() as api:
        _sign_in(lf, api, logins.accounts[Role.person], logins.password)
        items = api.get("/api/v1/offers?page=1&per_page=20").get_json()["items"]
        for path in (
            f"/api/v1/offers/{items[0]['id']}",
            "/api/v1/me/choices",
            "/api/v1/me",
            "/api/v1/allocations/mine",
        ):
            assert api.get(path).status_code == 200, path
        put = api.put(
            "/api/v1/me/choices",
            json={"offer_ids": [items[0]["id"]]},
            headers={"X-Requested-With": "test"},
        )
        assert put.status_code in (200, 409, 422)
