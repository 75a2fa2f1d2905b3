"""Ranked choices: add, remove, move, limits, hard fails, the deadline and oversubscription."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEvent, Choice, RoundStatus, utcnow
from tests import factories
from tests.services.person_world import World, make_world
from web.services.choices import add_choice, move_choice, my_choices, remove_choice
from web.services.errors import Conflict, InvalidInput, NotAllowed, NotFound


def ranked(session: Session, w: World) -> list[str]:
    by_id = {o.id: key for key, o in w.offers.items()}
    return [by_id[c.offer.id] for c in my_choices(session, w.user, w.person).choices]


def test_choices_get_the_next_rank(db_session: Session) -> None:
    w = make_world()
    for key in ("nursery", "cafe", "choir"):
        add_choice(db_session, w.user, w.person, w.offers[key].id)
    assert ranked(db_session, w) == ["nursery", "cafe", "choir"]
    mine = my_choices(db_session, w.user, w.person)
    assert [c.choice.rank for c in mine.choices] == [1, 2, 3]
    assert not mine.can_add  # max_choices is 3


def test_no_more_than_max_choices_and_no_duplicates(db_session: Session) -> None:
    w = make_world()
    add_choice(db_session, w.user, w.person, w.offers["nursery"].id)
    with pytest.raises(InvalidInput, match="already chosen"):
        add_choice(db_session, w.user, w.person, w.offers["nursery"].id)
    add_choice(db_session, w.user, w.person, w.offers["cafe"].id)
    add_choice(db_session, w.user, w.person, w.offers["choir"].id)
    extra = factories.RoundOfferFactory(round=w.round, offer__price_pence=100)
    with pytest.raises(InvalidInput, match="up to 3"):
        add_choice(db_session, w.user, w.person, extra.offer_id)


def test_an_offer_over_budget_cannot_be_chosen_and_the_reason_is_given(db_session: Session) -> None:
    w = make_world()
    with pytest.raises(InvalidInput) as caught:
        add_choice(db_session, w.user, w.person, w.offers["dear"].id)
    assert caught.value.errors["offer_id"] == (
        "It costs £450, which is more than your budget of £300."
    )


def test_offers_outside_the_round_cannot_be_chosen(db_session: Session) -> None:
    w = make_world()
    outside = factories.OfferFactory(provider=w.offers["nursery"].provider)
    with pytest.raises(NotFound):
        add_choice(db_session, w.user, w.person, outside.id)


def test_removing_closes_the_gap(db_session: Session) -> None:
    w = make_world()
    for key in ("nursery", "cafe", "choir"):
        add_choice(db_session, w.user, w.person, w.offers[key].id)
    remove_choice(db_session, w.user, w.person, w.offers["nursery"].id)
    mine = my_choices(db_session, w.user, w.person)
    assert [(c.choice.rank, c.offer.title) for c in mine.choices] == [
        (1, "Café team member"),
        (2, "Community choir"),
    ]
    with pytest.raises(NotFound):
        remove_choice(db_session, w.user, w.person, w.offers["nursery"].id)


def test_moving_up_and_down_swaps_neighbours(db_session: Session) -> None:
    w = make_world()
    for key in ("nursery", "cafe", "choir"):
        add_choice(db_session, w.user, w.person, w.offers[key].id)
    move_choice(db_session, w.user, w.person, w.offers["choir"].id, "up")
    assert ranked(db_session, w) == ["nursery", "choir", "cafe"]
    move_choice(db_session, w.user, w.person, w.offers["nursery"].id, "down")
    assert ranked(db_session, w) == ["choir", "nursery", "cafe"]
    move_choice(db_session, w.user, w.person, w.offers["choir"].id, "up")  # already first
    assert ranked(db_session, w) == ["choir", "nursery", "cafe"]
    ranks = db_session.scalars(
        select(Choice.rank).where(Choice.person_id == w.person.id).order_by(Choice.rank)
    ).all()
    assert ranks == [1, 2, 3]


def test_every_change_is_audited_with_ids_only(db_session: Session) -> None:
    w = make_world()
    add_choice(db_session, w.user, w.person, w.offers["nursery"].id)
    add_choice(db_session, w.user, w.person, w.offers["cafe"].id)
    move_choice(db_session, w.user, w.person, w.offers["cafe"].id, "up")
    remove_choice(db_session, w.user, w.person, w.offers["nursery"].id)
    actions = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("choice.%")).order_by(AuditEvent.id)
    ).all()
    assert actions == ["choice.added", "choice.added", "choice.moved", "choice.removed"]


def test_closed_round_or_past_deadline_refuses_changes(db_session: Session) -> None:
    w = make_world()
    w.round.choice_deadline = utcnow() - timedelta(minutes=1)
    db_session.flush()
    with pytest.raises(Conflict, match="ended"):
        add_choice(db_session, w.user, w.person, w.offers["nursery"].id)
    w.round.status = RoundStatus.closed
    db_session.flush()
    with pytest.raises(Conflict, match="no round open"):
        add_choice(db_session, w.user, w.person, w.offers["nursery"].id)


def test_warning_only_when_every_choice_is_oversubscribed(db_session: Session) -> None:
    w = make_world()
    add_choice(db_session, w.user, w.person, w.offers["nursery"].id)
    add_choice(db_session, w.user, w.person, w.offers["cafe"].id)
    # Two places each. Two more people want the nursery: 3 > 2.
    for _ in range(2):
        factories.ChoiceFactory(round=w.round, offer=w.offers["nursery"], rank=1)
    mine = my_choices(db_session, w.user, w.person)
    assert [c.oversubscribed for c in mine.choices] == [True, False]
    assert not mine.all_oversubscribed
    for _ in range(2):
        factories.ChoiceFactory(round=w.round, offer=w.offers["cafe"], rank=1)
    mine = my_choices(db_session, w.user, w.person)
    assert [c.chosen_by for c in mine.choices] == [3, 3]
    assert mine.all_oversubscribed


def test_advocate_needs_draft_scope_and_is_recorded(db_session: Session) -> None:
    w = make_world()
    consent = factories.ConsentFactory(person=w.person, can_draft=False)
    with pytest.raises(NotAllowed):
        add_choice(db_session, consent.advocate, w.person, w.offers["nursery"].id)
    consent.can_draft = True
    db_session.flush()
    choice = add_choice(db_session, consent.advocate, w.person, w.offers["nursery"].id)
    assert choice.created_by_user_id == consent.advocate.id
    assert choice.on_behalf_of_user_id == w.user.id


def test_choices_changed_meanwhile_is_a_conflict_not_an_error(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = make_world()
    add_choice(db_session, w.user, w.person, w.offers["nursery"].id)
    # A stale read, as when a second click or an advocate changed the list at the same moment.
    import web.services.choices as choices_module

    monkeypatch.setattr(choices_module, "_choices", lambda *_: [])
    with pytest.raises(Conflict, match="changed while"):
        add_choice(db_session, w.user, w.person, w.offers["cafe"].id)
    monkeypatch.undo()
    # The savepoint kept everything else as it was.
    assert ranked(db_session, w) == ["nursery"]
    add_choice(db_session, w.user, w.person, w.offers["cafe"].id)
    assert ranked(db_session, w) == ["nursery", "cafe"]
