"""People who hold two paid places they cannot both pay for accept both at once, over HTTP.

The issue's target: 0 oversold places and 0 overspent pence stay true through HTTP with people
who hold two paid offers and budgets that cannot pay for both (the integrity world of
``worlds.py`` has only one such person, because the engine's runs keep within budgets). Here
every one of 40 people holds two offered places on different services; either price fits
their budget, both together do not (a budget cut after publication, or a stable run, which does
not enforce budgets, leaves people so).

The real app runs under gunicorn on 127.0.0.1 (two worker processes, several threads each),
on a database of the test's own. All 80 accepts are sent at the same moment. Afterwards each
person has exactly one place accepted and paid for, the other refused with 409 in the one
error shape, saying the budget has not enough money left, and the books balance: no place
oversold, no budget overspent, every accepted paid place has its commitment.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from models import Allocation, AllocationStatus, AuditEvent, Budget, RoundStatus
from models.db import make_session_factory
from tests import factories
from tests.integrity.worlds import check_money, check_places
from tests.serving import serve, signed_in_cookie

PEOPLE = 40
#: Prices of the services in pence; each person holds two neighbours on this list.
PRICES = [12_000, 10_000, 9_000, 11_000, 8_000, 13_000, 7_500, 9_500]


@pytest.fixture
def two_places_each(fresh_engine: Engine) -> tuple[int, dict[int, tuple[list[int], str, int]]]:
    """A published round where each person holds two offered, paid places whose prices
    together exceed their budget: (round id, person id -> (allocation ids, cookie, budget))."""
    with make_session_factory(fresh_engine)() as session:
        factories.use_session(session)
        try:
            council = factories.CouncilFactory()
            round_ = factories.RoundFactory(
                council=council, status=RoundStatus.published, pot_pence=10_000_000
            )
            round_.max_placements = 2
            run = factories.SolverRunFactory(round=round_)
            offers = [
                factories.OfferFactory(provider__council=council, price_pence=price, capacity=0)
                for price in PRICES
            ]
            pairs = [
                (offers[i % len(offers)], offers[(i + 1) % len(offers)]) for i in range(PEOPLE)
            ]
            holders = {offer.id: 0 for offer in offers}
            for first, second in pairs:
                holders[first.id] += 1
                holders[second.id] += 1
            for offer in offers:
                offer.capacity = holders[offer.id]
                factories.RoundOfferFactory(
                    round=round_,
                    offer=offer,
                    places=holders[offer.id],
                    places_taken=holders[offer.id],
                )
            world: dict[int, tuple[list[int], str, int]] = {}
            for first, second in pairs:
                person = factories.PersonProfileFactory(user__council=council)
                # Either place fits the budget; both together do not.
                amount = max(first.price_pence, second.price_pence) + 1_000
                assert amount < first.price_pence + second.price_pence
                factories.BudgetFactory(round=round_, person=person, amount_pence=amount)
                held = [
                    factories.AllocationFactory(
                        run=run, round=round_, person=person, offer=offer, rank=rank
                    )
                    for rank, offer in enumerate((first, second), start=1)
                ]
                world[person.id] = (
                    [a.id for a in held],
                    signed_in_cookie(session, person.user),
                    amount,
                )
            session.commit()
            return round_.id, world
        finally:
            factories.use_session(None)


@pytest.mark.slow
def test_two_paid_places_accepted_at_once_never_overspend(
    two_places_each: tuple[int, dict[int, tuple[list[int], str, int]]],
    fresh_database_url: str,
    fresh_engine: Engine,
    tmp_path: Path,
) -> None:
    round_id, world = two_places_each
    requests = [
        (person_id, allocation_id, cookie)
        for person_id, (ids, cookie, _amount) in world.items()
        for allocation_id in ids
    ]
    fresh_engine.dispose()
    with serve(fresh_database_url, tmp_path, workers=2, threads=8) as server:
        start = threading.Barrier(len(requests))

        def accept(request: tuple[int, int, str]) -> tuple[int, int, int, bytes]:
            person_id, allocation_id, cookie = request
            start.wait(timeout=60)
            status, body, _headers = server.request(
                "POST",
                f"/api/v1/allocations/{allocation_id}/accept",
                body=b"",
                headers={"Cookie": cookie, "X-Requested-With": "fetch"},
            )
            return person_id, allocation_id, status, body

        with ThreadPoolExecutor(len(requests)) as pool:
            answers = list(pool.map(accept, requests))
        log = server.log()

    assert all(status < 500 for _, _, status, _ in answers), log[-3000:]
    by_person: dict[int, list[tuple[int, bytes]]] = {}
    for person_id, _allocation_id, status, body in answers:
        by_person.setdefault(person_id, []).append((status, body))
    for person_id, got in by_person.items():
        statuses = sorted(status for status, _ in got)
        assert statuses == [200, 409], (person_id, statuses, log[-2000:])
        refused = json.loads(next(body for status, body in got if status == 409))
        assert set(refused) == {"code", "status", "message", "errors"}
        assert refused["message"] == "There is not enough money left in your budget for this place."

    with make_session_factory(fresh_engine)() as session:
        check_places(session, round_id)
        check_money(session, round_id)
        for person_id, (_ids, _cookie, amount) in world.items():
            budget = session.scalars(select(Budget).where(Budget.person_id == person_id)).one()
            assert 0 < budget.committed_pence <= amount
            accepted = session.scalar(
                select(func.count()).where(
                    Allocation.person_id == person_id,
                    Allocation.status == AllocationStatus.accepted,
                )
            )
            assert accepted == 1
        assert (
            session.scalar(select(func.count()).where(AuditEvent.action == "allocation.accept"))
            == PEOPLE
        )
