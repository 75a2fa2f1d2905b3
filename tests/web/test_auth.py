"""Accounts: sign in and out, throttling, server-side sessions, timeouts, TOTP, CSRF, headers."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.accounts import LoginThrottle, Role, User, UserSession
from models.base import utcnow
from tests.factories import DEFAULT_PASSWORD
from tests.web.conftest import csrf_token, current_totp
from web.services.accounts import PASSWORD_HASHER, token_hash

Login = Callable[..., object]


def _auth_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("tapestry_session")
    assert cookie is not None, "not signed in"
    return cookie.value


def _post_sign_in(client: FlaskClient, email: str, password: str):  # type: ignore[no-untyped-def]
    page = client.get("/sign-in")
    return client.post(
        "/sign-in", data={"csrf_token": csrf_token(page), "email": email, "password": password}
    )


def _sign_out(client: FlaskClient):  # type: ignore[no-untyped-def]
    page = client.get("/")
    return client.post("/sign-out", data={"csrf_token": csrf_token(page)})


@pytest.mark.parametrize(
    ("role", "home"),
    [
        (Role.person, "/person/"),
        (Role.advocate, "/advocate/"),
        (Role.provider, "/provider/"),
        (Role.commissioner, "/commissioner/"),
        (Role.admin, "/admin/"),
    ],
)
def test_each_role_signs_in_to_its_home_page(client, make_user, login, role, home):
    user = make_user(role)
    response = login(client, user)
    assert response.status_code == 302
    assert response.headers["Location"] == home
    page = client.get(home)
    assert page.status_code == 200
    assert f"Signed in as {escape(user.display_name)}" in page.get_data(as_text=True)


def test_the_cookie_holds_only_a_random_token_and_the_database_only_its_hash(
    client, make_user, login, db_session: Session
):
    user = make_user(Role.person)
    login(client, user)
    token = _auth_cookie(client)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 32 random bytes, nothing else
    row = db_session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert row.token_hash == token_hash(token) != token
    state = client.get_cookie("tapestry_state")
    assert state is None or user.email not in state.value


def test_wrong_password_is_refused_with_one_message_for_every_cause(client, make_user):
    user = make_user(Role.person)
    wrong_password = _post_sign_in(client, user.email, "not the password at all")
    no_such_account = _post_sign_in(client, "nobody@example.org", DEFAULT_PASSWORD)
    for response in (wrong_password, no_such_account):
        assert response.status_code == 401
        html = response.get_data(as_text=True)
        assert "The email address or password is not right" in html
        assert "<title>Error: Sign in - Tapestry</title>" in html
        assert 'class="govuk-error-summary"' in html
    assert client.get_cookie("tapestry_session") is None
    assert client.get("/person/").status_code == 302


def test_the_email_is_matched_whatever_its_case(client, make_user):
    user = make_user(Role.person, email="ann.jones@example.org")
    response = _post_sign_in(client, "  Ann.Jones@Example.ORG ", DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert client.get("/person/").status_code == 200
    assert user.email == "ann.jones@example.org"


def test_an_empty_form_shows_an_error_beside_each_field(client):
    page = client.get("/sign-in")
    response = client.post("/sign-in", data={"csrf_token": csrf_token(page)})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter your email address" in html and "Enter your password" in html
    assert 'href="#email"' in html and 'href="#password"' in html  # error summary links
    assert 'id="email-error"' in html and 'id="password-error"' in html  # beside each field


def test_sign_out_ends_the_session_and_a_replayed_cookie_is_refused(
    client, app: Flask, make_user, login, db_session: Session
):
    user = make_user(Role.person)
    login(client, user)
    token = _auth_cookie(client)
    response = _sign_out(client)
    assert response.status_code == 302
    assert client.get_cookie("tapestry_session") is None

    row = db_session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    db_session.refresh(row)
    assert row.revoked_at is not None

    replay = app.test_client()
    replay.set_cookie("tapestry_session", token)
    page = replay.get("/person/")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/sign-in")
    api = replay.get("/api/v1/me")
    assert api.status_code == 401


def test_changing_the_password_ends_every_other_session(
    client, app: Flask, make_user, login, db_session: Session
):
    user = make_user(Role.person)
    other_device = app.test_client()
    login(other_device, user)
    login(client, user)
    old_token = _auth_cookie(client)

    page = client.get("/account/password")
    response = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(page),
            "current_password": DEFAULT_PASSWORD,
            "new_password": "a new and longer passphrase",
            "confirm_password": "a new and longer passphrase",
        },
    )
    assert response.status_code == 302
    assert _auth_cookie(client) != old_token
    assert client.get("/person/").status_code == 200  # this device stays signed in

    assert other_device.get("/person/").status_code == 302
    replay = app.test_client()
    replay.set_cookie("tapestry_session", old_token)
    assert replay.get("/api/v1/me").status_code == 401

    db_session.refresh(user)
    assert PASSWORD_HASHER.verify(user.password_hash, "a new and longer passphrase")
    fresh = app.test_client()
    assert _post_sign_in(fresh, user.email, DEFAULT_PASSWORD).status_code == 401
    assert _post_sign_in(fresh, user.email, "a new and longer passphrase").status_code == 302


def test_change_password_needs_the_current_password_and_a_long_enough_new_one(
    client, make_user, login
):
    user = make_user(Role.person)
    login(client, user)
    cases = [
        ("wrong current password", "a new and longer passphrase", "is not right"),
        (DEFAULT_PASSWORD, "short", "at least 12 characters"),
        (DEFAULT_PASSWORD, "password123", "at least 12 characters"),
        (DEFAULT_PASSWORD, "Password1234", "too easy to guess"),
        (DEFAULT_PASSWORD, DEFAULT_PASSWORD, "must be different"),
    ]
    for current, new, message in cases:
        page = client.get("/account/password")
        response = client.post(
            "/account/password",
            data={
                "csrf_token": csrf_token(page),
                "current_password": current,
                "new_password": new,
                "confirm_password": new,
            },
        )
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    assert client.get("/person/").status_code == 200


def test_a_session_unused_for_longer_than_the_idle_limit_ends(
    client, make_user, login, db_session: Session
):
    user = make_user(Role.person)
    login(client, user)
    assert client.get("/person/").status_code == 200
    row = db_session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    row.last_seen_at = utcnow() - timedelta(minutes=31)
    db_session.flush()
    response = client.get("/person/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
    assert client.get_cookie("tapestry_session") is None  # the dead cookie is removed


def test_a_session_in_use_still_ends_at_the_absolute_limit(
    client, make_user, login, db_session: Session
):
    user = make_user(Role.person)
    login(client, user)
    row = db_session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    # Began 12 hours and a minute ago, used a moment ago.
    row.created_at = utcnow() - timedelta(hours=12, minutes=1)
    row.expires_at = row.created_at + timedelta(hours=12)
    row.last_seen_at = utcnow() - timedelta(seconds=5)
    db_session.flush()
    assert client.get("/person/").status_code == 302


def test_timeouts_come_from_the_configuration(make_app, make_user, login, db_session: Session):
    app = make_app(SESSION_IDLE_MINUTES=5)
    client = app.test_client()
    user = make_user(Role.person)
    login(client, user)
    row = db_session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert row.expires_at - row.created_at == timedelta(hours=12)
    row.last_seen_at = utcnow() - timedelta(minutes=6)
    db_session.flush()
    assert client.get("/person/").status_code == 302


def test_sign_in_is_slowed_per_account(client, app: Flask, make_user):
    user = make_user(Role.person)
    for _ in range(5):
        assert _post_sign_in(client, user.email, "wrong password guess").status_code == 401
    # A stranger's browser must wait, even with the right password, until the delay is over.
    response = _post_sign_in(client, user.email, DEFAULT_PASSWORD)
    assert response.status_code == 429
    assert "Wait 30 seconds" in response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "30"
    # The count follows the account, not the browser or the address.
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert _post_sign_in(elsewhere, user.email, DEFAULT_PASSWORD).status_code == 429


def test_the_account_delay_lifts_when_it_has_passed(client, make_user, db_session):
    user = make_user(Role.person)
    for _ in range(6):
        _post_sign_in(client, user.email, "wrong password guess")
    throttle = db_session.get(LoginThrottle, f"account:{user.email}")
    db_session.refresh(throttle)
    assert throttle.attempts == 5  # the try that had to wait was not counted
    throttle.next_try_at = utcnow() - timedelta(seconds=1)
    db_session.flush()
    assert _post_sign_in(client, user.email, DEFAULT_PASSWORD).status_code == 302


def _wait_over(db_session: Session, key: str) -> LoginThrottle:
    throttle = db_session.get(LoginThrottle, key)
    assert throttle is not None
    db_session.refresh(throttle)
    throttle.next_try_at = utcnow() - timedelta(seconds=1)
    db_session.flush()
    return throttle


def test_each_failure_past_the_free_tries_doubles_the_wait(client, make_user, db_session):
    user = make_user(Role.person)
    for _ in range(5):
        assert _post_sign_in(client, user.email, "wrong password guess").status_code == 401
    waits = []
    for _ in range(6):
        response = _post_sign_in(client, user.email, "wrong password guess")
        assert response.status_code == 429
        waits.append(int(response.headers["Retry-After"]))
        _wait_over(db_session, f"account:{user.email}")
        assert _post_sign_in(client, user.email, "wrong password guess").status_code == 401
    # Retry-After counts down from the moment the wait was set: on a busy machine a second may
    # pass before it is read.
    expected = [30, 60, 120, 240, 480, 900]
    assert all(e - 2 <= w <= e for w, e in zip(waits, expected, strict=True)), waits
    response = _post_sign_in(client, user.email, "wrong password guess")
    assert 898 <= int(response.headers["Retry-After"]) <= 900  # at most 15 minutes
    assert "Wait 15 minutes" in response.get_data(as_text=True)


def test_a_stranger_guessing_does_not_keep_the_owner_out(app: Flask, make_user, login):
    """The owner's browser (its device cookie) and the places they signed in from are not held
    back by strangers' guesses: the right password lets them in."""
    user = make_user(Role.person)
    owner = app.test_client()
    owner.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert login(owner, user).status_code == 302
    assert owner.get_cookie("tapestry_device") is not None
    _sign_out(owner)

    stranger = app.test_client()
    stranger.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for _ in range(12):
        assert _post_sign_in(stranger, user.email, "a guess").status_code in (401, 429)
    assert _post_sign_in(stranger, user.email, DEFAULT_PASSWORD).status_code == 429
    # A device cookie made up or given for someone else counts for nothing.
    forged = app.test_client()
    forged.environ_base["REMOTE_ADDR"] = "203.0.113.10"
    forged.set_cookie("tapestry_device", "WzEsICJ4Il0.forged")
    assert _post_sign_in(forged, user.email, DEFAULT_PASSWORD).status_code == 429

    # The owner's own browser, from a new place: in.
    owner.environ_base["REMOTE_ADDR"] = "192.0.2.50"
    assert _post_sign_in(owner, user.email, DEFAULT_PASSWORD).status_code == 302
    _sign_out(owner)
    # A browser without the cookie, from where the owner signed in before: in too.
    at_home = app.test_client()
    at_home.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert _post_sign_in(at_home, user.email, DEFAULT_PASSWORD).status_code == 302
    # Signing in cleared the account's count: strangers start again from a few free tries.


def test_guesses_from_the_owners_own_browser_are_slowed_too(app: Flask, make_user, login):
    user = make_user(Role.person)
    browser = app.test_client()
    login(browser, user)
    _sign_out(browser)
    for _ in range(5):
        assert _post_sign_in(browser, user.email, "a guess").status_code == 401
    assert _post_sign_in(browser, user.email, DEFAULT_PASSWORD).status_code == 429


def test_sign_in_is_limited_per_address_across_workers(make_app, make_user):
    # Two apps on one database stand for two worker processes: the count is shared.
    worker_a = make_app(LOGIN_LIMIT_PER_ADDRESS=4).test_client()
    worker_b = make_app(LOGIN_LIMIT_PER_ADDRESS=4).test_client()
    users = [make_user(Role.person) for _ in range(3)]
    assert _post_sign_in(worker_a, users[0].email, "guess one").status_code == 401
    assert _post_sign_in(worker_b, users[1].email, "guess two").status_code == 401
    assert _post_sign_in(worker_a, users[2].email, "guess three").status_code == 401
    assert _post_sign_in(worker_b, "someone@example.org", "guess four").status_code == 401
    # The fifth try from this address is refused, whichever account and worker.
    assert _post_sign_in(worker_a, users[0].email, DEFAULT_PASSWORD).status_code == 429
    other_address = make_app(LOGIN_LIMIT_PER_ADDRESS=4).test_client()
    other_address.environ_base["REMOTE_ADDR"] = "198.51.100.20"
    assert _post_sign_in(other_address, users[0].email, DEFAULT_PASSWORD).status_code == 302


def test_a_successful_sign_in_clears_the_accounts_failed_tries(client, make_user):
    user = make_user(Role.person)
    for _ in range(4):
        _post_sign_in(client, user.email, "wrong password guess")
    assert _post_sign_in(client, user.email, DEFAULT_PASSWORD).status_code == 302
    _sign_out(client)
    for _ in range(4):
        assert _post_sign_in(client, user.email, "wrong password guess").status_code == 401
    assert _post_sign_in(client, user.email, DEFAULT_PASSWORD).status_code == 302


def test_an_old_password_hash_is_upgraded_at_sign_in(client, make_user, db_session):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    user = make_user(Role.person, password_hash=weak.hash(DEFAULT_PASSWORD))
    assert _post_sign_in(client, user.email, DEFAULT_PASSWORD).status_code == 302
    db_session.refresh(user)
    assert user.password_hash.startswith("$argon2id$")
    assert not PASSWORD_HASHER.check_needs_rehash(user.password_hash)


def test_a_closed_account_cannot_sign_in(client, make_user, login, db_session):
    user = make_user(Role.person)
    login(client, user)
    user.is_active = False
    db_session.flush()
    assert client.get("/person/").status_code == 302
    assert _post_sign_in(client, user.email, DEFAULT_PASSWORD).status_code == 401


@pytest.mark.parametrize("role", [Role.commissioner, Role.admin])
def test_commissioners_and_admins_need_a_one_time_code(client, make_user, db_session, role):
    user = make_user(role)
    response = _post_sign_in(client, user.email, DEFAULT_PASSWORD)
    assert response.headers["Location"] == "/sign-in/code"
    home = f"/{role.value}/"
    # The password alone opens nothing.
    assert client.get(home).headers["Location"] == "/sign-in/code"
    assert client.get("/api/v1/me").status_code == 401

    page = client.get("/sign-in/code")
    wrong = client.post("/sign-in/code", data={"csrf_token": csrf_token(page), "code": "000000"})
    assert wrong.status_code == 401
    assert client.get(home).status_code == 302

    page = client.get("/sign-in/code")
    code = current_totp(user, db_session)
    right = client.post("/sign-in/code", data={"csrf_token": csrf_token(page), "code": code})
    assert right.headers["Location"] == home
    assert client.get(home).status_code == 200
    assert client.get("/api/v1/me").json["role"] == role.value

    # The same code cannot be used again, even straight away.
    _sign_out(client)
    _post_sign_in(client, user.email, DEFAULT_PASSWORD)
    page = client.get("/sign-in/code")
    replayed = client.post("/sign-in/code", data={"csrf_token": csrf_token(page), "code": code})
    assert replayed.status_code == 401


def test_a_commissioner_without_an_app_sets_one_up_first(client, make_user, db_session):
    user = make_user(Role.commissioner, totp_secret=None)
    _post_sign_in(client, user.email, DEFAULT_PASSWORD)
    page = client.get("/sign-in/code")
    html = page.get_data(as_text=True)
    assert "Set up your authenticator app" in html
    secret = html.split('<span class="app-secret">', 1)[1].split("</span>", 1)[0]
    assert len(secret) == 32
    # The key offered stays the same until it is used.
    assert secret in client.get("/sign-in/code").get_data(as_text=True)
    code = pyotp.TOTP(secret).now()
    response = client.post("/sign-in/code", data={"csrf_token": csrf_token(page), "code": code})
    assert response.headers["Location"] == "/commissioner/"
    db_session.refresh(user)
    assert user.totp_secret == secret


def test_one_time_code_guesses_are_throttled(client, make_user):
    user = make_user(Role.admin)
    _post_sign_in(client, user.email, DEFAULT_PASSWORD)
    statuses = []
    for _ in range(6):
        page = client.get("/sign-in/code")
        response = client.post(
            "/sign-in/code", data={"csrf_token": csrf_token(page), "code": "000000"}
        )
        statuses.append(response.status_code)
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429


def test_a_session_waiting_for_its_code_expires_soon(client, make_user, db_session):
    user = make_user(Role.commissioner)
    _post_sign_in(client, user.email, DEFAULT_PASSWORD)
    row = db_session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    row.created_at = utcnow() - timedelta(minutes=11)
    db_session.flush()
    assert client.get("/sign-in/code").headers["Location"] == "/sign-in"


def test_roles_are_enforced(client, make_user, login):
    user = make_user(Role.person)
    assert client.get("/provider/").headers["Location"] == "/sign-in?next=/provider/"
    login(client, user)
    for other in ("/advocate/", "/provider/", "/commissioner/", "/admin/"):
        response = client.get(other)
        assert response.status_code == 403, other
        assert "You cannot see this page" in response.get_data(as_text=True)


def test_sign_in_returns_to_the_page_asked_for_but_never_to_another_site(client, make_user):
    user = make_user(Role.person)
    page = client.get("/sign-in?next=/person/")
    response = client.post(
        "/sign-in?next=/person/",
        data={"csrf_token": csrf_token(page), "email": user.email, "password": DEFAULT_PASSWORD},
    )
    assert response.headers["Location"] == "/person/"
    _sign_out(client)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        page = client.get("/sign-in")
        response = client.post(
            f"/sign-in?next={target}",
            data={
                "csrf_token": csrf_token(page),
                "email": user.email,
                "password": DEFAULT_PASSWORD,
            },
        )
        assert response.headers["Location"] == "/person/", target
        _sign_out(client)


def test_forms_without_a_csrf_token_are_refused(client, make_user, login):
    user = make_user(Role.person)
    response = client.post("/sign-in", data={"email": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 400
    assert client.get_cookie("tapestry_session") is None
    login(client, user)
    assert client.post("/sign-out").status_code == 400
    assert client.post("/sign-out", data={"csrf_token": "forged"}).status_code == 400
    assert client.get("/person/").status_code == 200  # still signed in


def test_security_headers_on_every_page(client, make_user, login):
    login(client, make_user(Role.person))
    for path in ("/", "/sign-in", "/person/", "/api/v1/me", "/no-such-page"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp
        assert headers["Strict-Transport-Security"].startswith("max-age=")
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "camera=()" in headers["Permissions-Policy"]
        assert headers["Cache-Control"] == "no-store", path
        assert headers["X-Request-ID"]


def test_pages_have_no_inline_script(client):
    html = client.get("/").get_data(as_text=True)
    assert "<script>" not in html
    assert '<script src="/static/js/govuk-init.js">' in html


def test_cookies_are_http_only_and_same_site_lax(client, make_user):
    user = make_user(Role.person)
    response = _post_sign_in(client, user.email, DEFAULT_PASSWORD)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if "tapestry_session=" in c)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # tests run without TLS; production turns it on


def test_cookies_are_secure_outside_debug_and_tests(make_app, make_user):
    app = make_app(TESTING=False, SESSION_COOKIE_SECURE=None)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    client = app.test_client()
    user = make_user(Role.person)
    response = _post_sign_in(client, user.email, DEFAULT_PASSWORD)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if "tapestry_session=" in c)
    assert "Secure" in cookie


def test_api_me_says_who_is_signed_in(client, make_user, login):
    user: User = make_user(Role.provider)
    login(client, user)
    body = client.get("/api/v1/me").json
    assert body == {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "role": "provider",
        "council_id": user.council_id,
    }


def test_account_events_are_audited_without_personal_data(
    client, make_user, login, db_session: Session
):
    from models.audit import AuditEvent

    user = make_user(Role.person)
    _post_sign_in(client, user.email, "wrong password guess")
    login(client, user)
    _sign_out(client)
    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.object_id == str(user.id)).order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in events] == [
        "account.sign_in_refused",
        "account.sign_in",
        "account.sign_out",
    ]
    assert events[0].details == {"reason": "wrong"}
    assert all(e.request_id for e in events)
    for event in events:
        assert user.email not in str(event.details)


def test_stale_sessions_and_throttle_windows_are_purged(db_session: Session, make_user):
    from tests import factories
    from web.services.accounts import SessionPolicy, ThrottlePolicy, purge_stale_records

    now = utcnow()
    user = make_user(Role.person)
    live = factories.UserSessionFactory(user=user, last_seen_at=now, expires_at=now + timedelta(1))
    revoked_long_ago = factories.UserSessionFactory(
        user=user, revoked_at=now - timedelta(days=31), last_seen_at=now - timedelta(days=31)
    )
    revoked_today = factories.UserSessionFactory(
        user=user, revoked_at=now - timedelta(hours=1), last_seen_at=now - timedelta(hours=1)
    )
    factories.LoginThrottleFactory(key="ip:192.0.2.1", window_start=now - timedelta(hours=1))
    factories.LoginThrottleFactory(key="ip:192.0.2.2", window_start=now - timedelta(minutes=1))
    sessions, throttles = purge_stale_records(
        db_session, now=now, session_policy=SessionPolicy(), throttle_policy=ThrottlePolicy()
    )
    assert (sessions, throttles) == (1, 1)
    remaining = set(
        db_session.scalars(select(UserSession.id).where(UserSession.user_id == user.id))
    )
    assert remaining == {live.id, revoked_today.id}
    assert revoked_long_ago.id not in remaining
    assert db_session.get(LoginThrottle, "ip:192.0.2.2") is not None


def test_purge_keeps_consent_ask_counts_for_their_hour(db_session: Session):
    """Regression: the purge used the 15-minute sign-in window for every key, so an advocate's
    consent-request count vanished after 15 minutes instead of lasting an hour."""
    from tests import factories
    from web.services.accounts import SessionPolicy, ThrottlePolicy, purge_stale_records
    from web.services.consents import ASK_KEY_PREFIX, ASK_POLICY

    now = utcnow()
    asking = f"{ASK_KEY_PREFIX}1"
    asked_long_ago = f"{ASK_KEY_PREFIX}2"
    signing_in = "ip:192.0.2.9"
    waiting = "account:held-back"
    factories.LoginThrottleFactory(key=asking, window_start=now - timedelta(minutes=30))
    factories.LoginThrottleFactory(key=asked_long_ago, window_start=now - timedelta(hours=2))
    factories.LoginThrottleFactory(key=signing_in, window_start=now - timedelta(minutes=30))
    # Idle past its window but still holding someone back: a purge must not set them free.
    factories.LoginThrottleFactory(
        key=waiting,
        window_start=now - timedelta(minutes=20),
        next_try_at=now + timedelta(minutes=5),
    )
    _, throttles = purge_stale_records(
        db_session,
        now=now,
        session_policy=SessionPolicy(),
        throttle_policy=ThrottlePolicy(),
        other_throttles={ASK_KEY_PREFIX: ASK_POLICY},
    )
    assert throttles == 2
    assert db_session.get(LoginThrottle, asking) is not None
    assert db_session.get(LoginThrottle, waiting) is not None
    assert db_session.get(LoginThrottle, asked_long_ago) is None
    assert db_session.get(LoginThrottle, signing_in) is None


def test_purge_command(fresh_database_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch):
    from click.testing import CliRunner

    from web.cli import main

    monkeypatch.setenv("TAPESTRY_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("TAPESTRY_INSTANCE_PATH", str(tmp_path / "instance"))
    result = CliRunner().invoke(main, ["accounts", "purge", "--days", "30"])
    assert result.exit_code == 0, result.output
    assert "Deleted 0 ended sessions and 0 old sign-in counts." in result.output


def test_the_guards_record_which_roles_may_use_each_endpoint(app: Flask):
    from web.auth import endpoint_roles

    assert endpoint_roles(app, "person.dashboard") == {Role.person}
    assert endpoint_roles(app, "admin.dashboard") == {Role.admin}
    assert endpoint_roles(app, "me.Me") == set(Role)
    assert endpoint_roles(app, "public.start") is None
    assert endpoint_roles(app, "account.sign_in") is None


def test_concurrent_guesses_from_two_workers_never_pass_the_limit(
    fresh_database_url: str, tmp_path
):
    """24 wrong guesses at once through two apps with their own connections: every one is
    counted, and exactly the first five reach the password check."""
    from concurrent.futures import ThreadPoolExecutor

    from web import create_app
    from web.db import database, session_scope
    from web.services.accounts import create_user

    def worker_app():  # type: ignore[no-untyped-def]
        return create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "test secret key, not for production",
                "INSTANCE_PATH": str(tmp_path / "instance"),
                "DATABASE_URL": fresh_database_url,
                "AUTO_UPGRADE_DB": False,
                # Posts forms by hand, without their one-time tokens (tests/web/conftest.py).
                "FORM_TOKENS_REQUIRED": False,
                "PAGE_POSTS_REDIRECT": False,
            }
        )

    apps = [worker_app(), worker_app()]
    try:
        with session_scope(apps[0]) as session:
            create_user(
                session,
                email="target@example.org",
                display_name="Target",
                role=Role.person,
                password=DEFAULT_PASSWORD,
            )
            session.commit()

        def guess(number: int) -> int:
            client = apps[number % 2].test_client()
            client.environ_base["REMOTE_ADDR"] = f"192.0.2.{number}"
            return _post_sign_in(client, "target@example.org", f"guess {number}").status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(guess, range(24)))
        assert sorted(statuses) == [401] * 5 + [429] * 19

        with session_scope(apps[1]) as session:
            counter = session.get(LoginThrottle, "account:target@example.org")
            # Only the tries that were checked count; the others were told to wait.
            assert counter is not None and counter.attempts == 5
    finally:
        for app in apps:
            database(app).engine.dispose()


def test_static_files_are_cached_but_still_protected(client):
    for path in ("/static/css/app.css", "/static/js/govuk-init.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers.get("Cache-Control") != "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        response.close()


def _cli(args: list[str], database_url: str, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from web.cli import main

    monkeypatch.setenv("TAPESTRY_DATABASE_URL", database_url)
    monkeypatch.setenv("TAPESTRY_INSTANCE_PATH", str(tmp_path / "instance"))
    return CliRunner().invoke(main, args)


def test_accounts_can_be_created_and_reset_from_the_command_line(
    fresh_database_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    from web import create_app
    from web.db import database

    created = _cli(
        ["accounts", "create", "--email", "Boss@Example.org", "--name", "Pat", "--role", "admin"],
        fresh_database_url,
        tmp_path,
        monkeypatch,
    )
    assert created.exit_code == 0, created.output
    first_password = created.output.split("One-off password: ")[1].split()[0]
    again = _cli(
        ["accounts", "create", "--email", "boss@example.org", "--name", "Pat", "--role", "admin"],
        fresh_database_url,
        tmp_path,
        monkeypatch,
    )
    assert again.exit_code != 0 and "already an account" in again.output

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test secret key, not for production",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": fresh_database_url,
            "AUTO_UPGRADE_DB": False,
            # Posts forms by hand, without their one-time tokens (tests/web/conftest.py).
            "FORM_TOKENS_REQUIRED": False,
            "PAGE_POSTS_REDIRECT": False,
        }
    )
    try:
        client = app.test_client()
        response = _post_sign_in(client, "boss@example.org", first_password)
        assert response.headers["Location"] == "/sign-in/code"  # admins set up a code first
        assert "Set up your authenticator app" in client.get("/sign-in/code").get_data(True)

        reset = _cli(
            ["accounts", "reset", "boss@example.org", "--second-factor"],
            fresh_database_url,
            tmp_path,
            monkeypatch,
        )
        assert reset.exit_code == 0, reset.output
        new_password = reset.output.split("boss@example.org: ")[1].split()[0]
        assert client.get("/sign-in/code").headers["Location"] == "/sign-in"  # session ended
        assert _post_sign_in(app.test_client(), "boss@example.org", first_password).status_code == (
            401
        )
        fresh = app.test_client()
        assert _post_sign_in(fresh, "boss@example.org", new_password).status_code == 302
    finally:
        database(app).engine.dispose()

    missing = _cli(
        ["accounts", "reset", "nobody@example.org"], fresh_database_url, tmp_path, monkeypatch
    )
    assert missing.exit_code != 0 and "no account" in missing.output
