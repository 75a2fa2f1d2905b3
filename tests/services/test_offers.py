"""Providers' offers: validation beside each field, publish and withdraw, capacity, public reads."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEvent, OfferCategory, OfferStatus, RoundStatus
from tests import factories
from web.services import offers
from web.services.errors import Conflict, InvalidInput, NotAllowed, NotFound


@pytest.fixture
def org(db_session: Session):  # type: ignore[no-untyped-def]
    council = factories.CouncilFactory(areas=["north", "south", "east"])
    provider = factories.ProviderFactory(council=council, areas_served=["north", "east"])
    member = factories.ProviderMemberFactory(provider=provider).user
    tag = factories.OutcomeTagFactory(slug="paid-work", label="Getting a paid job")
    return provider, member, tag


def form(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "title": "Cafe training",
        "description": "Learn to run a cafe counter.",
        "category": "training",
        "tags": ["paid-work"],
        "price": "45.50",
        "capacity": "8",
        "area": "north",
        "location": "The Old Mill",
        "min_age_band": "18-24",
        "max_age_band": "35-49",
        "min_need_level": "",
        "max_need_level": "6",
        "eligibility_text": "",
        "schedule": {"mon": ["morning"], "thu": ["afternoon", "morning"]},
        "accessibility": "Step-free",
    }
    data.update(changes)
    return data


def test_create_turns_pounds_into_pence_and_starts_as_a_draft(db_session, org) -> None:
    provider, member, tag = org
    offer = offers.create_offer(db_session, member, provider, form())
    assert offer.status == OfferStatus.draft
    assert offer.price_pence == 4550
    assert offer.capacity == 8
    assert offer.category == OfferCategory.training
    assert [t.slug for t in offer.outcome_tags] == ["paid-work"]
    assert offer.schedule == {"mon": ["morning"], "thu": ["morning", "afternoon"]}
    assert offer.min_need_level is None and offer.max_need_level == 6
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "offer.created")).one()
    assert event.actor_user_id == member.id and event.object_id == str(offer.id)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "  "}, "title"),
        ({"description": ""}, "description"),
        ({"category": "juggling"}, "category"),
        ({"tags": ["no-such-tag"]}, "tags"),
        ({"price": "12.345"}, "price"),
        ({"price": "ten pounds"}, "price"),
        ({"price": ""}, "price"),
        ({"capacity": "-1"}, "capacity"),
        ({"capacity": "two"}, "capacity"),
        ({"capacity": ""}, "capacity"),
        ({"area": "south"}, "area"),  # the council's, but not served by this provider
        ({"min_age_band": "35-49", "max_age_band": "18-24"}, "max_age_band"),
        ({"min_need_level": "7", "max_need_level": "2"}, "max_need_level"),
        ({"max_need_level": "11"}, "max_need_level"),
        ({"schedule": {"someday": ["morning"]}}, "schedule"),
        ({"postcode": "not a postcode"}, "postcode"),
        ({"postcode": "EX1"}, "postcode"),  # a district is not a place's postcode
        ({"town": "x" * 101}, "town"),
        ({"languages": ["x" * 61]}, "languages"),
        ({"languages": [f"Language {n}" for n in range(21)]}, "languages"),
        ({"contact_name": "x" * 201}, "contact_name"),
    ],
)
def test_each_wrong_field_is_named(db_session, org, changes, field) -> None:
    provider, member, _ = org
    with pytest.raises(InvalidInput) as caught:
        offers.create_offer(db_session, member, provider, form(**changes))
    assert field in caught.value.errors


def test_the_address_is_tidied_and_languages_split_at_commas(db_session, org) -> None:
    provider, member, _ = org
    offer = offers.create_offer(
        db_session,
        member,
        provider,
        form(
            address_line=" 12 Mill Lane ",
            town="Westmere",
            postcode="  tr1   1aa ",
            languages="Polish,  british sign language , polish,",
            contact_name="Sam, the group leader",
        ),
    )
    assert (offer.address_line, offer.town, offer.postcode) == (
        "12 Mill Lane",
        "Westmere",
        "TR1 1AA",
    )
    assert offer.languages == ["Polish", "british sign language"]
    assert offer.contact_name == "Sam, the group leader"
    assert offers.normal_postcode("SW1A1AA") == "SW1A 1AA"

    changed = offers.update_offer(
        db_session, member, provider, offer.id, {"postcode": "", "languages": []}, partial=True
    )
    assert (changed.postcode, changed.languages, changed.town) == (None, [], "Westmere")


def test_every_problem_is_reported_at_once(db_session, org) -> None:
    provider, member, _ = org
    with pytest.raises(InvalidInput) as caught:
        offers.create_offer(db_session, member, provider, form(title="", price="x", capacity="-3"))
    assert set(caught.value.errors) == {"title", "price", "capacity"}


def test_unknown_fields_are_refused(db_session, org) -> None:
    provider, member, _ = org
    with pytest.raises(InvalidInput) as caught:
        offers.create_offer(db_session, member, provider, form(status="published"))
    assert "status" in caught.value.errors


def test_publish_withdraw_and_publish_again(db_session, org) -> None:
    provider, member, _ = org
    offer = offers.create_offer(db_session, member, provider, form())
    offers.publish_offer(db_session, member, provider, offer.id)
    assert offer.status == OfferStatus.published and offer.published_at is not None
    with pytest.raises(Conflict):
        offers.publish_offer(db_session, member, provider, offer.id)
    offers.withdraw_offer(db_session, member, provider, offer.id)
    assert offer.status == OfferStatus.withdrawn and offer.withdrawn_at is not None
    with pytest.raises(Conflict):
        offers.withdraw_offer(db_session, member, provider, offer.id)
    with pytest.raises(NotFound):
        offers.published_offer(db_session, offer.id)
    offers.publish_offer(db_session, member, provider, offer.id)
    assert offers.published_offer(db_session, offer.id) is offer
    actions = list(
        db_session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "offer")
            .order_by(AuditEvent.id)
        )
    )
    assert actions == [
        "offer.created",
        "offer.published",
        "offer.withdrawn",
        "offer.published",
    ]


def test_partial_update_changes_only_what_is_given(db_session, org) -> None:
    provider, member, _ = org
    offer = offers.create_offer(db_session, member, provider, form())
    offers.update_offer(db_session, member, provider, offer.id, {"price_pence": 5000}, partial=True)
    assert offer.price_pence == 5000 and offer.title == "Cafe training"
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "offer.updated")).one()
    assert event.details["changed"] == ["price_pence"]


def test_capacity_moves_places_in_open_rounds_and_lowers_settled_ones(db_session, org) -> None:
    provider, member, _ = org
    offer = factories.OfferFactory(provider=provider, capacity=6)
    open_round = factories.RoundOfferFactory(
        round=factories.RoundFactory(council=provider.council), offer=offer, places=6
    )
    closed_round = factories.RoundOfferFactory(
        round=factories.RoundFactory(council=provider.council, status=RoundStatus.closed),
        offer=offer,
        places=6,
    )
    small_published = factories.RoundOfferFactory(
        round=factories.RoundFactory(council=provider.council, status=RoundStatus.published),
        offer=offer,
        places=2,
        places_taken=2,
    )
    offers.set_capacity(db_session, member, provider, offer.id, "3")
    for round_offer in (open_round, closed_round, small_published):
        db_session.refresh(round_offer)
    assert offer.capacity == 3
    assert open_round.places == 3
    assert closed_round.places == 3  # a settled round never has more places than the service
    assert small_published.places == 2  # and keeps fewer when it had fewer
    offers.set_capacity(db_session, member, provider, offer.id, "9")
    for round_offer in (open_round, closed_round, small_published):
        db_session.refresh(round_offer)
    assert (open_round.places, closed_round.places, small_published.places) == (9, 3, 2)
    events = db_session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "offer.capacity_changed")
        .order_by(AuditEvent.id)
    ).all()
    assert events[0].details == {
        "provider_id": provider.id,
        "from": 6,
        "to": 3,
        "rounds": sorted([open_round.round_id, closed_round.round_id]),
    }


def test_capacity_never_goes_below_places_taken_in_an_open_round(db_session, org) -> None:
    provider, member, _ = org
    offer = factories.OfferFactory(provider=provider, capacity=6)
    taken = factories.RoundOfferFactory(
        round=factories.RoundFactory(council=provider.council),
        offer=offer,
        places=6,
        places_taken=4,
    )
    with pytest.raises(InvalidInput) as caught:
        offers.set_capacity(db_session, member, provider, offer.id, 2)
    assert "4 places are offered to or taken by people" in caught.value.errors["capacity"]
    db_session.refresh(taken)
    assert taken.places == 6
    with pytest.raises(InvalidInput):
        offers.set_capacity(db_session, member, provider, offer.id, "-1")


def test_places_held_in_a_published_round_stop_capacity_cuts_and_withdrawal(
    db_session, org
) -> None:
    provider, member, _ = org
    offer = factories.OfferFactory(provider=provider, capacity=6)
    published = factories.RoundOfferFactory(
        round=factories.RoundFactory(
            council=provider.council, status=RoundStatus.published, name="Spring 2027"
        ),
        offer=offer,
        places=6,
        places_taken=4,
    )
    with pytest.raises(InvalidInput) as caught:
        offers.set_capacity(db_session, member, provider, offer.id, 0)
    assert caught.value.errors["capacity"] == (
        "4 places are offered to or taken by people in Spring 2027, so there must be at "
        "least 4. Ask the council to move those people first"
    )
    offers.set_capacity(db_session, member, provider, offer.id, 4)  # exactly those held is fine
    db_session.refresh(published)
    assert published.places == 4
    with pytest.raises(Conflict) as refused:
        offers.withdraw_offer(db_session, member, provider, offer.id)
    assert "4 places on this service are offered to or taken by people in Spring 2027" in (
        refused.value.message
    )
    db_session.refresh(offer)
    assert offer.status == OfferStatus.published and offer.withdrawn_at is None
    published.places_taken = 0  # the council moved them
    db_session.flush()
    offers.withdraw_offer(db_session, member, provider, offer.id)
    assert offer.status == OfferStatus.withdrawn


def test_another_providers_offer_is_not_found(db_session, org) -> None:
    provider, member, _ = org
    elsewhere = factories.OfferFactory()
    with pytest.raises(NotFound):
        offers.own_offer(db_session, member, provider, elsewhere.id)
    with pytest.raises(NotFound):
        offers.set_capacity(db_session, member, provider, elsewhere.id, 1)
    outsider = factories.ProviderMemberFactory().user
    with pytest.raises(NotAllowed):
        offers.provider_offers(db_session, outsider, provider)


def test_public_listing_shows_only_published_offers_with_filters(db_session, org) -> None:
    provider, _, tag = org
    a = factories.OfferFactory(provider=provider, title="Alpha", outcome_tags=[tag], area="east")
    b = factories.OfferFactory(
        provider=provider, title="Beta", category=OfferCategory.training, price_pence=500
    )
    factories.OfferFactory(provider=provider, title="Draft", status=OfferStatus.draft)
    factories.OfferFactory(provider=provider, title="Gone", status=OfferStatus.withdrawn)
    slug = provider.council.slug
    everything = offers.published_offers(db_session, council=slug)
    assert [o.title for o in everything.items] == ["Alpha", "Beta"]
    assert offers.published_offers(db_session, council=slug, tag="paid-work").items == [a]
    assert offers.published_offers(db_session, council=slug, category="training").items == [b]
    assert offers.published_offers(db_session, council=slug, area="east").items == [a]
    assert offers.published_offers(db_session, council=slug, max_price_pence=600).items == [b]
    assert offers.published_offers(db_session, council=slug, text="alp").items == [a]
    # LIKE's own characters are searched for as they are, never as patterns or escapes.
    for text in ("\\", "%", "_", "a\\"):
        assert offers.published_offers(db_session, council=slug, text=text).items == []
    page = offers.published_offers(db_session, council=slug, per_page=1, page=2)
    assert page.items == [b] and page.total == 2 and page.pages == 2
