"""Accounts: sign-in limits shared by separate workers, replayed cookies, timeouts through the
API, one-time codes for staff, and the security headers on every personal page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import utcnow
from models.accounts import UserSession
from models.db import make_engine, make_session_factory
from tests import factories
from tests.factories import DEFAULT_PASSWORD
from tests.security.test_access_matrix import MATRIX, OK
from tests.security.world import World
from tests.web.conftest import csrf_token
from web import create_app
from web.db import database


def _worker(url: str, tmp_path: Path, **config: Any) -> Flask:
    """An app with its own engine and connections, as a separate gunicorn worker would have."""
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "two workers share this key",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": url,
            "AUTO_UPGRADE_DB": False,
            # Posts forms by hand, without their one-time tokens (tests/web/conftest.py).
            "FORM_TOKENS_REQUIRED": False,
            "PAGE_POSTS_REDIRECT": False,
            **config,
        }
    )


@pytest.fixture
def two_workers(fresh_database_url: str, tmp_path: Path) -> Iterator[tuple[Flask, Flask, str]]:
    engine = make_engine(fresh_database_url)
    with make_session_factory(engine)() as session:
        factories.use_session(session)
        try:
            email = factories.UserFactory().email
            session.commit()
        finally:
            factories.use_session(None)
    engine.dispose()
    first = _worker(fresh_database_url, tmp_path, LOGIN_LIMIT_PER_ACCOUNT=4)
    second = _worker(fresh_database_url, tmp_path, LOGIN_LIMIT_PER_ACCOUNT=4)
    try:
        yield first, second, email
    finally:
        database(first).engine.dispose()
        database(second).engine.dispose()


def _try(client: FlaskClient, email: str, password: str) -> int:
    page = client.get("/sign-in")
    return client.post(
        "/sign-in", data={"csrf_token": csrf_token(page), "email": email, "password": password}
    ).status_code


def test_the_account_limit_is_shared_by_separate_workers(
    two_workers: tuple[Flask, Flask, str],
) -> None:
    first, second, email = two_workers
    clients = [first.test_client(), second.test_client()]
    for n in range(4):  # alternate workers (and addresses): 4 wrong guesses in all
        clients[n % 2].environ_base["REMOTE_ADDR"] = f"192.0.2.{n + 1}"
        assert _try(clients[n % 2], email, f"guess {n}") == 401
    # Both workers now refuse even the right password.
    assert _try(clients[0], email, DEFAULT_PASSWORD) == 429
    assert _try(clients[1], email, DEFAULT_PASSWORD) == 429


def test_the_address_limit_is_shared_by_separate_workers(
    fresh_database_url: str, tmp_path: Path
) -> None:
    first = _worker(fresh_database_url, tmp_path, LOGIN_LIMIT_PER_ADDRESS=3)
    second = _worker(fresh_database_url, tmp_path, LOGIN_LIMIT_PER_ADDRESS=3)
    try:
        a, b = first.test_client(), second.test_client()
        assert _try(a, "one@example.org", "x") == 401
        assert _try(b, "two@example.org", "x") == 401
        assert _try(a, "three@example.org", "x") == 401
        assert _try(b, "four@example.org", "x") == 429
    finally:
        database(first).engine.dispose()
        database(second).engine.dispose()


def _signed_in(app: Flask, login: Callable[..., Any], user: Any) -> FlaskClient:
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def _replay(app: Flask, cookie: str) -> FlaskClient:
    client = app.test_client()
    client.set_cookie("tapestry_session", cookie)
    return client


def test_a_cookie_replayed_after_sign_out_or_a_password_change_is_refused(
    app: Flask, world: World, login: Callable[..., Any]
) -> None:
    person = _signed_in(app, login, world.users["person_a"])
    cookie = person.get_cookie("tapestry_session").value
    home = person.get("/person/")
    person.post("/sign-out", data={"csrf_token": csrf_token(home)})
    replay = _replay(app, cookie)
    assert replay.get("/api/v1/me").status_code == 401
    assert replay.get("/person/").status_code == 302

    provider = _signed_in(app, login, world.users["provider_x"])
    other_device = _signed_in(app, login, world.users["provider_x"])
    kept = other_device.get_cookie("tapestry_session").value
    page = provider.get("/account/password")
    changed = provider.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(page),
            "current_password": DEFAULT_PASSWORD,
            "new_password": "a much longer new passphrase 42",
            "confirm_password": "a much longer new passphrase 42",
        },
    )
    assert changed.status_code == 302, changed.get_data(as_text=True)[:500]
    assert _replay(app, kept).get("/api/v1/provider/offers").status_code == 401
    assert provider.get("/api/v1/provider/offers").status_code == 200


def test_idle_and_absolute_timeouts_apply_to_the_api(
    app: Flask, world: World, login: Callable[..., Any], db_session: Session
) -> None:
    client = _signed_in(app, login, world.users["person_a"])
    assert client.get("/api/v1/me").status_code == 200
    row = db_session.scalars(
        select(UserSession).where(UserSession.user_id == world.users["person_a"].id)
    ).one()
    db_session.refresh(row)
    row.last_seen_at = utcnow() - timedelta(minutes=31)
    db_session.flush()
    assert client.get("/api/v1/me").status_code == 401

    client = _signed_in(app, login, world.users["person_b"])
    row = db_session.scalars(
        select(UserSession).where(UserSession.user_id == world.users["person_b"].id)
    ).one()
    db_session.refresh(row)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db_session.flush()
    assert client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("role", ["commissioner", "admin"])
def test_staff_need_the_one_time_code_for_pages_and_api(
    app: Flask, world: World, role: str, db_session: Session
) -> None:
    user = world.users[role]
    client = app.test_client()
    page = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={"csrf_token": csrf_token(page), "email": user.email, "password": DEFAULT_PASSWORD},
    )
    assert response.headers["Location"].endswith("/sign-in/code")
    home = "/commissioner/" if role == "commissioner" else "/admin/"
    assert client.get(home).headers["Location"].endswith("/sign-in/code")
    assert client.get("/api/v1/me").status_code == 401
    page = client.get("/sign-in/code")
    wrong = pyotp.TOTP(pyotp.random_base32()).now()
    assert client.post(
        "/sign-in/code", data={"csrf_token": csrf_token(page), "code": wrong}
    ).status_code in (400, 401)
    assert client.get("/api/v1/me").status_code == 401
    db_session.refresh(user)
    code = pyotp.TOTP(user.totp_secret).now()
    assert (
        client.post(
            "/sign-in/code", data={"csrf_token": csrf_token(page), "code": code}
        ).status_code
        == 302
    )
    assert client.get(home).status_code == 200
    assert client.get("/api/v1/me").get_json()["role"] == role


def _check_headers(response: Any, where: str, cache: str = "no-store") -> None:
    headers = response.headers
    assert headers.get("Cache-Control") == cache, where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert "max-age=" in headers.get("Strict-Transport-Security", ""), where
    csp = headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, where
    assert "'unsafe-inline'" not in csp, where


def test_every_personal_page_and_answer_has_the_security_headers(
    app: Flask, world: World, login: Callable[..., Any]
) -> None:
    actors = ("person_a", "advocate", "provider_x", "commissioner", "admin")
    clients = {actor: _signed_in(app, login, world.users[actor]) for actor in actors}
    home = clients["advocate"].get("/advocate/")
    clients["advocate"].post(
        f"/advocate/act/{world.ids['person_a']}", data={"csrf_token": csrf_token(home)}
    )
    checked = 0
    for row in MATRIX:
        if row.method != "GET" or row.rule.startswith(("/static", "/assets")):
            continue
        actor = next((a for a in actors if row.expect[a] == OK), None)
        if actor is None:
            continue
        response = clients[actor].get(row.path.format(**world.ids))
        assert response.status_code == 200, row.path
        # The market statement's files and JSON are the same for everyone (web.caching).
        public = row.rule.startswith(("/market/<council_slug>/", "/api/v1/market/"))
        cache = "public, max-age=300" if public else "no-store"
        _check_headers(response, f"{row.path} as {actor}", cache)
        response.close()
        checked += 1
    assert checked > 50
    # Error answers too.
    _check_headers(clients["person_a"].get("/person/place/999999"), "404 page")
    _check_headers(clients["person_a"].get("/api/v1/rounds"), "403 API answer")


def test_sign_in_cookie_flags(app: Flask, world: World, login: Callable[..., Any]) -> None:
    client = app.test_client()
    response = login(client, world.users["person_a"])
    cookie = next(
        value for value in response.headers.getlist("Set-Cookie")
        if value.startswith("tapestry_session=")
    )  # fmt: skip
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
