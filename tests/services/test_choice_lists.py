"""Setting a person's whole list of choices at once."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEvent, Choice, RoundStatus
from tests import factories
from tests.services.person_world import World, make_world
from web.services.choice_lists import replace_choices
from web.services.errors import Conflict, InvalidInput, NotAllowed


@pytest.fixture
def world(db_session: Session) -> World:
    return make_world(budget_pence=30_000)


def stored(db_session: Session, world: World) -> list[int]:
    return list(
        db_session.scalars(
            select(Choice.offer_id).where(Choice.person_id == world.person.id).order_by(Choice.rank)
        )
    )


def test_the_list_replaces_the_old_one_in_order(db_session: Session, world: World) -> None:
    nursery, cafe = world.offers["nursery"].id, world.offers["cafe"].id
    replace_choices(db_session, world.user, world.person, [nursery])
    mine = replace_choices(db_session, world.user, world.person, [cafe, nursery])
    assert [(c.choice.rank, c.offer.id) for c in mine.choices] == [(1, cafe), (2, nursery)]
    assert stored(db_session, world) == [cafe, nursery]
    event = db_session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "choices.replaced")
        .order_by(AuditEvent.id.desc())
    ).first()
    assert event is not None
    assert event.details["before"] == [nursery]
    assert event.details["after"] == [cafe, nursery]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda w: [w.offers["nursery"].id, w.offers["nursery"].id], "only once"),
        (lambda w: [o.id for o in w.offers.values()], "up to 3"),
        (lambda w: [w.offers["nursery"].id, w.offers["dear"].id], "Choice 2:"),
        (lambda w: [999_999], "Choice 1:"),
    ],
)
def test_a_list_that_cannot_be_taken_is_refused(db_session, world, build, message) -> None:
    with pytest.raises(InvalidInput) as caught:
        replace_choices(db_session, world.user, world.person, build(world))
    assert message in caught.value.errors["offer_ids"]


def test_no_open_round(db_session: Session, world: World) -> None:
    world.round.status = RoundStatus.closed
    db_session.flush()
    with pytest.raises(Conflict):
        replace_choices(db_session, world.user, world.person, [])


def test_an_advocate_needs_the_draft_scope(db_session: Session, world: World) -> None:
    consent = factories.ConsentFactory(person=world.person, can_draft=False)
    nursery = world.offers["nursery"].id
    with pytest.raises(NotAllowed):
        replace_choices(db_session, consent.advocate, world.person, [nursery])
    consent.can_draft = True
    db_session.flush()
    replace_choices(db_session, consent.advocate, world.person, [nursery])
    choice = db_session.scalars(select(Choice).where(Choice.person_id == world.person.id)).one()
    assert choice.created_by_user_id == consent.advocate.id
    assert choice.on_behalf_of_user_id == world.user.id
