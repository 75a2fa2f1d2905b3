"""A place given back frees money as well (the person's budget, the round's pot): someone
waiting for another offer's free place, who could not take it before, is offered it then,
so no place sits free while someone who could take it waits. Places the council freed stay
free (the provider may be cutting them)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Allocation
from tests.services.commissioning_world import make_round, solved_run
from tests.services.test_allocations import check_books, held
from tests.services.test_places_cycle import place_of
from tests.services.test_places_cycle import published as published_default
from web.services import allocations, place_moves, places_cycle


def test_a_place_given_up_lets_the_pot_pay_for_another_free_place(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    # Two art places (£100) and a cafe place (£150), a £250 pot: the run gives Ann and Cy
    # the art places, so Bob's first choice, the cafe, is free but the pot cannot pay for it.
    world = make_round(
        db_session,
        mechanism="welfare",
        people={
            "Ann": ("north", 9, 30_000, ["art"]),
            "Cy": ("north", 9, 30_000, ["art"]),
            "Bob": ("north", 1, 30_000, ["cafe", "art"]),
        },
        offers={"art": (2, 10_000), "cafe": (1, 15_000)},
        pot_pence=25_000,
    )
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    db_session.flush()
    assert held(world) == {"Ann": "art", "Cy": "art"}
    ann = world.people["Ann"]
    place = place_of(world, "Ann")
    allocations.accept_place(db_session, ann.user, ann, place.id)

    places_cycle.give_up_place(db_session, ann.user, ann, place.id)

    # Ann's art place went to Bob, and then the pot could pay for his first choice instead.
    assert held(world) == {"Cy": "art", "Bob": "cafe"}
    for free in places_cycle.round_cycle(db_session, world.round).free_places:
        assert free.waiting == 0, f"{free.offer.title} is free while someone waits"
    check_books(world)


def test_a_place_the_council_freed_is_not_offered_on_by_later_events(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = published_default(db_session, session_factory)
    cafe = world.offers["cafe"].id
    holder = next(name for name, offer in held(world).items() if offer == "cafe")
    place_moves.release_place(
        db_session,
        world.commissioner,
        world.round,
        place_of(world, holder).id,
        reason="The cafe is closing.",
    )
    assert places_cycle.waiting_order(db_session, world.round, [cafe])[cafe]  # people wait

    # Someone turns down another place: its place goes on, the cafe's stays free.
    other = next(name for name, offer in held(world).items() if offer != "cafe")
    person = world.people[other]
    allocations.decline_place(db_session, person.user, person, place_of(world, other).id)

    new_cafe = db_session.scalars(
        select(Allocation).where(
            Allocation.offer_id == cafe, Allocation.status.in_(allocations.HELD)
        )
    ).all()
    assert new_cafe == []
    check_books(world)
