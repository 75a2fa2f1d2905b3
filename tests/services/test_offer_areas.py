"""Offers in several areas: a main area and others, checked, searched, matched, fed and imported."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Offer
from tests import factories
from tests.services.person_world import make_world
from web.services import market, offers, voice
from web.services.catalogue import offer_areas, search_offers
from web.services.errors import InvalidInput
from web.services.matching import OfferFacts, PersonFacts, match_offers
from web.services.openreferral import SERVICE, get_service, record_id
from web.services.openreferral_import import import_services, services_in
from web.services.providers import unmet_aspirations


@pytest.fixture
def org(db_session: Session) -> tuple[Any, Any]:
    council = factories.CouncilFactory(areas=["north", "south", "east", "Café Quarter"])
    provider = factories.ProviderFactory(
        council=council, areas_served=["north", "east", "Café Quarter"]
    )
    member = factories.ProviderMemberFactory(provider=provider).user
    return provider, member


FORM = {
    "title": "Cafe training",
    "description": "Learn to run a cafe counter.",
    "category": "training",
    "price": "45.50",
    "capacity": "8",
    "area": "north",
}


def test_other_areas_are_kept_in_order_without_the_main_one(db_session: Session, org) -> None:
    provider, member = org
    offer = offers.create_offer(
        db_session, member, provider, {**FORM, "other_areas": ["east", "north", "east"]}
    )
    assert offer.other_areas == ["east"]
    assert offer.service_areas == ["north", "east"]
    # A page sends one text; commas split it.
    offer = offers.create_offer(
        db_session, member, provider, {**FORM, "other_areas": "Café Quarter, east"}
    )
    assert offer.service_areas == ["north", "Café Quarter", "east"]


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"other_areas": ["south"]}, "Choose only areas you serve"),
        ({"area": "", "other_areas": ["east"]}, "Choose the main area first"),
        ({"other_areas": 7}, "List the areas"),
    ],
)
def test_wrong_other_areas_are_named(db_session: Session, org, changes, words) -> None:
    provider, member = org
    with pytest.raises(InvalidInput) as raised:
        offers.create_offer(db_session, member, provider, {**FORM, **changes})
    assert set(raised.value.errors) == {"other_areas"}
    assert words in raised.value.errors["other_areas"]


def test_a_partial_change_must_fit_the_areas_stored(db_session: Session, org) -> None:
    provider, member = org
    offer = offers.create_offer(db_session, member, provider, {**FORM, "other_areas": ["east"]})
    # No main area while others remain: refused, and nothing changes.
    with pytest.raises(InvalidInput) as raised:
        offers.update_offer(db_session, member, provider, offer.id, {"area": ""}, partial=True)
    assert "other_areas" in raised.value.errors
    assert offer.area == "north"
    # A further area made the main one leaves the others.
    offers.update_offer(db_session, member, provider, offer.id, {"area": "east"}, partial=True)
    assert offer.service_areas == ["east"]
    offers.update_offer(
        db_session, member, provider, offer.id, {"other_areas": ["north"]}, partial=True
    )
    assert offer.service_areas == ["east", "north"]
    # Both cleared together: online or everywhere.
    offers.update_offer(
        db_session, member, provider, offer.id, {"area": "", "other_areas": []}, partial=True
    )
    assert offer.service_areas == []


def test_the_public_list_finds_an_offer_by_any_of_its_areas(db_session: Session, org) -> None:
    provider, member = org
    both = offers.create_offer(
        db_session, member, provider, {**FORM, "other_areas": ["Café Quarter"]}
    )
    offers.publish_offer(db_session, member, provider, both.id)
    only = offers.create_offer(db_session, member, provider, {**FORM, "title": "North only"})
    offers.publish_offer(db_session, member, provider, only.id)

    def titles(area: str) -> set[str]:
        return {o.title for o in offers.published_offers(db_session, area=area).items}

    assert titles("north") == {"Cafe training", "North only"}
    assert titles("Café Quarter") == {"Cafe training"}
    assert titles("Café") == set()  # a whole area, never a part of one
    assert titles("café quarter") == set()  # exactly, as the main area is, on every database
    assert titles("100%") == set()
    assert titles("east") == set()


def test_a_person_in_any_of_its_areas_lives_in_its_area() -> None:
    person = PersonFacts(budget_pence=10_000, area="south")
    far = OfferFacts(id="a", title="A", price_pence=100, area="north")
    near = OfferFacts(id="b", title="B", price_pence=100, area="north", other_areas=("south",))
    by_id = {m.offer.id: m for m in match_offers(person, [far, near])}
    words = [r.text for r in by_id["b"].reasons if r.part == "place"]
    assert words == ["It is in south, where you live."]
    assert by_id["b"].score > by_id["a"].score


def test_search_and_its_area_list_use_every_area(db_session: Session) -> None:
    w = make_world()
    cafe = w.offers["cafe"]
    cafe.other_areas = ["Eastbrook"]
    db_session.flush()
    w.offers["choir"].area = "Northtown"
    db_session.flush()
    assert "Eastbrook" in offer_areas(db_session, w.person)
    page = search_offers(db_session, w.user, w.person, area="Eastbrook")
    found = {i.offer.title for i in page.items}
    assert cafe.title in found


def test_unmet_outcomes_count_an_offer_in_each_of_its_areas(db_session: Session) -> None:
    council = factories.CouncilFactory(areas=["north", "east"])
    tag = factories.OutcomeTagFactory(slug="friends", label="Making friends")
    provider = factories.ProviderFactory(council=council, areas_served=["north", "east"])
    person = factories.PersonProfileFactory(user__council=council, area="east", outcome_tags=[tag])
    assert person.area == "east"
    offer = factories.OfferFactory(provider=provider, area="north", outcome_tags=[tag])
    db_session.flush()
    assert [(u.area, u.tag.slug) for u in unmet_aspirations(db_session, provider)] == [
        ("east", "friends")
    ]
    offer.other_areas = ["east"]
    db_session.flush()
    assert unmet_aspirations(db_session, provider) == []


def test_the_feed_gives_every_area_main_first_and_an_import_keeps_them(
    db_session: Session, org
) -> None:
    provider, member = org
    offer = offers.create_offer(
        db_session, member, provider, {**FORM, "other_areas": ["Café Quarter", "east"]}
    )
    offers.publish_offer(db_session, member, provider, offer.id)
    document = get_service(
        db_session, provider.council, record_id(SERVICE, offer.id), "https://feed.example"
    )
    assert [a["name"] for a in document["service_areas"]] == ["north", "Café Quarter", "east"]

    other = factories.CouncilFactory(slug="elsewhere", areas=["east", "north", "Café Quarter"])
    document["service_areas"].insert(1, {"id": "x", "name": "Nowhere"})
    report = import_services(db_session, other, services_in(document, "feed"))
    [service] = [r for r in report.records if r.kind.value == "service"]
    assert service.result == "created"
    assert any("not one of the council's areas" in n for n in service.notes)
    copy = db_session.scalars(select(Offer).where(Offer.id != offer.id)).one()
    assert copy.service_areas == ["north", "Café Quarter", "east"]
    # The copy's provider serves them all, in the council's order.
    assert copy.provider.areas_served == ["east", "north", "Café Quarter"]


def test_the_market_statement_prices_an_offer_in_each_of_its_areas(
    db_session: Session, org
) -> None:
    provider, member = org
    provider.council.slug = "riverford"
    cheap = offers.create_offer(
        db_session, member, provider, {**FORM, "price": "10.00", "other_areas": ["east"]}
    )
    dear = offers.create_offer(db_session, member, provider, {**FORM, "price": "30.01"})
    for offer in (cheap, dear):
        offers.publish_offer(db_session, member, provider, offer.id)
    statement = market.market_statement(db_session, "riverford")
    prices = {(r["category"], r["area"]): r for r in statement.tables["prices"].rows}
    assert set(prices) == {("training", "north"), ("training", "east")}
    north, east = prices[("training", "north")], prices[("training", "east")]
    assert (north["offers"], north["lowest_price_pence"], north["highest_price_pence"]) == (
        2,
        1000,
        3001,
    )
    assert north["average_price_pence"] == 2001  # 2000.5, halves up
    assert (east["offers"], east["average_price_pence"]) == (1, 1000)


def test_the_commissioner_and_the_statement_count_an_offer_in_each_of_its_areas(
    db_session: Session,
) -> None:
    council = factories.CouncilFactory(slug="riverford", areas=["north", "east"])
    tag = factories.OutcomeTagFactory(slug="friends", label="Making friends")
    provider = factories.ProviderFactory(council=council, areas_served=["north", "east"])
    for area in ("east", "north") * 10:
        factories.PersonProfileFactory(user__council=council, area=area, outcome_tags=[tag])
    commissioner = factories.UserFactory(council=council, role="commissioner")
    # The further area repeats the main one: it is still one offer there.
    offer = factories.OfferFactory(
        provider=provider, area="north", other_areas=["north"], outcome_tags=[tag]
    )
    db_session.flush()

    def counts(area: str) -> tuple[int, int | None]:
        [row] = [u for u in voice.unmet_aspirations(db_session, commissioner) if u.area == area]
        statement = market.market_statement(db_session, "riverford")
        [cell] = [r for r in statement.tables["unmet"].rows if r["area"] == area]
        return row.offers, cell["offers"]

    assert (counts("north"), counts("east")) == ((1, 1), (0, 0))
    offer.other_areas = ["east", "north"]
    db_session.flush()
    assert (counts("north"), counts("east")) == ((1, 1), (1, 1))
