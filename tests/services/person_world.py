"""A small council for the person-side service tests: one person, a few offers, an open round.

Not a conftest: the tests import :func:`make_world` and call it with the ``db_session`` fixture
active, so other test folders are untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models import (
    AgeBand,
    Budget,
    Council,
    Offer,
    OfferCategory,
    OutcomeTag,
    PersonProfile,
    Round,
    RoundOffer,
    User,
)
from tests import factories


@dataclass
class World:
    council: Council
    person: PersonProfile
    user: User
    round: Round
    budget: Budget
    tags: dict[str, OutcomeTag]
    offers: dict[str, Offer] = field(default_factory=dict)
    places: dict[str, RoundOffer] = field(default_factory=dict)


def make_world(budget_pence: int = 30_000) -> World:
    """Sam (18-24, need 4, Northtown) with wishes for children and paid work; four offers."""
    council = factories.CouncilFactory(areas=["Northtown", "Eastbrook"])
    tags = {
        slug: factories.OutcomeTagFactory(slug=slug, label=label)
        for slug, label in [
            ("work-with-children", "Working with children"),
            ("paid-work", "Getting a paid job"),
            ("music", "Music and singing"),
        ]
    }
    user = factories.UserFactory(council=council, display_name="Sam Taylor")
    person = factories.PersonProfileFactory(
        user=user,
        display_name="Sam Taylor",
        area="Northtown",
        age_band=AgeBand.age_18_24,
        need_level=4,
        latitude=52.60,
        longitude=-1.20,
        max_travel_km=10,
        availability={"mon": ["morning"], "wed": ["morning"]},
        outcome_tags=[tags["work-with-children"], tags["paid-work"]],
    )
    round_ = factories.RoundFactory(council=council, max_choices=3)
    budget = factories.BudgetFactory(round=round_, person=person, amount_pence=budget_pence)
    world = World(council, person, user, round_, budget, tags)
    provider = factories.ProviderFactory(council=council, name="Brightstart Nurseries")
    specs = {
        "nursery": dict(
            title="Nursery assistant placement",
            category=OfferCategory.employment,
            price_pence=12_000,
            outcome_tags=[tags["work-with-children"], tags["paid-work"]],
            latitude=52.643,
            longitude=-1.20,
            schedule={"mon": ["morning"], "wed": ["morning"]},
        ),
        "choir": dict(
            title="Community choir",
            category=OfferCategory.creative,
            price_pence=5_000,
            outcome_tags=[tags["music"]],
            area="Eastbrook",
            schedule={"sat": ["evening"]},
        ),
        "cafe": dict(
            title="Café team member",
            category=OfferCategory.employment,
            price_pence=20_000,
            outcome_tags=[tags["paid-work"]],
        ),
        "dear": dict(
            title="Residential college week",
            category=OfferCategory.training,
            price_pence=45_000,
            outcome_tags=[tags["paid-work"]],
        ),
    }
    for key, spec in specs.items():
        spec.setdefault("area", "Northtown")
        offer = factories.OfferFactory(provider=provider, capacity=2, **spec)
        world.offers[key] = offer
        world.places[key] = factories.RoundOfferFactory(round=round_, offer=offer, places=2)
    return world
