"""The notifications outbox: one row per event key, written in the caller's transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.base import utcnow
from models.notifications import Channel, Notification, NotificationSetting, NotificationStatus
from models.people import ConsentStatus
from models.rounds import RoundStatus
from tests import factories
from tests.services.commissioning_world import make_round
from tests.services.test_allocations import allocation_of
from tests.services.test_place_moves import published
from web.services import consents, notifications, place_moves, rounds, voice
from web.services.errors import InvalidInput
from web.services.notifications import (
    CONSENT_ASKED,
    PLACE_OFFERED,
    claim_due,
    mark_failed_try,
    mark_sent,
    notify,
    record_handover,
    retry_delay,
    set_preferences,
)

ALL = frozenset(Channel)


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Notification)) or 0


def test_notify_writes_one_row_per_key(db_session: Session) -> None:
    user = factories.UserFactory()

    notify(db_session, user_id=user.id, event=CONSENT_ASKED, data={"a": 1}, key="consent:1")
    notify(db_session, user_id=user.id, event=CONSENT_ASKED, data={"a": 2}, key="consent:1")

    rows = db_session.scalars(select(Notification)).all()
    assert [(r.key, r.data, r.status) for r in rows] == [
        ("consent:1", {"a": 1}, NotificationStatus.pending)
    ]


def test_notify_refuses_an_unknown_event(db_session: Session) -> None:
    user = factories.UserFactory()
    with pytest.raises(ValueError, match="unknown notification event"):
        notify(db_session, user_id=user.id, event="party", data={}, key="x")
    assert _count(db_session) == 0


def test_a_rolled_back_event_leaves_no_message(db_session: Session) -> None:
    user = factories.UserFactory()
    db_session.flush()
    outer = db_session.begin_nested()
    notify(db_session, user_id=user.id, event=CONSENT_ASKED, data={}, key="consent:2")
    outer.rollback()
    assert _count(db_session) == 0


def test_advocates_with_consent_get_a_copy_of_place_messages(db_session: Session) -> None:
    person = factories.PersonProfileFactory()
    helper = factories.AdvocateFactory()
    asked_only = factories.AdvocateFactory()
    factories.ConsentFactory(
        person=person, advocate=helper, status=ConsentStatus.granted, granted_at=utcnow()
    )
    factories.ConsentFactory(person=person, advocate=asked_only, status=ConsentStatus.requested)
    db_session.flush()

    notify(db_session, user_id=person.user_id, event=PLACE_OFFERED, data={}, key="offer:9")
    notify(db_session, user_id=person.user_id, event=CONSENT_ASKED, data={}, key="ask:9")

    rows = db_session.scalars(select(Notification).order_by(Notification.id)).all()
    assert [(r.user_id, r.about_user_id, r.key) for r in rows] == [
        (person.user_id, None, "offer:9"),
        (helper.id, person.user_id, f"offer:9/copy/{helper.id}"),
        (person.user_id, None, "ask:9"),
    ]


def test_claim_send_and_mark_sent(db_session: Session) -> None:
    user = factories.UserFactory(email="ann@example.org")
    notify(db_session, user_id=user.id, event=CONSENT_ASKED, data={}, key="k1")

    first = claim_due(db_session, "w1", available=ALL)
    again = claim_due(db_session, "w2", available=ALL)

    assert [(c.channel, c.address, c.outcome_unknown) for c in first] == [
        (Channel.email, "ann@example.org", False)
    ]
    assert again == []
    assert not mark_sent(db_session, first[0].id, "w2")
    assert mark_sent(db_session, first[0].id, "w1")
    row = db_session.scalars(select(Notification)).one()
    assert row.status == NotificationStatus.sent and row.sent_at is not None


def test_an_expired_lease_is_claimed_again_as_a_redo(db_session: Session) -> None:
    user = factories.UserFactory()
    notify(db_session, user_id=user.id, event=CONSENT_ASKED, data={}, key="k2")
    [first] = claim_due(db_session, "dead", available=ALL)

    assert record_handover(db_session, first.id, "dead")  # then it died mid-send

    later = utcnow() + notifications.LEASE + timedelta(seconds=1)
    [redo] = claim_due(db_session, "alive", available=ALL, now=later)

    assert redo.id == first.id and redo.outcome_unknown and redo.attempts == 2
    assert not mark_sent(db_session, first.id, "dead")
    assert mark_sent(db_session, first.id, "alive")


def test_an_expired_lease_never_handed_over_is_a_plain_retry(db_session: Session) -> None:
    user = factories.UserFactory()
    notify(db_session, user_id=user.id, event=CONSENT_ASKED, data={}, key="k3")
    [first] = claim_due(db_session, "dead", available=ALL)  # died before it sent anything

    later = utcnow() + notifications.LEASE + timedelta(seconds=1)
    [redo] = claim_due(db_session, "alive", available=ALL, now=later)

    assert redo.id == first.id and not redo.outcome_unknown and redo.attempts == 2


def test_a_failed_try_waits_longer_each_time_then_gives_up(db_session: Session) -> None:
    user = factories.UserFactory()
    notify(db_session, user_id=user.id, event=CONSENT_ASKED, data={}, key="k3")
    now = utcnow()
    waits = []
    for _ in range(4):
        [item] = claim_due(db_session, "w", available=ALL, now=now)
        assert mark_failed_try(db_session, item.id, "w", "server down", now=now)
        row = db_session.scalars(select(Notification)).one()
        db_session.refresh(row)
        waits.append(row.next_attempt_at - now)
        assert claim_due(db_session, "w", available=ALL, now=now) == []
        now = row.next_attempt_at
    assert waits == [timedelta(seconds=s) for s in (10, 20, 40, 80)]
    assert retry_delay(30) == timedelta(minutes=10)

    [item] = claim_due(db_session, "w", available=ALL, now=now + timedelta(days=4))
    assert mark_failed_try(db_session, item.id, "w", "still down", now=now + timedelta(days=4))
    row = db_session.scalars(select(Notification)).one()
    db_session.refresh(row)
    assert row.status == NotificationStatus.failed and row.last_error == "still down"


def test_none_means_skipped_and_text_goes_to_the_phone(db_session: Session) -> None:
    quiet = factories.UserFactory()
    texter = factories.UserFactory()
    set_preferences(db_session, quiet, channel="none")
    set_preferences(db_session, texter, channel="text", phone="07700 900123")
    notify(db_session, user_id=quiet.id, event=CONSENT_ASKED, data={}, key="q")
    notify(db_session, user_id=texter.id, event=CONSENT_ASKED, data={}, key="t")

    claimed = claim_due(db_session, "w", available=ALL)

    assert [(c.key, c.channel, c.address) for c in claimed] == [
        ("t", Channel.text, "+447700900123")
    ]
    statuses = dict(db_session.execute(select(Notification.key, Notification.status)).all())
    assert statuses["q"] == NotificationStatus.skipped


def test_text_goes_by_email_where_the_site_cannot_send_texts(db_session: Session) -> None:
    texter = factories.UserFactory(email="tex@example.org")
    set_preferences(db_session, texter, channel="text", phone="07700900123")
    notify(db_session, user_id=texter.id, event=CONSENT_ASKED, data={}, key="t2")

    [item] = claim_due(db_session, "w", available=frozenset({Channel.email}))

    assert (item.channel, item.address) == (Channel.email, "tex@example.org")


def test_preferences_name_each_wrong_field(db_session: Session) -> None:
    user = factories.UserFactory()
    with pytest.raises(InvalidInput) as caught:
        set_preferences(db_session, user, channel="text", phone="12345")
    assert set(caught.value.errors) == {"phone"}
    with pytest.raises(InvalidInput) as caught:
        set_preferences(db_session, user, channel="letter", postal_address="")
    assert set(caught.value.errors) == {"postal_address"}
    with pytest.raises(InvalidInput) as caught:
        set_preferences(db_session, user, channel="pigeon")
    assert set(caught.value.errors) == {"channel"}


# -- the events that write messages -----------------------------------------------------------


def _messages(session: Session) -> list[tuple[int, str, dict[str, object]]]:
    session.flush()
    return [
        (row.user_id, row.event, row.data)
        for row in session.scalars(select(Notification).order_by(Notification.id))
    ]


def test_consent_asked_granted_and_ended_tell_the_other_side(db_session: Session) -> None:
    council = factories.CouncilFactory()
    person = factories.PersonProfileFactory(
        user__council=council, user__email="sam@example.org", display_name="Sam Taylor"
    )
    advocate = factories.AdvocateFactory(council=council, display_name="Priya Sharma")

    asked = consents.request_consent(db_session, advocate, who="sam@example.org", scopes=[])
    assert asked is not None
    consents.grant_consent(db_session, person.user, person, asked.id)
    consents.revoke_consent(db_session, person.user, person, asked.id)

    assert [(user, event) for user, event, _ in _messages(db_session)] == [
        (person.user_id, "consent_asked"),
        (advocate.id, "consent_granted"),
        (advocate.id, "consent_ended"),
    ]
    data = [d for _, _, d in _messages(db_session)]
    assert data[0]["advocate_name"] == "Priya Sharma"
    assert data[1]["person_name"] == "Sam Taylor" and data[2]["declined"] is False


def test_an_official_answer_tells_the_proposer_and_every_backer(db_session: Session) -> None:
    world = make_round(db_session)
    idea = factories.ProposalFactory(
        council=world.council, proposer=world.people["Ada"], title="Swimming"
    )
    factories.ProposalSupportFactory(proposal=idea, person=world.people["Cal"])
    db_session.flush()

    voice.respond_to_proposal(
        db_session, world.commissioner, idea.id, status="declined", response="No pool nearby."
    )

    told = {user: data for user, event, data in _messages(db_session) if event == "idea_answered"}
    assert set(told) == {world.people["Ada"].user_id, world.people["Cal"].user_id}
    assert told[world.people["Cal"].user_id]["supported"] is True
    assert told[world.people["Ada"].user_id]["answer"] == "No pool nearby."


def test_opening_a_round_tells_its_people_once(db_session: Session) -> None:
    world = make_round(db_session, status=RoundStatus.draft)

    rounds.open_round(db_session, world.commissioner, world.round)
    rounds.tell_people_of_round(db_session, world.round, notifications.ROUND_OPENED)

    told = [user for user, event, _ in _messages(db_session) if event == "round_opened"]
    assert sorted(told) == sorted(p.user_id for p in world.people.values())


def test_rounds_closing_within_two_days_remind_their_people(
    db_session: Session, session_factory
) -> None:  # type: ignore[no-untyped-def]
    world = make_round(db_session, status=RoundStatus.open)
    world.round.choice_deadline = utcnow() + timedelta(days=1)
    db_session.commit()
    rounds._closing_looked_at = None

    assert rounds.remind_rounds_closing(session_factory) == len(world.people)
    rounds._closing_looked_at = None
    assert rounds.remind_rounds_closing(session_factory) == 0


def test_a_place_moved_or_taken_away_tells_the_person_why(
    db_session: Session, session_factory
) -> None:  # type: ignore[no-untyped-def]
    world = published(db_session, session_factory)
    ada = allocation_of(world, "Ada")
    garden = world.offers["garden"]

    place_moves.move_place(
        db_session, world.commissioner, world.round, ada.id,
        to_offer_id=garden.id, reason="The art class closed.",
    )  # fmt: skip

    [(user, data)] = [(u, d) for u, e, d in _messages(db_session) if e == "place_moved"]
    assert user == world.people["Ada"].user_id
    assert data["new_offer_name"] == garden.title and data["reason"] == "The art class closed."
    assert data["released"] is False


def test_erasing_a_person_removes_how_they_are_told_and_their_messages(
    db_session: Session,
) -> None:
    from web.services.privacy import erase_person

    admin = factories.AdminFactory()
    person = factories.PersonProfileFactory()
    set_preferences(
        db_session, person.user, channel="letter", postal_address="1 High St\nWestmere\nWM1 1AA"
    )
    notify(db_session, user_id=person.user_id, event=CONSENT_ASKED, data={}, key="ask:erase")

    erase_person(db_session, admin, person.user, reason="They asked on 3 May")

    db_session.flush()
    assert db_session.get(NotificationSetting, person.user_id) is None
    assert _count(db_session) == 0
