"""10,000 choice, accept and decline attempts across 8 processes: the books still balance.

Two councils share a database of the test's own (a file SQLite database, or a fresh PostgreSQL
database when ``TAPESTRY_TEST_DATABASE_URL`` is set):

- in the first, a round is *published*: people hold offered places, and the processes accept
  and decline them, often racing each other on the same person, place or budget (a declined
  place is offered on at once, inside the same transaction);
- in the second, a round is *open*: the processes add, remove and reorder the same people's
  choices.

Every attempt goes through the real services (``web.services.allocations`` and
``web.services.choices``) in its own transaction, on its own connection, in one of eight
processes. Afterwards:

- no place is oversold: ``places_taken <= places`` and it equals the places held (offered or
  accepted) for every offer; the round's pot is never exceeded by the places held;
- no budget is overspent: ``committed_pence <= amount_pence``, and it equals the sum of the
  live commitments; every accepted paid place has its commitment;
- every acknowledged write is there (accepted, declined, choices added and removed, counted
  from the audit trail, which is written in the same transactions) and nothing else is;
- every person's choices are ranked 1, 2, 3, ... without gaps, at most ``max_choices``;
- the audit trail's hash chain is intact.

The guards are guarded updates whose row counts are checked; the CHECK constraints
``not_oversold`` and ``not_overspent`` are the backstop, shown here refusing raw writes that
skip the guards, even from eight processes at once.
"""

from __future__ import annotations

import multiprocessing
import random
from collections import Counter

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from models import (
    Allocation,
    AllocationStatus,
    AuditEvent,
    Budget,
    Choice,
    PersonProfile,
    RoundOffer,
)
from models.audit import verify_chain
from models.db import make_engine, make_session_factory
from tests import factories
from tests.integrity.worlds import (
    Worlds,
    check_choices,
    check_money,
    check_places,
    open_world,
    publish_world,
)
from web.services import allocations, choices
from web.services.errors import ServiceError

PROCESSES = 8
ATTEMPTS = 10_000
ATTEMPTS_PER_PROCESS = ATTEMPTS // PROCESSES
#: Share of attempts on the open round's choices; the rest accept or decline places.
CHOICE_SHARE = 0.4


# -- one racing process -------------------------------------------------------------------


def _decide(session: Session, rng: random.Random, person_id: int) -> str:
    person = session.get(PersonProfile, person_id)
    assert person is not None
    mine = session.execute(
        select(Allocation.id, Allocation.status).where(Allocation.person_id == person_id)
    ).all()
    if not mine:
        return "nothing"
    offered = [a for a, status in mine if status == AllocationStatus.offered]
    # Mostly places still waiting for an answer; sometimes one already decided (refused).
    pool = offered if offered and rng.random() < 0.85 else [a for a, _ in mine]
    allocation_id = rng.choice(pool)
    if rng.random() < 0.55:
        allocations.accept_place(session, person.user, person, allocation_id)
        return "accepted"
    allocations.decline_place(session, person.user, person, allocation_id)
    return "declined"


def _choose(session: Session, rng: random.Random, person_id: int, offer_ids: list[int]) -> str:
    person = session.get(PersonProfile, person_id)
    assert person is not None
    # Read the list under the same lock the services take, so that the attempt is labelled
    # by what it really did (moving the first choice up leaves the list as it is).
    choices.lock_choices(session, person)
    mine = list(
        session.scalars(
            select(Choice.offer_id).where(Choice.person_id == person_id).order_by(Choice.rank)
        )
    )
    roll = rng.random()
    if roll < 0.45 or not mine:
        choices.add_choice(session, person.user, person, rng.choice(offer_ids))
        return "choice added"
    if roll < 0.75:
        choices.remove_choice(session, person.user, person, rng.choice(mine))
        return "choice removed"
    offer_id, direction = rng.choice(mine), rng.choice(["up", "down"])
    choices.move_choice(session, person.user, person, offer_id, direction)  # type: ignore[arg-type]
    at_the_end = mine.index(offer_id) == (0 if direction == "up" else len(mine) - 1)
    return "choice left in place" if at_the_end else "choice moved"


def _race(url: str, seed: int, worlds: Worlds) -> Counter[str]:
    """Make ``ATTEMPTS_PER_PROCESS`` attempts, each in its own transaction; count what was
    acknowledged (committed), refused by a service, or rolled back by the database."""
    rng = random.Random(seed)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    outcome: Counter[str] = Counter()
    try:
        for _ in range(ATTEMPTS_PER_PROCESS):
            outcome["attempts"] += 1
            with factory() as session:
                try:
                    if rng.random() < CHOICE_SHARE:
                        done = _choose(
                            session, rng, rng.choice(worlds.open_people), worlds.open_offers
                        )
                    else:
                        done = _decide(session, rng, rng.choice(worlds.published_people))
                    session.commit()
                    outcome[done] += 1
                except ServiceError:
                    session.rollback()
                    outcome["refused"] += 1
                except (OperationalError, IntegrityError):
                    # A PostgreSQL deadlock or serialisation victim, or two processes adding
                    # the same rank at once: the database rolled it back and nothing was
                    # acknowledged.
                    session.rollback()
                    outcome["rolled back"] += 1
    finally:
        engine.dispose()
    return outcome


# -- the worlds ---------------------------------------------------------------------------


@pytest.fixture
def worlds(fresh_engine: Engine) -> Worlds:
    with make_session_factory(fresh_engine)() as session:
        factories.use_session(session)
        try:
            published = publish_world(session)
            opened = open_world(session)
        finally:
            factories.use_session(None)
    # The processes are forked: no pooled connection may be shared with them.
    fresh_engine.dispose()
    return Worlds(*published, *opened)


# -- the books ----------------------------------------------------------------------------


def _audited(session: Session, action: str) -> int:
    return session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    )


@pytest.mark.slow
def test_ten_thousand_attempts_in_eight_processes_keep_the_books(
    worlds: Worlds, fresh_database_url: str, fresh_engine: Engine
) -> None:
    with make_session_factory(fresh_engine)() as session:
        choices_before = session.scalar(
            select(func.count()).where(Choice.round_id == worlds.open_round_id)
        )
        added_before = _audited(session, "choice.added")
    context = multiprocessing.get_context("fork")
    with context.Pool(PROCESSES) as pool:
        outcomes = pool.starmap(
            _race, [(fresh_database_url, seed, worlds) for seed in range(PROCESSES)]
        )
    total: Counter[str] = sum(outcomes, Counter())
    print(f"integrity: {dict(total)}")  # shown with -s: how the attempts went
    assert total["attempts"] == ATTEMPTS
    for kind in ("accepted", "declined", "choice added", "choice removed", "refused"):
        assert total[kind] > 0, f"no attempt was {kind}: {total}"

    with make_session_factory(fresh_engine)() as session:
        check_places(session, worlds.published_round_id)
        check_money(session, worlds.published_round_id)
        check_choices(session, worlds.open_round_id)
        # Every acknowledged write is there, and nothing that was not acknowledged.
        accepted, declined = (
            session.scalar(
                select(func.count()).where(
                    Allocation.round_id == worlds.published_round_id, Allocation.status == status
                )
            )
            for status in (AllocationStatus.accepted, AllocationStatus.declined)
        )
        assert accepted == total["accepted"] == _audited(session, "allocation.accept")
        assert declined == total["declined"] == _audited(session, "allocation.decline")
        assert _audited(session, "choice.added") - added_before == total["choice added"]
        assert _audited(session, "choice.removed") == total["choice removed"]
        assert _audited(session, "choice.moved") == total["choice moved"]
        choices_after = session.scalar(
            select(func.count()).where(Choice.round_id == worlds.open_round_id)
        )
        assert choices_after == choices_before + total["choice added"] - total["choice removed"]
        assert verify_chain(session) == []


# -- the backstop -------------------------------------------------------------------------


def _oversell_raw(url: str, round_offer_id: int, budget_id: int, tries: int) -> Counter[str]:
    """A faulty service: add a place and money with no guard at all, by hand-written SQL."""
    engine = make_engine(url)
    outcome: Counter[str] = Counter()
    try:
        for _ in range(tries):
            for statement, params in (
                (
                    "UPDATE round_offers SET places_taken = places_taken + 1 WHERE id = :id",
                    {"id": round_offer_id},
                ),
                (
                    "UPDATE budgets SET committed_pence = committed_pence + 700 WHERE id = :id",
                    {"id": budget_id},
                ),
            ):
                try:
                    with engine.begin() as connection:
                        connection.execute(text(statement), params)
                    outcome["written"] += 1
                except IntegrityError as error:
                    name = "not_oversold" if "not_oversold" in str(error.orig) else "not_overspent"
                    assert name in str(error.orig)
                    outcome[name] += 1
    finally:
        engine.dispose()
    return outcome


def test_check_constraints_refuse_unguarded_writes_from_eight_processes(
    fresh_database_url: str, fresh_engine: Engine
) -> None:
    with make_session_factory(fresh_engine).begin() as session:
        factories.use_session(session)
        try:
            ro = factories.RoundOfferFactory(places=5, places_taken=0)
            budget = factories.BudgetFactory(round=ro.round, amount_pence=10_000)
            ids = ro.id, budget.id
        finally:
            factories.use_session(None)
    fresh_engine.dispose()
    context = multiprocessing.get_context("fork")
    with context.Pool(PROCESSES) as pool:
        outcomes = pool.starmap(
            _oversell_raw, [(fresh_database_url, *ids, 4) for _ in range(PROCESSES)]
        )
    total: Counter[str] = sum(outcomes, Counter())
    # 32 tries at each: 5 places and 14 lots of £7 fit; the CHECKs refuse every other one.
    assert total["written"] == 5 + 14
    assert total["not_oversold"] == 32 - 5
    assert total["not_overspent"] == 32 - 14
    with fresh_engine.connect() as connection:
        taken = connection.scalar(select(RoundOffer.places_taken).where(RoundOffer.id == ids[0]))
        committed = connection.scalar(select(Budget.committed_pence).where(Budget.id == ids[1]))
    assert (taken, committed) == (5, 14 * 700)
