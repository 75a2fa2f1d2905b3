"""A small council for the commissioning tests: a commissioner, offers, people, budgets, choices.

Not a conftest: tests call :func:`make_round` with the ``db_session`` fixture active.

The round ``Spring`` has three offers: ``art`` (2 places, £100), ``cafe`` (1 place, £150) and
``garden`` (2 places, £80). Six people (Ada, Ben, Cal, Dee, Eve, Fay) have budgets and rank
offers; the round is closed, ready for a run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from models import (
    AgeBand,
    Council,
    Offer,
    PersonProfile,
    Provider,
    Round,
    RoundOffer,
    RoundStatus,
    SolverRun,
    User,
)
from models.base import utcnow
from tests import factories
from web.services import allocation_runs as runs
from web.services.jobs import DatabaseJobRunner, claim_next_job, run_job

#: name -> (area, need level, budget in pence, ranked offers)
PEOPLE: dict[str, tuple[str, int, int, list[str]]] = {
    "Ada": ("north", 8, 30_000, ["cafe", "art"]),
    "Ben": ("north", 2, 30_000, ["cafe", "garden"]),
    "Cal": ("south", 5, 12_000, ["art", "garden"]),
    "Dee": ("south", 1, 30_000, ["art", "cafe"]),
    "Eve": ("north", 6, 9_000, ["garden"]),
    "Fay": ("south", 3, 30_000, ["garden", "art"]),
}
OFFERS: dict[str, tuple[int, int]] = {"art": (2, 10_000), "cafe": (1, 15_000), "garden": (2, 8_000)}


@dataclass
class CommissioningWorld:
    session: Session
    council: Council
    commissioner: User
    round: Round
    providers: list[Provider]
    offers: dict[str, Offer] = field(default_factory=dict)
    places: dict[str, RoundOffer] = field(default_factory=dict)
    people: dict[str, PersonProfile] = field(default_factory=dict)

    def by_person_id(self, person_id: int) -> str:
        return next(name for name, p in self.people.items() if p.id == person_id)


def make_round(
    session: Session,
    *,
    status: RoundStatus = RoundStatus.closed,
    mechanism: str = "stable",
    rules: list[dict[str, Any]] | None = None,
    people: dict[str, tuple[str, int, int, list[str]]] | None = None,
    offers: dict[str, tuple[int, int]] | None = None,
    pot_pence: int | None = None,
) -> CommissioningWorld:
    council = factories.CouncilFactory(areas=["north", "south"])
    commissioner = factories.CommissionerFactory(council=council, display_name="Ruth Okonjo")
    providers = [
        factories.ProviderFactory(
            council=council, name="Harbour Works", slug=f"harbour-{council.id}"
        ),
        factories.ProviderFactory(council=council, name="Green Hands", slug=f"green-{council.id}"),
    ]
    round_ = factories.RoundFactory(
        council=council,
        name="Spring",
        status=status,
        mechanism=mechanism,
        rules=rules or [],
        pot_pence=pot_pence,
        time_limit_s=10.0,
        seed=7,
        max_choices=3,
        opened_at=utcnow(),
    )
    world = CommissioningWorld(session, council, commissioner, round_, providers)
    for i, (name, (places, price)) in enumerate((offers or OFFERS).items()):
        offer = factories.OfferFactory(
            provider=providers[i % 2],
            title=name.title(),
            price_pence=price,
            capacity=places,
            area=None,
            location="Online",
            min_age_band=None,
            max_age_band=None,
        )
        world.offers[name] = offer
        world.places[name] = factories.RoundOfferFactory(round=round_, offer=offer, places=places)
    for name, (area, need, budget, ranked) in (people or PEOPLE).items():
        user = factories.UserFactory(
            council=council, display_name=name, email=f"{name.lower()}-{council.id}@example.org"
        )
        person = factories.PersonProfileFactory(
            user=user,
            display_name=name,
            area=area,
            need_level=need,
            age_band=AgeBand.age_25_34,
            availability={},
        )
        world.people[name] = person
        factories.BudgetFactory(round=round_, person=person, amount_pence=budget)
        for rank, offer_name in enumerate(ranked, start=1):
            factories.ChoiceFactory(
                round=round_, person=person, offer=world.offers[offer_name], rank=rank
            )
    session.flush()
    return world


def solved_run(
    world: CommissioningWorld, session_factory: Callable[[], Session], **kwargs: object
) -> SolverRun:
    """Start an allocation run on the world's round and carry it out as the worker would."""
    session = world.session
    run = runs.start_run(
        session, DatabaseJobRunner(session), world.commissioner, world.round, **kwargs
    )
    session.commit()
    job = claim_next_job(session, "worker-test")
    assert job is not None
    assert run_job(session_factory, job, "worker-test", heartbeat_every_s=None)
    session.expire_all()
    return session.get(SolverRun, run.id)
