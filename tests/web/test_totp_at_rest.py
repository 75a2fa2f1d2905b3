"""One-time code secrets are kept encrypted with a key outside the database, and signing in
with a code works as before."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pyotp
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from models.accounts import Role, User
from models.keys import is_sealed
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
