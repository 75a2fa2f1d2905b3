"""Money and numbers in an imported Open Referral document are taken exactly or refused, never
changed quietly; documents Python alone would accept (NaN, Infinity, deep nesting) are not JSON."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Offer
from models.openreferral import SourceKind
from tests import factories
from web.services.openreferral_import import (
    SourceProblem,
    import_services,
    parse_json,
)


def _service(**extra: Any) -> dict[str, Any]:
    return {
        "id": "svc-1",
        "name": "Gardening club",
        "description": "Every week.",
        "organization": {"id": "org-1", "name": "Green fingers", "description": "Ours."},
        **extra,
    }


def _import(session: Session, service: dict[str, Any]) -> Any:
    council = factories.CouncilFactory(slug="eastholm", areas=["north"])
    return import_services(session, council, [service])


@pytest.mark.parametrize(
    ("amount", "pence"), [(12.5, 1250), (0.29, 29), (19.99, 1999), (7, 700), (0, 0)]
)
def test_pounds_become_exact_pence(db_session: Session, amount: float, pence: int) -> None:
    report = _import(db_session, _service(cost_options=[{"amount": amount, "currency": "GBP"}]))

    assert [r.result for r in report.records] == ["created", "created"]
    assert db_session.scalars(select(Offer.price_pence)).one() == pence


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (12.345, "its cost £12.345 is not a whole number of pence"),
        ("12.50", "its cost amount is not written as a number"),
        (True, "its cost amount is not written as a number"),
        (-1, "its cost is not a sum of money of 0 or more"),
        (float("inf"), "its cost is not a sum of money of 0 or more"),
    ],
)
def test_money_that_is_not_pence_is_refused_not_changed(
    db_session: Session, amount: Any, reason: str
) -> None:
    report = _import(db_session, _service(cost_options=[{"amount": amount, "currency": "GBP"}]))

    refused = {r.kind: r.reason for r in report.records if r.result == "refused"}
    assert refused[SourceKind.service] == reason
    assert db_session.scalars(select(Offer)).all() == []


@pytest.mark.parametrize("field", ["minimum_age", "maximum_age"])
@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_an_age_that_is_not_a_number_is_refused(
    db_session: Session, field: str, value: float
) -> None:
    report = _import(db_session, _service(**{field: value}))

    refused = {r.kind: r.reason for r in report.records if r.result == "refused"}
    assert refused[SourceKind.service] == f"its {field} is not a number"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"amount": NaN}', "NaN is not a number JSON allows"),
        (b'{"amount": Infinity}', "Infinity is not a number JSON allows"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"\xff\xfe{", "not JSON"),
    ],
)
def test_documents_that_are_not_json_are_one_clear_problem(body: bytes, words: str) -> None:
    with pytest.raises(SourceProblem) as caught:
        parse_json(body, "feed.json")

    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("feed.json: not JSON")
    assert words in caught.value.problems[0]
