"""Fixtures for testing the web app through Flask's test client.

- ``app``: the real app (``create_app``) on the test database from ``tests/conftest.py``. Its
  request sessions join the test's outer transaction (``db_connection``), so what a request
  commits is visible to ``db_session`` and everything is rolled back after the test.
- ``make_app(**overrides)``: another app on the same database with other settings (e.g. lower
  sign-in limits); two apps stand for two worker processes sharing the database.
- ``client``, ``runner``: Flask's test client and CLI runner for ``app``.
- ``make_user(role, **fields)``: a user of that role (commissioners and admins get a TOTP
  secret; persons a profile; providers an organisation); every password is
  ``tests.factories.DEFAULT_PASSWORD``.
- ``login(client, user)``: signs in through the real sign-in form (with its CSRF token) and,
  for commissioners and admins, the one-time code page. Returns the last response.
- ``csrf_token(response_or_html)``: the CSRF token from a page's form; ``form_token(...)``:
  the one-time token of its first form (``web.submissions``).
- ``API_HEADERS``: send with API requests that change something (``X-Requested-With``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from models.accounts import Role, User
from tests import factories
from tests.factories import DEFAULT_PASSWORD
from web import create_app

API_HEADERS = {"X-Requested-With": "pytest"}

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
_FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')

ROLE_FACTORIES: dict[Role, type[factories.UserFactory]] = {
    Role.person: factories.UserFactory,
    Role.advocate: factories.AdvocateFactory,
    Role.provider: factories.ProviderUserFactory,
    Role.commissioner: factories.CommissionerFactory,
    Role.admin: factories.AdminFactory,
}


def csrf_token(page: TestResponse | str) -> str:
    html = page if isinstance(page, str) else page.get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1) or match.group(2)


def form_token(page: TestResponse | str) -> str:
    html = page if isinstance(page, str) else page.get_data(as_text=True)
    match = _FORM_TOKEN.search(html)
    assert match, "the page has no form with a one-time token"
    return match.group(1)


@pytest.fixture
def make_app(database_url: str, db_connection: Connection, tmp_path: Path) -> Callable[..., Flask]:
    def build(**overrides: Any) -> Flask:
        factory = sessionmaker(
            bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        config: dict[str, Any] = {
            "TESTING": True,
            "SECRET_KEY": "test secret key, not for production",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": database_url,
            "DATABASE_ENGINE": db_connection.engine,
            "DATABASE_SESSION_FACTORY": factory,
            "AUTO_UPGRADE_DB": False,
            # Most tests post forms by hand, without the page's one-time token, and read the
            # post's own answer; tests/security/test_form_tokens.py turns both on.
            "FORM_TOKENS_REQUIRED": False,
            "PAGE_POSTS_REDIRECT": False,
        }
        config.update(overrides)
        return create_app(config)

    return build


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    # Not used as a context manager: a kept request context would share its app context (and
    # so ``g`` and the signed-in user) with requests from other clients in the same test.
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def make_user(db_session: Session) -> Callable[..., User]:
    """A user of ``role``. Persons get a ``PersonProfile`` and providers a ``Provider`` they
    belong to (in the user's council), unless ``with_profile=False``."""

    def build(role: Role = Role.person, *, with_profile: bool = True, **fields: Any) -> User:
        if role in (Role.commissioner, Role.admin):
            fields.setdefault("totp_secret", pyotp.random_base32())
        user = ROLE_FACTORIES[role](**fields)
        if with_profile and role is Role.person:
            factories.PersonProfileFactory(user=user)
        elif with_profile and role is Role.provider:
            provider = factories.ProviderFactory(council=user.council)
            factories.ProviderMemberFactory(provider=provider, user=user)
        return user

    return build


def current_totp(user: User, db_session: Session | None = None) -> str:
    """A code the server will accept now: the current time step, or the next unused one."""
    if db_session is not None:
        db_session.refresh(user)
    assert user.totp_secret, "the user has no TOTP secret"
    totp = pyotp.TOTP(user.totp_secret)
    step = totp.timecode(time.time())
    if user.totp_last_step is not None and step <= user.totp_last_step:
        step = user.totp_last_step + 1
    return totp.generate_otp(step)


@pytest.fixture
def login(db_session: Session) -> Callable[..., TestResponse]:
    def sign_in(client: FlaskClient, user: User, password: str = DEFAULT_PASSWORD) -> TestResponse:
        page = client.get("/sign-in")
        response = client.post(
            "/sign-in",
            data={
                "csrf_token": csrf_token(page),
                "form_token": form_token(page),
                "email": user.email,
                "password": password,
            },
        )
        if response.status_code == 302 and response.headers["Location"].endswith("/sign-in/code"):
            page = client.get("/sign-in/code")
            response = client.post(
                "/sign-in/code",
                data={
                    "csrf_token": csrf_token(page),
                    "form_token": form_token(page),
                    "code": current_totp(user, db_session),
                },
            )
        return response

    return sign_in
