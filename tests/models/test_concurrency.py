"""Several processes taking places and money at once never oversell or overspend.

This checks the connection settings as much as the guards: on SQLite every transaction begins
with BEGIN IMMEDIATE and waits on the busy timeout, so contention means waiting, not
"database is locked" errors.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.queues import Queue

from sqlalchemy import Engine, select, update

from models import Budget, RoundOffer, make_engine, make_session_factory
from tests import factories

PROCESSES = 8
ATTEMPTS_PER_PROCESS = 25
PLACES = 37
BUDGET_PENCE = 10_000
PRICE_PENCE = 300


def _take_places(url: str, round_offer_id: int, budget_id: int, results: Queue) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    taken = 0
    try:
        for _ in range(ATTEMPTS_PER_PROCESS):
            with sessions() as session, session.begin():
                place = session.execute(
                    update(RoundOffer)
                    .where(
                        RoundOffer.id == round_offer_id,
                        RoundOffer.places_taken < RoundOffer.places,
                    )
                    .values(places_taken=RoundOffer.places_taken + 1)
                )
                if place.rowcount != 1:
                    continue
                money = session.execute(
                    update(Budget)
                    .where(
                        Budget.id == budget_id,
                        Budget.committed_pence + PRICE_PENCE <= Budget.amount_pence,
                    )
                    .values(committed_pence=Budget.committed_pence + PRICE_PENCE)
                )
                if money.rowcount != 1:
                    session.rollback()  # the place goes back: no money, no place
                    continue
                taken += 1
        results.put(("ok", taken))
    except Exception as error:  # reported to the parent, which fails the test
        results.put(("error", repr(error)))
    finally:
        engine.dispose()


def test_processes_never_oversell_or_overspend(
    fresh_database_url: str, fresh_engine: Engine
) -> None:
    with make_session_factory(fresh_engine).begin() as session:
        factories.use_session(session)
        try:
            round_offer = factories.RoundOfferFactory(places=PLACES)
            budget = factories.BudgetFactory(round=round_offer.round, amount_pence=BUDGET_PENCE)
            ids = round_offer.id, budget.id
        finally:
            factories.use_session(None)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [
        context.Process(target=_take_places, args=(fresh_database_url, *ids, results))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)

    assert [o for o in outcomes if o[0] == "error"] == []
    accepted = sum(int(o[1]) for o in outcomes)
    expected = min(PLACES, BUDGET_PENCE // PRICE_PENCE)
    with make_session_factory(fresh_engine)() as session:
        places_taken = session.scalar(select(RoundOffer.places_taken).filter_by(id=ids[0]))
        committed = session.scalar(select(Budget.committed_pence).filter_by(id=ids[1]))
    assert accepted == expected
    assert places_taken == accepted
    assert committed == accepted * PRICE_PENCE
