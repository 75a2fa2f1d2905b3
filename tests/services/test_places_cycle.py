"""The places cycle: deadlines and expiry, re-offers by each mechanism, giving a place up,
waiting lists, providers confirming or declining, the money statement and forecast."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Allocation, AllocationStatus, AuditEvent, Budget, Notification, RoundStatus
from models.base import utcnow
from tests import factories
from tests.services.commissioning_world import (
    PEOPLE,
    CommissioningWorld,
    make_round,
    solved_run,
)
from tests.services.test_allocations import check_books, held
from web.services import allocations, places_cycle
from web.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from web.services.jobs import run_periodic


def published(
    db_session: Session, session_factory: Callable[[], Session], **kwargs: object
) -> CommissioningWorld:
    world = make_round(db_session, **kwargs)  # type: ignore[arg-type]
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    db_session.flush()
    return world


def place_of(world: CommissioningWorld, name: str) -> Allocation:
    return world.session.scalars(
        select(Allocation).where(
            Allocation.person_id == world.people[name].id,
            Allocation.status.in_(allocations.HELD),
        )
    ).one()


def overdue(world: CommissioningWorld, name: str) -> Allocation:
    """Move the person's offer's deadline into the past."""
    place = place_of(world, name)
    world.session.execute(
        update(Allocation)
        .where(Allocation.id == place.id)
        .values(answer_by=utcnow() - timedelta(minutes=1))
    )
    world.session.flush()
    return place


def test_every_offer_carries_the_rounds_deadline(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = make_round(db_session)
    world.round.answer_days = 3
    made = allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    for allocation in made:
        assert allocation.answer_by is not None
        left = allocation.answer_by - utcnow()
        assert timedelta(days=2, hours=23) < left <= timedelta(days=3)


def test_an_offer_past_its_deadline_expires_and_goes_to_the_next_person(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = published(db_session, session_factory)
    before = held(world)
    assert before["Ada"] == "cafe" and "Ben" not in before  # Ben ranked cafe first too
    place = overdue(world, "Ada")
    expired = places_cycle.expire_due_offers(db_session)
    assert [a.id for a in expired] == [place.id]
    db_session.expire_all()
    assert db_session.get(Allocation, place.id).status == AllocationStatus.expired
    after = held(world)
    assert "Ada" not in after
    assert after["Ben"] == "cafe"  # stable: the best priority among those who want it more
    new = place_of(world, "Ben")
    assert new.answer_by is not None and new.answer_by > utcnow() + timedelta(days=6)
    assert new.explanation and new.explanation["source"] == "reoffer"
    assert db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "allocation.expire")
    ).one()
    assert places_cycle.expire_due_offers(db_session) == []  # nothing twice
    check_books(world)


def test_an_offer_accepted_before_its_deadline_never_expires(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = published(db_session, session_factory)
    ada = world.people["Ada"]
    place = place_of(world, "Ada")
    allocations.accept_place(db_session, ada.user, ada, place.id)
    db_session.execute(
        update(Allocation)
        .where(Allocation.id == place.id)
        .values(answer_by=utcnow() - timedelta(days=1))
    )
    assert places_cycle.expire_due_offers(db_session) == []
    db_session.expire_all()
    assert db_session.get(Allocation, place.id).status == AllocationStatus.accepted
    check_books(world)


def test_one_worker_poll_expires_and_re_offers(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = published(db_session, session_factory)
    place = overdue(world, "Ada")
    db_session.commit()
    # One poll of the worker (web.worker.run_worker runs the periodic tasks at every poll).
    assert run_periodic(session_factory)["places.expire_due_offers"] == 1
    db_session.expire_all()
    assert db_session.get(Allocation, place.id).status == AllocationStatus.expired
    assert held(world)["Ben"] == "cafe"
    check_books(world)


def test_welfare_re_offer_goes_where_it_adds_most(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = published(db_session, session_factory, mechanism="welfare")
    holders = held(world)
    cafe_holder = next(name for name, offer in holders.items() if offer == "cafe")
    overdue(world, cafe_holder)
    order = places_cycle.waiting_order(db_session, world.round, [world.offers["cafe"].id])
    expected = order[world.offers["cafe"].id][0]
    places_cycle.expire_due_offers(db_session)
    assert held(world)[world.by_person_id(expected)] == "cafe"
    check_books(world)


def test_a_person_gives_up_an_accepted_place_and_it_is_offered_on(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = published(db_session, session_factory)
    ada = world.people["Ada"]
    place = place_of(world, "Ada")
    allocations.accept_place(db_session, ada.user, ada, place.id)
    budget = db_session.scalars(select(Budget).where(Budget.person_id == ada.id)).one()
    assert budget.committed_pence == 15_000
    ben = world.people["Ben"]
    with pytest.raises(NotAllowed):
        places_cycle.give_up_place(db_session, ben.user, ada, place.id)
    with pytest.raises(NotFound):
        places_cycle.give_up_place(db_session, ben.user, ben, place.id)
    places_cycle.give_up_place(db_session, ada.user, ada, place.id)
    db_session.expire_all()
    assert db_session.get(Allocation, place.id).status == AllocationStatus.given_up
    assert db_session.get(Budget, budget.id).committed_pence == 0
    assert held(world)["Ben"] == "cafe"
    with pytest.raises(Conflict):
        places_cycle.give_up_place(db_session, ada.user, ada, place.id)
    check_books(world)


def test_waiting_lists_show_position_and_how_it_moved(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    people = {
        **PEOPLE,
        "Gus": ("north", 1, 30_000, ["cafe"]),
        "Ivy": ("north", 9, 30_000, ["cafe"]),
    }
    world = published(db_session, session_factory, people=people)
    assert held(world)["Ivy"] == "cafe" and held(world)["Ada"] == "art"
    cafe_id = world.offers["cafe"].id
    # Stable: the cafe's next place goes by need, so Ada (8) is first and Ben (2) second.
    line = places_cycle.waiting_order(db_session, world.round, [cafe_id])[cafe_id]
    assert [world.by_person_id(p) for p in line][:2] == ["Ada", "Ben"]
    ben = world.people["Ben"]
    first = places_cycle.waiting_lists(db_session, ben.user, ben)
    cafe = next(x for x in first.lines if x.offer.id == cafe_id)
    assert (cafe.rank, cafe.position, cafe.before) == (1, 2, None)
    assert cafe.people_waiting == len(line)
    # Ada accepts her place, so she no longer waits for the cafe: Ben moves up one.
    ada = world.people["Ada"]
    allocations.accept_place(db_session, ada.user, ada, place_of(world, "Ada").id)
    assert places_cycle.waiting_lists(db_session, ada.user, ada).accepted
    again = places_cycle.waiting_lists(db_session, ben.user, ben)
    cafe = next(x for x in again.lines if x.offer.id == cafe_id)
    assert (cafe.position, cafe.before, cafe.moved_up) == (1, 2, 1)
    # Looking without remembering leaves what Ben last saw as it was.
    still = places_cycle.waiting_lists(db_session, ben.user, ben, remember=False)
    assert next(x for x in still.lines if x.offer.id == cafe_id).before == 1


def test_a_provider_confirms_with_a_start_date_or_declines_with_a_reason(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = published(db_session, session_factory)
    ada = world.people["Ada"]
    place = place_of(world, "Ada")
    cafe_provider = world.offers["cafe"].provider
    staff = factories.ProviderUserFactory(council=world.council)
    factories.ProviderMemberFactory(provider=cafe_provider, user=staff)
    other = world.providers[0] if world.providers[0] is not cafe_provider else world.providers[1]
    with pytest.raises(Conflict):  # not accepted yet
        places_cycle.confirm_placement(
            db_session, staff, cafe_provider, place.id, start_date="2027-01-18"
        )
    allocations.accept_place(db_session, ada.user, ada, place.id)
    with pytest.raises(InvalidInput) as bad:
        places_cycle.confirm_placement(
            db_session, staff, cafe_provider, place.id, start_date="18 January"
        )
    assert "start_date" in bad.value.errors
    with pytest.raises(NotAllowed):
        places_cycle.confirm_placement(db_session, staff, other, place.id, start_date="2027-01-18")
    start = (utcnow() + timedelta(days=10)).date()
    places_cycle.confirm_placement(
        db_session, staff, cafe_provider, place.id, start_date=start.isoformat()
    )
    assert place.start_date == start and place.confirmed_at is not None
    with pytest.raises(InvalidInput) as no_reason:
        places_cycle.decline_placement(db_session, staff, cafe_provider, place.id, reason="  ")
    assert "reason" in no_reason.value.errors
    places_cycle.decline_placement(
        db_session, staff, cafe_provider, place.id, reason="We cannot reach the door  safely."
    )
    db_session.expire_all()
    place = db_session.get(Allocation, place.id)
    assert place.status == AllocationStatus.provider_declined
    assert place.provider_reason == "We cannot reach the door safely."
    assert (
        db_session.scalars(select(Budget).where(Budget.person_id == ada.id)).one().committed_pence
        == 0
    )
    assert held(world)["Ben"] == "cafe"
    cycle = places_cycle.round_cycle(db_session, world.round)
    assert [a.id for a in cycle.provider_declined] == [place.id]
    check_books(world)


def test_statement_and_forecast_count_offered_accepted_started(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = published(db_session, session_factory, pot_pence=100_000)
    ada = world.people["Ada"]
    place = place_of(world, "Ada")
    allocations.accept_place(db_session, ada.user, ada, place.id)
    cycle = places_cycle.round_cycle(db_session, world.round)
    held_prices = sum(
        a.price_pence
        for a in db_session.scalars(
            select(Allocation).where(
                Allocation.round_id == world.round.id,
                Allocation.status == AllocationStatus.offered,
            )
        )
    )
    assert cycle.forecast.accepted_pence == 15_000
    assert cycle.forecast.offered_pence == held_prices
    assert cycle.forecast.left_pence == 100_000 - 15_000 - held_prices
    provider = world.offers["cafe"].provider
    staff = factories.ProviderUserFactory(council=world.council)
    factories.ProviderMemberFactory(provider=provider, user=staff)
    month = utcnow().strftime("%Y-%m")
    lines = places_cycle.provider_money(db_session, staff, provider)
    assert lines[0].month == month and lines[0].accepted == 1
    assert lines[0].accepted_pence == 15_000
    places_cycle.confirm_placement(
        db_session, staff, provider, place.id, start_date=utcnow().date().isoformat()
    )
    lines = places_cycle.provider_money(db_session, staff, provider)
    assert (lines[0].accepted, lines[0].started, lines[0].started_pence) == (0, 1, 15_000)
    csv_text = places_cycle.provider_money_csv(lines)
    assert csv_text.splitlines()[0].startswith("month,offered_places")
    assert f"{month}," in csv_text and ",150.00" in csv_text


def messages(world: CommissioningWorld, event: str) -> list[str]:
    """Who got a message about ``event`` (names), in the order written."""
    rows = world.session.scalars(
        select(Notification).where(Notification.event == event).order_by(Notification.id)
    )
    names = {p.user_id: n for n, p in world.people.items()}
    return [names.get(r.user_id, f"user {r.user_id}") for r in rows]


def test_each_step_tells_the_person_once(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = published(db_session, session_factory)
    assert sorted(messages(world, "place_offered")) == sorted(held(world))
    staff = factories.ProviderUserFactory(council=world.council)
    factories.ProviderMemberFactory(provider=world.offers["art"].provider, user=staff)
    cal = world.people["Cal"]
    allocations.accept_place(db_session, cal.user, cal, place_of(world, "Cal").id)
    assert messages(world, "placement_to_confirm") == [f"user {staff.id}"]
    # Ada's deadline is a day away: one reminder, however often the worker looks.
    ada_place = place_of(world, "Ada")
    ada_place.answer_by = utcnow() + timedelta(days=1)
    db_session.flush()
    places_cycle.remind_near_deadline(db_session)
    assert messages(world, "offer_reminder") == []  # offered a day before it: no reminder
    ada_place.created_at = utcnow() - timedelta(days=6)
    db_session.flush()
    places_cycle.remind_near_deadline(db_session)
    places_cycle.remind_near_deadline(db_session)
    assert messages(world, "offer_reminder") == ["Ada"]
    overdue(world, "Ada")
    places_cycle.expire_due_offers(db_session)
    places_cycle.expire_due_offers(db_session)
    assert messages(world, "offer_expired") == ["Ada"]
    assert messages(world, "waiting_list_reached") == ["Ben"]
    places_cycle.give_up_place(db_session, cal.user, cal, place_of(world, "Cal").id)
    assert messages(world, "place_given_up") == ["Cal"]


def test_a_round_sets_how_long_people_have_to_answer(db_session: Session) -> None:
    from web.services import rounds

    world = make_round(db_session, status=RoundStatus.open)
    actor = world.commissioner
    base = {"name": "Spring", "pot_pence": None, "choice_deadline": None, "areas": [],
            "max_choices": 3}  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        rounds.update_round(db_session, actor, world.round, **base, answer_days=61)
    assert "answer_days" in refused.value.errors
    rounds.update_round(db_session, actor, world.round, **base, answer_days=3)
    assert world.round.answer_days == 3
    rounds.update_round(db_session, actor, world.round, **base)  # None keeps it
    assert world.round.answer_days == 3
    made = rounds.create_round(db_session, actor, name="Autumn", pot_pence=None)
    assert made.answer_days == 7


def test_a_person_and_their_advocate_are_told_when_the_provider_cannot_take_them(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    from web.notifying import render
    from web.services.notifications import ClaimedNotification

    world = published(db_session, session_factory)
    ada = world.people["Ada"]
    place = place_of(world, "Ada")
    provider = world.offers["cafe"].provider
    staff = factories.ProviderUserFactory(council=world.council)
    factories.ProviderMemberFactory(provider=provider, user=staff)
    helper = factories.ConsentFactory(person=ada).advocate
    allocations.accept_place(db_session, ada.user, ada, place.id)
    assert messages(world, "placement_declined") == []
    places_cycle.decline_placement(
        db_session, staff, provider, place.id, reason="Our minibus cannot reach your street."
    )
    assert messages(world, "placement_declined") == ["Ada", f"user {helper.id}"]
    row = db_session.scalars(
        select(Notification).where(
            Notification.event == "placement_declined", Notification.user_id == ada.user_id
        )
    ).one()
    message = render(
        ClaimedNotification(
            id=row.id,
            key=row.key,
            event=row.event,
            data=row.data,
            channel=row.channel,
            address="ada@example.org",
            attempts=0,
            user_name="Ada",
            about_name=None,
            outcome_unknown=False,
            created_at=row.created_at,
        ),
        public_url="http://127.0.0.1:5000",
    )
    assert provider.name in message.subject
    assert "Our minibus cannot reach your street." in message.body
    assert "back in your budget" in message.body
    assert "http://127.0.0.1:5000/person/place" in message.body


def test_a_start_date_is_from_today_to_a_year_ahead(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = published(db_session, session_factory)
    ada = world.people["Ada"]
    place = place_of(world, "Ada")
    provider = world.offers["cafe"].provider
    staff = factories.ProviderUserFactory(council=world.council)
    factories.ProviderMemberFactory(provider=provider, user=staff)
    allocations.accept_place(db_session, ada.user, ada, place.id)
    today = utcnow().date()
    for wrong in (
        today - timedelta(days=1),
        today + timedelta(days=places_cycle.START_DAYS_AHEAD + 1),
    ):
        with pytest.raises(InvalidInput) as bad:
            places_cycle.confirm_placement(
                db_session, staff, provider, place.id, start_date=wrong.isoformat()
            )
        assert "start_date" in bad.value.errors
    assert place.start_date is None and place.confirmed_at is None
    for right in (today, today + timedelta(days=places_cycle.START_DAYS_AHEAD)):
        places_cycle.confirm_placement(
            db_session, staff, provider, place.id, start_date=right.isoformat()
        )
        assert place.start_date == right
    # A date already given may be given again, even once it has passed.
    place.start_date = today - timedelta(days=3)
    db_session.flush()
    places_cycle.confirm_placement(
        db_session, staff, provider, place.id, start_date=place.start_date.isoformat()
    )
