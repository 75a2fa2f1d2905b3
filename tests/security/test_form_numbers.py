"""Numbers typed in the council's forms are digits 0 to 9 (and a point where a fraction makes
sense), or the field says what to write: Python's int() and float() alone would take "٣",
"1_0", "nan" and "inf", and int() raises on "²", which str.isdigit() lets through."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models import Round
from tests.security.test_access_matrix import _sign_in_all
from tests.security.world import World


@pytest.fixture
def commissioner(app: Flask, world: World, login: Callable[..., Any]) -> tuple[FlaskClient, str]:
    creds = _sign_in_all(app, world, login, only="commissioner")["commissioner"]
    client = app.test_client()
    for name, value in creds.cookies.items():
        client.set_cookie(name, value)
    return client, creds.csrf


@pytest.mark.parametrize("choice", ["²", "٣", "1_0", "-3", "0", "9" * 19])
def test_moving_a_place_to_a_service_that_is_not_a_number_is_named(
    commissioner: tuple[FlaskClient, str], world: World, choice: str
) -> None:
    client, token = commissioner
    url = f"/commissioner/rounds/{world.ids['published_round']}/held/{world.ids['offered_a']}"

    answer = client.post(url, data={"csrf_token": token, "choice": choice, "reason": "Moved"})

    assert answer.status_code == 400
    assert "Choose a service to move this place to, or take it away" in answer.get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("seed", "٣", "Enter the seed as a whole number"),
        ("seed", "1_0", "Enter the seed as a whole number"),
        ("time_limit_s", "nan", "The time limit must be between 1 and"),
        ("time_limit_s", "inf", "The time limit must be between 1 and"),
        ("time_limit_s", "1_0", "The time limit must be between 1 and"),
        ("max_placements", "²", "Each person may hold at least 1 place"),
    ],
)
def test_policy_numbers_are_digits_or_named(
    commissioner: tuple[FlaskClient, str],
    world: World,
    db_session: Session,
    field: str,
    value: str,
    words: str,
) -> None:
    client, token = commissioner
    round_id = world.ids["open_round"]
    before = db_session.get(Round, round_id)
    assert before is not None
    seed, limit = before.seed, before.time_limit_s
    form = {"csrf_token": token, "mechanism": "welfare", "time_limit_s": "30", "seed": "7"}

    answer = client.post(f"/commissioner/rounds/{round_id}/policy", data={**form, field: value})

    assert answer.status_code == 400
    assert words in answer.get_data(as_text=True)
    db_session.expire_all()
    after = db_session.get(Round, round_id)
    assert after is not None and (after.seed, after.time_limit_s) == (seed, limit)


@pytest.mark.parametrize("share", ["nan", "inf", "1_0", "٣٠"])
def test_a_rule_share_that_is_not_a_percentage_adds_no_rule(
    commissioner: tuple[FlaskClient, str], world: World, db_session: Session, share: str
) -> None:
    client, token = commissioner
    round_id = world.ids["open_round"]
    rules = list(db_session.get(Round, round_id).rules or [])  # type: ignore[union-attr]

    answer = client.post(
        f"/commissioner/rounds/{round_id}/policy",
        data={
            "csrf_token": token, "action": "add-rule", "mechanism": "welfare",
            "time_limit_s": "30", "seed": "7", "rule_type": "coverage_gap",
            "rule_attribute": "area", "rule_share": share,
        },
    )  # fmt: skip

    assert answer.status_code == 400
    db_session.expire_all()
    assert list(db_session.get(Round, round_id).rules or []) == rules  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "field_words"),
    [
        ({"max_choices": "1_0"}, "max_choices"),
        ({"max_choices": "²"}, "max_choices"),
        ({"deadline-day": "²", "deadline-month": "3", "deadline-year": "2027"}, "real date"),
        ({"deadline-day": "1_0", "deadline-month": "3", "deadline-year": "2027"}, "real date"),
    ],
)
def test_round_numbers_are_digits_or_named(
    commissioner: tuple[FlaskClient, str], fields: dict[str, str], field_words: str
) -> None:
    client, token = commissioner
    form = {"csrf_token": token, "name": "Summer", "pot": "1000", "max_choices": "5", **fields}

    answer = client.post("/commissioner/rounds/new", data=form)

    assert answer.status_code == 400
    text = answer.get_data(as_text=True)
    assert 'class="govuk-error-message"' in text
    if field_words == "real date":
        assert "Enter a real date, like 27 3 2027" in text
