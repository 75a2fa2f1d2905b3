"""The councils the integrity and fault tests race on, and the checks that the books balance.

Not a conftest: tests import these with a session on a database of their own.

- :func:`publish_world`: a council whose round is published (60 people, six offers with few
  places, a pot, at most two places each), so people hold offered places to accept or decline.
- :func:`open_world`: a council whose round is open, with 40 people making choices.
- :func:`check_places`, :func:`check_money`, :func:`check_choices`: the invariants.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import (
    Allocation,
    AllocationStatus,
    Budget,
    Choice,
    Commitment,
    Round,
    RoundOffer,
    RoundStatus,
)
from models.db import make_session_factory
from tests.services.commissioning_world import make_round
from web.services import allocation_runs as runs
from web.services import allocations
from web.services.jobs import DatabaseJobRunner, claim_next_job, run_job

HELD = (AllocationStatus.offered, AllocationStatus.accepted)
MAX_PLACEMENTS = 2

#: name -> (places, price in pence): about 50 places for 60 people with two places each.
OFFERS = {
    "art": (9, 10_000),
    "cafe": (6, 15_000),
    "garden": (10, 8_000),
    "music": (6, 12_000),
    "sport": (9, 6_000),
    "swim": (6, 0),
}


def people(count: int, seed: int, most: int) -> dict[str, tuple[str, int, int, list[str]]]:
    rng = random.Random(seed)
    names = list(OFFERS)
    return {
        f"P{i:02d}": (
            rng.choice(["north", "south"]),
            rng.randint(0, 10),
            rng.choice([9_000, 15_000, 20_000, 26_000]),
            rng.sample(names, k=rng.randint(2, most)),
        )
        for i in range(count)
    }


@dataclass(frozen=True)
class Worlds:
    published_round_id: int
    published_people: list[int]
    open_round_id: int
    open_people: list[int]
    open_offers: list[int]


def publish_world(session: Session) -> tuple[int, list[int]]:
    """Publish a welfare run of a 60-person round; returns (round id, person ids). Commits."""
    ranked_by = people(60, seed=11, most=5)
    first_choices = sum(OFFERS[ranked[0]][1] for _, _, _, ranked in ranked_by.values())
    world = make_round(
        session,
        mechanism="welfare",
        people=ranked_by,
        offers=OFFERS,
        pot_pence=first_choices * 2 // 3,
    )
    world.round.max_placements = MAX_PLACEMENTS
    session.commit()
    factory = make_session_factory(session.get_bind())  # type: ignore[arg-type]
    run = runs.start_run(session, DatabaseJobRunner(session), world.commissioner, world.round)
    session.commit()
    job = claim_next_job(session, "integrity-test")
    assert job is not None
    assert run_job(factory, job, "integrity-test", heartbeat_every_s=None)
    session.expire_all()
    run = session.get(type(run), run.id)
    assert run is not None and run.status_of_result in ("optimal", "feasible")
    allocations.publish_run(session, world.commissioner, world.round, run)
    session.commit()
    return world.round.id, [p.id for p in world.people.values()]


def open_world(session: Session) -> tuple[int, list[int], list[int]]:
    """An open round for 40 people; returns (round id, person ids, offer ids). Commits."""
    world = make_round(
        session, status=RoundStatus.open, people=people(40, seed=12, most=3), offers=OFFERS
    )
    for offer in world.offers.values():
        offer.schedule = {}
    session.commit()
    return (
        world.round.id,
        [p.id for p in world.people.values()],
        [o.id for o in world.offers.values()],
    )


def check_places(session: Session, round_id: int) -> None:
    round_ = session.get(Round, round_id)
    assert round_ is not None
    for ro in session.scalars(select(RoundOffer).where(RoundOffer.round_id == round_id)):
        held = session.scalar(
            select(func.count()).where(
                Allocation.round_id == round_id,
                Allocation.offer_id == ro.offer_id,
                Allocation.status.in_(HELD),
            )
        )
        assert ro.places_taken <= ro.places, f"offer {ro.offer_id} is oversold"
        assert ro.places_taken == held, f"offer {ro.offer_id}: places taken {ro.places_taken}"
    spend = session.scalar(
        select(func.coalesce(func.sum(Allocation.price_pence), 0)).where(
            Allocation.round_id == round_id, Allocation.status.in_(HELD)
        )
    )
    assert round_.pot_pence is not None and spend <= round_.pot_pence, "the pot is overspent"
    per_person = Counter(
        session.scalars(
            select(Allocation.person_id).where(
                Allocation.round_id == round_id, Allocation.status.in_(HELD)
            )
        )
    )
    assert max(per_person.values(), default=0) <= MAX_PLACEMENTS
    twice = session.execute(
        select(Allocation.person_id, Allocation.offer_id)
        .where(Allocation.round_id == round_id, Allocation.status.in_(HELD))
        .group_by(Allocation.person_id, Allocation.offer_id)
        .having(func.count() > 1)
    ).all()
    assert twice == []


def check_money(session: Session, round_id: int) -> None:
    for budget in session.scalars(select(Budget).where(Budget.round_id == round_id)):
        live = session.scalar(
            select(func.coalesce(func.sum(Commitment.amount_pence), 0)).where(
                Commitment.budget_id == budget.id, Commitment.released_at.is_(None)
            )
        )
        assert budget.committed_pence <= budget.amount_pence, f"budget {budget.id} overspent"
        assert budget.committed_pence == live, f"budget {budget.id}: committed {live} in rows"
    unpaid = session.scalar(
        select(func.count())
        .select_from(Allocation)
        .outerjoin(Commitment, Commitment.allocation_id == Allocation.id)
        .where(
            Allocation.round_id == round_id,
            Allocation.status == AllocationStatus.accepted,
            Allocation.price_pence > 0,
            Commitment.id.is_(None),
        )
    )
    assert unpaid == 0


def check_choices(session: Session, round_id: int) -> None:
    max_choices = session.scalar(select(Round.max_choices).where(Round.id == round_id))
    ranks: dict[int, list[int]] = {}
    for person_id, rank in session.execute(
        select(Choice.person_id, Choice.rank)
        .where(Choice.round_id == round_id)
        .order_by(Choice.person_id, Choice.rank)
    ):
        ranks.setdefault(person_id, []).append(rank)
    for person_id, got in ranks.items():
        assert got == list(range(1, len(got) + 1)), f"person {person_id}: ranks {got}"
        assert max_choices is not None and len(got) <= max_choices
