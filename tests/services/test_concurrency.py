"""Eight processes accepting and declining places at once never oversell or overspend.

The round is published on a database of the test's own (a file SQLite database, or a
PostgreSQL database when ``TAPESTRY_TEST_DATABASE_URL`` is set). Then eight processes, each
with its own connection, pick people at random and accept or decline their offered places,
racing each other on the same people, places and budgets; declined places are offered on at
once. Afterwards the books must balance: places taken equal places held and never exceed the
places; committed money equals the live commitments and never exceeds a budget; nobody holds
more places than allowed or the same offer twice.
"""

from __future__ import annotations

import multiprocessing
import random
from collections import Counter

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models import Allocation, AllocationStatus, Budget, Commitment, Round, RoundOffer
from models.db import make_engine, make_session_factory
from tests import factories
from tests.services.commissioning_world import make_round
from web.services import allocation_runs as runs
from web.services import allocations
from web.services.errors import ServiceError
from web.services.jobs import DatabaseJobRunner, claim_next_job, run_job

PROCESSES = 8
ACTIONS_PER_PROCESS = 30
HELD = (AllocationStatus.offered, AllocationStatus.accepted)


def _people(count: int, seed: int) -> dict[str, tuple[str, int, int, list[str]]]:
    rng = random.Random(seed)
    names = ["art", "cafe", "garden", "music", "sport"]
    people = {}
    for i in range(count):
        ranked = rng.sample(names, k=rng.randint(2, 4))
        people[f"P{i:02d}"] = (
            rng.choice(["north", "south"]),
            rng.randint(0, 10),
            rng.choice([9_000, 15_000, 20_000, 26_000]),
            ranked,
        )
    return people


OFFERS = {
    "art": (3, 10_000),
    "cafe": (2, 15_000),
    "garden": (4, 8_000),
    "music": (2, 12_000),
    "sport": (3, 6_000),
}


def _act(url: str, seed: int, person_ids: list[int]) -> Counter[str]:
    """One racing process: accept or decline a random person's offered place, many times."""
    rng = random.Random(seed)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    outcome: Counter[str] = Counter()
    try:
        for _ in range(ACTIONS_PER_PROCESS):
            person_id = rng.choice(person_ids)
            with factory() as session:
                try:
                    from models import PersonProfile

                    person = session.get(PersonProfile, person_id)
                    assert person is not None
                    offered = session.scalars(
                        select(Allocation.id).where(
                            Allocation.person_id == person_id,
                            Allocation.status == AllocationStatus.offered,
                        )
                    ).all()
                    if not offered:
                        outcome["nothing to decide"] += 1
                        session.rollback()
                        continue
                    allocation_id = rng.choice(offered)
                    if rng.random() < 0.55:
                        allocations.accept_place(session, person.user, person, allocation_id)
                        outcome["accepted"] += 1
                    else:
                        allocations.decline_place(session, person.user, person, allocation_id)
                        outcome["declined"] += 1
                    session.commit()
                except ServiceError:
                    session.rollback()
                    outcome["refused"] += 1
                except OperationalError:  # PostgreSQL deadlock victim: it rolls back, no harm
                    session.rollback()
                    outcome["retried"] += 1
    finally:
        engine.dispose()
    return outcome


@pytest.fixture
def published_round(fresh_engine: Engine, fresh_database_url: str) -> tuple[int, list[int]]:
    factory = make_session_factory(fresh_engine)
    with factory() as session:
        factories.use_session(session)
        try:
            world = make_round(
                session, mechanism="welfare", people=_people(40, seed=4), offers=OFFERS
            )
            world.round.max_placements = 2
            session.commit()
            run = runs.start_run(
                session, DatabaseJobRunner(session), world.commissioner, world.round
            )
            session.commit()
            job = claim_next_job(session, "test-worker")
            assert job is not None
            assert run_job(factory, job, "test-worker", heartbeat_every_s=None)
            session.expire_all()
            run = session.get(type(run), run.id)
            assert run.status_of_result in ("optimal", "feasible")
            allocations.publish_run(session, world.commissioner, world.round, run)
            session.commit()
            return world.round.id, [p.id for p in world.people.values()]
        finally:
            factories.use_session(None)


def _check_books(session: Session, round_id: int) -> None:
    for ro in session.scalars(select(RoundOffer).where(RoundOffer.round_id == round_id)):
        holding = session.scalar(
            select(func.count()).where(
                Allocation.round_id == round_id,
                Allocation.offer_id == ro.offer_id,
                Allocation.status.in_(HELD),
            )
        )
        assert ro.places_taken == holding, f"offer {ro.offer_id}: books do not balance"
        assert ro.places_taken <= ro.places, f"offer {ro.offer_id} is oversold"
    for budget in session.scalars(select(Budget).where(Budget.round_id == round_id)):
        live = session.scalar(
            select(func.coalesce(func.sum(Commitment.amount_pence), 0)).where(
                Commitment.budget_id == budget.id, Commitment.released_at.is_(None)
            )
        )
        assert budget.committed_pence == live, f"budget {budget.id}: books do not balance"
        assert budget.committed_pence <= budget.amount_pence, f"budget {budget.id} overspent"
        offered = session.scalar(
            select(func.coalesce(func.sum(Allocation.price_pence), 0)).where(
                Allocation.round_id == round_id,
                Allocation.person_id == budget.person_id,
                Allocation.status == AllocationStatus.offered,
            )
        )
        assert budget.committed_pence + offered <= budget.amount_pence
    per_person = Counter(
        session.scalars(
            select(Allocation.person_id).where(
                Allocation.round_id == round_id, Allocation.status.in_(HELD)
            )
        )
    )
    assert max(per_person.values(), default=0) <= 2
    accepted_without_money = session.scalar(
        select(func.count())
        .select_from(Allocation)
        .outerjoin(Commitment, Commitment.allocation_id == Allocation.id)
        .where(
            Allocation.status == AllocationStatus.accepted,
            Allocation.price_pence > 0,
            Commitment.id.is_(None),
        )
    )
    assert accepted_without_money == 0


@pytest.mark.slow
def test_eight_processes_never_oversell_or_overspend(
    published_round: tuple[int, list[int]], fresh_database_url: str, fresh_engine: Engine
) -> None:
    round_id, person_ids = published_round
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        outcomes = pool.starmap(
            _act, [(fresh_database_url, seed, person_ids) for seed in range(PROCESSES)]
        )
    total: Counter[str] = sum(outcomes, Counter())
    assert total["accepted"] > 0 and total["declined"] > 0
    with make_session_factory(fresh_engine)() as session:
        _check_books(session, round_id)
        accepted = session.scalar(
            select(func.count()).where(
                Allocation.round_id == round_id, Allocation.status == AllocationStatus.accepted
            )
        )
        assert accepted == total["accepted"]


def _provide(url: str, seed: int, offer_ids: list[int]) -> Counter[str]:
    """A racing provider: cut or raise capacity, withdraw and publish again, many times."""
    from models import Offer, OfferStatus
    from web.services import offers

    rng = random.Random(seed)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    outcome: Counter[str] = Counter()
    try:
        for _ in range(ACTIONS_PER_PROCESS):
            with factory() as session:
                try:
                    offer = session.get(Offer, rng.choice(offer_ids))
                    assert offer is not None
                    member = offer.provider.members[0].user
                    if offer.status == OfferStatus.withdrawn:
                        offers.publish_offer(session, member, offer.provider, offer.id)
                        outcome["published"] += 1
                    elif rng.random() < 0.5:
                        offers.withdraw_offer(session, member, offer.provider, offer.id)
                        outcome["withdrawn"] += 1
                    else:
                        capacity = rng.randint(0, 4)
                        offers.set_capacity(session, member, offer.provider, offer.id, capacity)
                        outcome["capacity"] += 1
                    session.commit()
                except ServiceError:
                    session.rollback()
                    outcome["refused"] += 1
                except OperationalError:
                    session.rollback()
                    outcome["retried"] += 1
    finally:
        engine.dispose()
    return outcome


@pytest.mark.slow
def test_providers_racing_people_never_pull_a_place_from_under_them(
    published_round: tuple[int, list[int]], fresh_database_url: str, fresh_engine: Engine
) -> None:
    from models import Offer, OfferStatus, Provider

    round_id, person_ids = published_round
    with make_session_factory(fresh_engine)() as session:
        factories.use_session(session)
        try:
            for provider in session.scalars(select(Provider)):
                factories.ProviderMemberFactory(provider=provider)
            session.commit()
        finally:
            factories.use_session(None)
        offer_ids = list(
            session.scalars(select(RoundOffer.offer_id).where(RoundOffer.round_id == round_id))
        )
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        people = [
            pool.apply_async(_act, (fresh_database_url, seed, person_ids)) for seed in range(5)
        ]
        makers = [
            pool.apply_async(_provide, (fresh_database_url, 100 + seed, offer_ids))
            for seed in range(3)
        ]
        done = [r.get() for r in people + makers]
    providers: Counter[str] = sum(done[5:], Counter())
    assert providers["refused"] > 0  # some cuts and withdrawals met places people hold
    with make_session_factory(fresh_engine)() as session:
        _check_books(session, round_id)
        for ro in session.scalars(select(RoundOffer).where(RoundOffer.round_id == round_id)):
            offer = session.get(Offer, ro.offer_id)
            assert offer is not None
            assert ro.places <= offer.capacity, f"offer {offer.id} has more places than capacity"
            if offer.status != OfferStatus.published:
                assert ro.places_taken == 0, f"withdrawn offer {offer.id} still holds places"


def _commission(url: str, seed: int, round_id: int) -> Counter[str]:
    """A racing commissioner: move people's places to other offers, or take them away."""
    from models import Round, User
    from models.accounts import Role
    from web.services import place_moves

    rng = random.Random(seed)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    outcome: Counter[str] = Counter()
    try:
        for _ in range(ACTIONS_PER_PROCESS):
            with factory() as session:
                try:
                    round_ = session.get(Round, round_id)
                    assert round_ is not None
                    actor = session.scalars(
                        select(User).where(
                            User.council_id == round_.council_id, User.role == Role.commissioner
                        )
                    ).one()
                    held = place_moves.held_places(session, round_)
                    if not held:
                        outcome["nothing"] += 1
                        continue
                    place = rng.choice(held)
                    targets = place_moves.move_targets(session, round_, place)
                    if targets and rng.random() < 0.7:
                        place_moves.move_place(
                            session,
                            actor,
                            round_,
                            place.id,
                            to_offer_id=rng.choice(targets).offer_id,
                            reason="Racing test",
                            consent=True,
                        )
                        outcome["moved"] += 1
                    else:
                        place_moves.release_place(
                            session, actor, round_, place.id, reason="Racing test"
                        )
                        outcome["released"] += 1
                    session.commit()
                except ServiceError:
                    session.rollback()
                    outcome["refused"] += 1
                except OperationalError:
                    session.rollback()
                    outcome["retried"] += 1
    finally:
        engine.dispose()
    return outcome


@pytest.mark.slow
def test_the_council_moving_places_while_people_answer_keeps_the_books(
    published_round: tuple[int, list[int]], fresh_database_url: str, fresh_engine: Engine
) -> None:
    round_id, person_ids = published_round
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        people = [
            pool.apply_async(_act, (fresh_database_url, seed, person_ids)) for seed in range(5)
        ]
        council = [
            pool.apply_async(_commission, (fresh_database_url, 200 + seed, round_id))
            for seed in range(3)
        ]
        done = [r.get() for r in people + council]
    moves: Counter[str] = sum(done[5:], Counter())
    assert moves["moved"] + moves["released"] > 0
    with make_session_factory(fresh_engine)() as session:
        _check_books(session, round_id)


def _cycle(url: str, seed: int, person_ids: list[int]) -> Counter[str]:
    """People accept, decline and give up places while their other offers run out of time."""
    from datetime import timedelta

    from sqlalchemy import update

    from models import PersonProfile
    from models.base import utcnow
    from web.services import places_cycle

    rng = random.Random(seed)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    outcome: Counter[str] = Counter()
    try:
        for _ in range(ACTIONS_PER_PROCESS):
            person_id = rng.choice(person_ids)
            with factory() as session:
                try:
                    person = session.get(PersonProfile, person_id)
                    assert person is not None
                    mine = session.scalars(
                        select(Allocation).where(
                            Allocation.person_id == person_id, Allocation.status.in_(HELD)
                        )
                    ).all()
                    if not mine:
                        outcome["nothing to do"] += 1
                        session.rollback()
                        continue
                    place = rng.choice(mine)
                    roll = rng.random()
                    if place.status == AllocationStatus.accepted:
                        places_cycle.give_up_place(session, person.user, person, place.id)
                        outcome["given up"] += 1
                    elif roll < 0.4:
                        allocations.accept_place(session, person.user, person, place.id)
                        outcome["accepted"] += 1
                    elif roll < 0.6:
                        allocations.decline_place(session, person.user, person, place.id)
                        outcome["declined"] += 1
                    else:  # let the deadline pass, then look as a worker's poll does
                        session.execute(
                            update(Allocation)
                            .where(Allocation.id == place.id)
                            .values(answer_by=utcnow() - timedelta(seconds=1))
                        )
                        session.commit()
                        outcome["expired"] += places_cycle.sweep(factory)
                    session.commit()
                except ServiceError:
                    session.rollback()
                    outcome["refused"] += 1
                except OperationalError:  # PostgreSQL deadlock victim: it rolls back, no harm
                    session.rollback()
                    outcome["retried"] += 1
    finally:
        engine.dispose()
    return outcome


@pytest.mark.slow
def test_deadlines_giving_up_and_re_offers_racing_keep_the_books(
    published_round: tuple[int, list[int]], fresh_database_url: str, fresh_engine: Engine
) -> None:
    round_id, person_ids = published_round
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        outcomes = pool.starmap(
            _cycle, [(fresh_database_url, 300 + seed, person_ids) for seed in range(PROCESSES)]
        )
    total: Counter[str] = sum(outcomes, Counter())
    assert total["expired"] > 0 and total["given up"] > 0 and total["accepted"] > 0
    with make_session_factory(fresh_engine)() as session:
        _check_books(session, round_id)
        # Every place that came free went on to someone who could take it, or stayed free
        # because nobody waiting could.
        from web.services import places_cycle

        round_ = session.get(Round, round_id)
        assert round_ is not None
        for free in places_cycle.round_cycle(session, round_).free_places:
            assert free.waiting == 0, f"{free.offer.title} has a free place and people waiting"
