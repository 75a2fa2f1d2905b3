"""One-time code secrets are kept encrypted with a key outside the database, and signing in
with a code works as before."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import pyotp
import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from models.accounts import Role, User
from models.keys import Keys, is_sealed, seal
from tests.factories import DEFAULT_PASSWORD
from tests.web.conftest import csrf_token


def _sign_in(client: FlaskClient, email: str) -> None:
    page = client.get("/sign-in")
    client.post(
        "/sign-in",
        data={"csrf_token": csrf_token(page), "email": email, "password": DEFAULT_PASSWORD},
    )


def _raw_secret(db_session: Session, user: User) -> str | None:
    return db_session.execute(
        text("SELECT totp_secret FROM users WHERE id = :id"), {"id": user.id}
    ).scalar_one()


def test_a_secret_set_up_on_the_site_is_stored_sealed_and_signs_in_again(
    client: FlaskClient, make_user: Callable[..., User], db_session: Session
) -> None:
    user = make_user(Role.admin, totp_secret=None)
    _sign_in(client, user.email)
    page = client.get("/sign-in/code")
    secret = page.get_data(as_text=True).split('<span class="app-secret">', 1)[1].split("<", 1)[0]
    totp = pyotp.TOTP(secret)
    step = totp.timecode(datetime.now(UTC))
    set_up = client.post(
        "/sign-in/code", data={"csrf_token": csrf_token(page), "code": totp.generate_otp(step)}
    )
    assert set_up.headers["Location"] == "/admin/"

    raw = _raw_secret(db_session, user)
    assert raw is not None and is_sealed(raw)
    assert secret not in raw

    # A new session, and the next code from the same app: the stored secret still works.
    page = client.get("/")
    client.post("/sign-out", data={"csrf_token": csrf_token(page)})
    _sign_in(client, user.email)
    page = client.get("/sign-in/code")
    again = client.post(
        "/sign-in/code", data={"csrf_token": csrf_token(page), "code": totp.generate_otp(step + 1)}
    )
    assert again.headers["Location"] == "/admin/"


def _seal_with_another_key(db_session: Session, user: User) -> None:
    """What a changed or lost TOTP key looks like: the stored secret no longer opens."""
    other = Keys(audit=b"a" * 32, totp=b"b" * 32)
    db_session.execute(
        text("UPDATE users SET totp_secret = :sealed WHERE id = :id"),
        {"sealed": seal(pyotp.random_base32(), other), "id": user.id},
    )
    db_session.expire_all()


def test_an_unreadable_second_factor_is_a_clear_page_not_a_500(
    client: FlaskClient,
    make_user: Callable[..., User],
    db_session: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = make_user(Role.commissioner)
    _sign_in(client, user.email)
    token = csrf_token(client.get("/sign-in/code"))
    _seal_with_another_key(db_session, user)
    with caplog.at_level(logging.WARNING, logger="web.errors"):
        page = client.get("/sign-in/code")
    assert page.status_code == 409
    body = page.get_data(as_text=True)
    assert "second factor cannot be read" in body
    assert "tapestry accounts reset --second-factor" in body
    lines = [r for r in caplog.records if "second factor cannot be read" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0].getMessage()
    assert str(user.id) in lines[0].getMessage()
    # Sending a code gets the same answer, and the session does not pass.
    refused = client.post("/sign-in/code", data={"csrf_token": token, "code": "123456"})
    assert refused.status_code == 409
    assert client.get("/commissioner/").status_code == 302


def test_a_signed_in_admin_still_loads_after_the_key_changes(
    client: FlaskClient,
    make_user: Callable[..., User],
    db_session: Session,
    login: Callable[..., object],
) -> None:
    user = make_user(Role.admin)
    login(client, user)
    _seal_with_another_key(db_session, user)
    assert client.get("/admin/").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_reset_second_factor_works_when_the_secret_cannot_be_read(
    make_user: Callable[..., User], db_session: Session
) -> None:
    from models.base import utcnow
    from web.services.accounts import reset_account

    user = make_user(Role.admin)
    _seal_with_another_key(db_session, user)
    reset_account(db_session, user, now=utcnow(), clear_second_factor=True)
    db_session.flush()
    assert _raw_secret(db_session, user) is None


def test_a_secret_copied_from_another_account_is_a_clear_409(
    client: FlaskClient, make_user: Callable[..., User], db_session: Session
) -> None:
    known = make_user(Role.admin)
    target = make_user(Role.commissioner)
    _sign_in(client, target.email)
    token = csrf_token(client.get("/sign-in/code"))
    # Someone who can write the database copies a sealed secret whose codes they know.
    db_session.execute(
        text("UPDATE users SET totp_secret = :sealed WHERE id = :id"),
        {"sealed": _raw_secret(db_session, known), "id": target.id},
    )
    db_session.expire_all()

    page = client.get("/sign-in/code")
    assert page.status_code == 409
    assert "second factor cannot be read" in page.get_data(as_text=True)
    code = pyotp.TOTP(known.totp_secret or "").now()
    refused = client.post("/sign-in/code", data={"csrf_token": token, "code": code})
    assert refused.status_code == 409
    assert client.get("/commissioner/").status_code == 302
