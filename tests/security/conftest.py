"""Fixtures for the security tests: the web fixtures (``app``, ``client``, ``make_app``,
``make_user``, ``login``) and a small council with every kind of actor (``world``)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.security.world import World, make_world
from tests.web.conftest import app, client, login, make_app, make_user, runner  # noqa: F401


@pytest.fixture
def world(db_session: Session) -> World:
    return make_world(db_session)
