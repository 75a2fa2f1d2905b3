"""The site's password hashing parameters, which the other tests swap for cheap ones
(``tests/conftest.py``): argon2id with RFC 9106's "low memory" choice, and a sign-in with them
upgrades a hash made with other parameters."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from argon2 import Type
from argon2.exceptions import VerifyMismatchError
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models.accounts import Role
from tests.conftest import SITE_PASSWORD_HASHER, TEST_PASSWORD_HASHER
from tests.factories import DEFAULT_PASSWORD
from web.services import accounts

# RFC 9106 section 4, second recommended option: t=3 passes, 64 MiB, 4 lanes.
SITE_PARAMETERS = (Type.ID, 3, 65536, 4, 32, 16)


def _parameters(hasher: Any) -> tuple[Any, ...]:
    return (
        hasher.type,
        hasher.time_cost,
        hasher.memory_cost,
        hasher.parallelism,
        hasher.hash_len,
        hasher.salt_len,
    )


def test_the_site_hashes_with_rfc_9106_low_memory_parameters() -> None:
    # In a process of its own, where no test has swapped anything.
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from web.services.accounts import PASSWORD_HASHER as h, _DUMMY_HASH as d\n"
            "print(h.type.name, h.time_cost, h.memory_cost, h.parallelism, h.hash_len, "
            "h.salt_len)\nprint(d)",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split("\n")
    kind, *numbers = out[0].split()
    assert (Type[kind], *map(int, numbers)) == SITE_PARAMETERS
    # The hash checked for unknown emails costs the same as a real account's.
    assert out[1].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert _parameters(SITE_PASSWORD_HASHER) == SITE_PARAMETERS
    assert _parameters(TEST_PASSWORD_HASHER) != SITE_PARAMETERS


def test_a_sign_in_with_the_sites_parameters_upgrades_the_hash(
    monkeypatch: pytest.MonkeyPatch,
    client: FlaskClient,
    make_user: Callable[..., Any],
    login: Callable[..., Any],
    db_session: Session,
) -> None:
    user = make_user(Role.person, password_hash=TEST_PASSWORD_HASHER.hash(DEFAULT_PASSWORD))
    monkeypatch.setattr(accounts, "PASSWORD_HASHER", SITE_PASSWORD_HASHER)
    assert user.password_hash.startswith("$argon2id$v=19$m=1024,t=1,p=1$")

    assert login(client, user, "not the password at all").status_code == 401
    assert login(client, user).status_code == 302

    db_session.refresh(user)
    assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert SITE_PASSWORD_HASHER.verify(user.password_hash, DEFAULT_PASSWORD)
    with pytest.raises(VerifyMismatchError):
        SITE_PASSWORD_HASHER.verify(user.password_hash, "not the password at all")
