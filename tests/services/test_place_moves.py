"""The council moves a person's place to another offer, or releases it, so a provider can cut."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Allocation, AllocationStatus, AuditEvent, Budget, OfferStatus
from tests import factories
from tests.services.commissioning_world import CommissioningWorld, make_round, solved_run
from tests.services.test_allocations import allocation_of, check_books, held, places
from web.services import allocations, offers, place_moves
from web.services.errors import Conflict, InvalidInput


def published(db_session: Session, session_factory: Callable[[], Session]) -> CommissioningWorld:
    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    # One more place on the garden, so there is somewhere to move people to.
    world.offers["garden"].capacity = 3
    world.places["garden"].places = 3
    db_session.flush()
    return world


def budget_of(world: CommissioningWorld, name: str) -> Budget:
    world.session.expire_all()
    return world.session.scalars(
        select(Budget).where(Budget.person_id == world.people[name].id)
    ).one()


def test_an_offered_place_moves_so_the_provider_can_withdraw(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = published(db_session, session_factory)
    ada = allocation_of(world, "Ada")
    targets = place_moves.move_targets(db_session, world.round, ada)
    assert [ro.offer.title for ro in targets] == ["Garden"]
    new = place_moves.move_place(
        db_session,
        world.commissioner,
        world.round,
        ada.id,
        to_offer_id=world.offers["garden"].id,
        reason="Cafe closes for repairs.",
    )
    assert new.status == AllocationStatus.offered and new.price_pence == 8_000
    assert held(world)["Ada"] == "garden"
    assert places(world)["cafe"] == (0, 1)  # not offered on: the council freed it
    assert db_session.get(Allocation, ada.id).status == AllocationStatus.withdrawn
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "allocation.move")
    ).one()
    assert event.actor_user_id == world.commissioner.id
    assert event.details["reason"] == "Cafe closes for repairs."
    assert event.details["from_offer_id"] == world.offers["cafe"].id
    cafe = world.offers["cafe"]
    member = factories.ProviderMemberFactory(provider=cafe.provider).user
    offers.withdraw_offer(db_session, member, cafe.provider, cafe.id)
    assert cafe.status == OfferStatus.withdrawn
    check_books(world)
    # Ada may still answer her new place.
    person = world.people["Ada"]
    allocations.accept_place(db_session, person.user, person, new.id)
    assert budget_of(world, "Ada").committed_pence == 8_000
    check_books(world)


def test_an_accepted_place_moves_only_with_consent_and_its_money_follows(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = published(db_session, session_factory)
    person = world.people["Ada"]
    place = allocation_of(world, "Ada")
    allocations.accept_place(db_session, person.user, person, place.id)
    assert budget_of(world, "Ada").committed_pence == 15_000
    with pytest.raises(InvalidInput) as refused:
        place_moves.move_place(
            db_session,
            world.commissioner,
            world.round,
            place.id,
            to_offer_id=world.offers["garden"].id,
            reason="Cafe closes.",
        )
    assert "agree" in refused.value.errors["consent"]
    new = place_moves.move_place(
        db_session,
        world.commissioner,
        world.round,
        place.id,
        to_offer_id=world.offers["garden"].id,
        reason="Cafe closes; Ada agreed on the phone.",
        consent=True,
    )
    assert new.status == AllocationStatus.accepted
    assert budget_of(world, "Ada").committed_pence == 8_000
    assert new.commitment is not None and new.commitment.amount_pence == 8_000
    assert held(world)["Ada"] == "garden"
    check_books(world)


def test_a_released_place_gives_its_money_back(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = published(db_session, session_factory)
    person = world.people["Ada"]
    place = allocation_of(world, "Ada")
    allocations.accept_place(db_session, person.user, person, place.id)
    with pytest.raises(InvalidInput) as no_reason:
        place_moves.release_place(db_session, world.commissioner, world.round, place.id, reason=" ")
    assert no_reason.value.errors["reason"] == "Say why you move or release this place"
    place_moves.release_place(
        db_session, world.commissioner, world.round, place.id, reason="Ada moved away."
    )
    assert "Ada" not in held(world)
    assert budget_of(world, "Ada").committed_pence == 0
    assert places(world)["cafe"] == (0, 1)
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "allocation.release")
    ).one()
    assert event.details["released_pence"] == 15_000
    with pytest.raises(Conflict):
        place_moves.release_place(
            db_session, world.commissioner, world.round, place.id, reason="Twice."
        )
    check_books(world)


def test_a_move_never_oversells_nor_overspends(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = published(db_session, session_factory)
    eve = allocation_of(world, "Eve")  # garden, with £90 to spend
    with pytest.raises(InvalidInput) as full:
        place_moves.move_place(
            db_session,
            world.commissioner,
            world.round,
            eve.id,
            to_offer_id=world.offers["art"].id,  # both places held
            reason="Try.",
        )
    assert "free place" in full.value.errors["to_offer_id"]
    place_moves.release_place(
        db_session,
        world.commissioner,
        world.round,
        allocation_of(world, "Ada").id,
        reason="Free the cafe.",
    )
    with pytest.raises(InvalidInput) as dear:
        place_moves.move_place(
            db_session,
            world.commissioner,
            world.round,
            allocation_of(world, "Eve").id,
            to_offer_id=world.offers["cafe"].id,  # £150
            reason="Try.",
        )
    assert "costs more than" in dear.value.errors["to_offer_id"]
    with pytest.raises(InvalidInput) as unchosen:
        place_moves.move_place(
            db_session,
            world.commissioner,
            world.round,
            allocation_of(world, "Eve").id,
            to_offer_id=None,
            reason="Try.",
        )
    assert unchosen.value.errors["to_offer_id"] == "Choose the offer to move this place to"
    assert held(world)["Eve"] == "garden"  # refused before anything changed
    check_books(world)


def test_a_move_never_spends_more_than_the_pot(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = published(db_session, session_factory)
    place_moves.release_place(
        db_session,
        world.commissioner,
        world.round,
        allocation_of(world, "Ada").id,
        reason="Free the cafe.",
    )
    # Held now: art £100 x2, garden £80 x2 = £360; moving a garden place to the cafe (£150)
    # would hold £430.
    world.round.pot_pence = 40_000
    db_session.flush()
    fay = allocation_of(world, "Fay")
    assert place_moves.move_targets(db_session, world.round, fay)
    with pytest.raises(InvalidInput) as over:
        place_moves.move_place(
            db_session,
            world.commissioner,
            world.round,
            fay.id,
            to_offer_id=world.offers["cafe"].id,
            reason="Try.",
        )
    assert "more than the round's pot" in over.value.errors["to_offer_id"]
    check_books(world)
