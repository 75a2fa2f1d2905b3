"""Issue 13, Easy Read notices: a person who chose Easy Read gets their emails and letters in
Easy Read (one idea a line, short words); an advocate's copy of the same message stays in the
usual words; every Easy Read notice is measured at or below grade 3."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import textstat
from sqlalchemy.orm import Session

from models.notifications import Channel
from tests import factories
from web.notifying import TEMPLATES, FolderSender, deliver_due, render
from web.services.notifications import (
    EVENTS,
    PLACE_OFFERED,
    ClaimedNotification,
    notify,
    set_preferences,
)

EASY_READ_GRADE = 3.0
OFFER = {
    "offer_name": "Garden club",
    "provider_name": "Green Hands",
    "answer_by": "2027-03-05T12:00:00",
    "path": "/person/place",
}
#: Sample data for every event's template, as the services write it.
SAMPLE: dict[str, object] = {
    **OFFER,
    "advocate_name": "Priya Sharma",
    "idea_title": "Evening swimming",
    "status": "under_consideration",
    "status_words": "The council is thinking about it",
    "answer": "We will ask the pool.",
    "supported": True,
    "round_name": "Spring",
    "closes_at": "2027-03-01T12:00:00",
    "token": "abc",
    "valid_days": 7,
    "valid_minutes": 60,
    "by_name": "Priya Sharma",
    "new_offer_name": "Art club",
    "reason": "The club has moved.",
}


def _files(folder: Path) -> dict[str, str]:
    found = {}
    for path in folder.iterdir():
        if path.suffix == ".eml":
            mail = message_from_bytes(path.read_bytes(), policy=policy.default)
            found[str(mail["To"])] = f"{mail['Subject']}\n\n{mail.get_content()}"
        else:
            found[path.name] = path.read_text()
    return found


def test_an_easy_read_person_gets_an_easy_read_email_and_their_helper_the_usual_one(
    db_session: Session, session_factory: Callable[[], Session], tmp_path: Path
) -> None:
    person = factories.PersonProfileFactory(
        user__email="sam@example.org", user__display_name="Sam", easy_read=True
    )
    factories.ConsentFactory(person=person, advocate__email="priya@example.org")
    notify(db_session, user_id=person.user_id, event=PLACE_OFFERED, data=OFFER, key="offer:1")
    db_session.commit()

    deliver_due(session_factory, FolderSender(tmp_path), "w", public_url="https://t.example")

    mails = _files(tmp_path)
    easy, usual = mails["sam@example.org"], mails["priya@example.org"]
    assert easy.startswith("Good news: you have a place at Garden club\n")
    assert "\nYou have a place at Garden club.\n\nIt is run by Green Hands.\n" in easy
    assert "Say by Friday 5 March 2027." in easy
    assert "Want us to tell you in another way? Go to https://t.example/account/notifica" in easy
    assert "You have been offered a place at Garden club, run by Green Hands." in usual
    assert usual.startswith("For Sam: You have been offered a place: Garden club\n")
    assert "To change how we tell you things" in usual


def test_an_easy_read_letter_is_in_easy_read_too(
    db_session: Session, session_factory: Callable[[], Session], tmp_path: Path
) -> None:
    person = factories.PersonProfileFactory(user__display_name="Sam", easy_read=True)
    set_preferences(
        db_session, person.user, channel="letter", postal_address="1 High Street\nExeter\nEX1 1AA"
    )
    notify(db_session, user_id=person.user_id, event=PLACE_OFFERED, data=OFFER, key="offer:2")
    db_session.commit()

    deliver_due(session_factory, FolderSender(tmp_path), "w")

    [letter] = _files(tmp_path).values()
    assert letter.startswith("Letter to:\nSam\n1 High Street")
    assert "You have a place at Garden club." in letter
    assert "No answer? Then the place goes to someone else." in letter


def test_a_welsh_reader_who_chose_easy_read_gets_easy_read_in_welsh(
    db_session: Session, session_factory: Callable[[], Session], tmp_path: Path
) -> None:
    person = factories.PersonProfileFactory(
        user__email="cai@example.org", user__language="cy", easy_read=True
    )
    notify(db_session, user_id=person.user_id, event=PLACE_OFFERED, data=OFFER, key="offer:4")
    db_session.commit()
    deliver_due(session_factory, FolderSender(tmp_path), "w")
    mail = _files(tmp_path)["cai@example.org"]
    assert mail.startswith("Newyddion da: mae gennych chi le yn Garden club\n")
    assert "\nMae gennych chi le yn Garden club.\n" in mail
    assert "You have a place" not in mail


def test_turning_easy_read_off_sends_the_usual_words_again(
    db_session: Session, session_factory: Callable[[], Session], tmp_path: Path
) -> None:
    person = factories.PersonProfileFactory(user__email="ola@example.org", easy_read=False)
    notify(db_session, user_id=person.user_id, event=PLACE_OFFERED, data=OFFER, key="offer:3")
    db_session.commit()
    deliver_due(session_factory, FolderSender(tmp_path), "w")
    assert "You have been offered a place" in _files(tmp_path)["ola@example.org"]


def _item(event: str) -> ClaimedNotification:
    return ClaimedNotification(
        id=1,
        key=f"{event}:1",
        event=event,
        data=dict(SAMPLE),
        channel=Channel.email,
        address="sam@example.org",
        attempts=1,
        user_name="Sam",
        about_name=None,
        outcome_unknown=False,
        created_at=datetime(2027, 1, 1),
        easy_read=True,
    )


EASY_EVENTS = sorted(p.stem for p in (TEMPLATES / "easy_read").glob("*.txt"))


def test_every_event_a_person_gets_has_an_easy_read_template() -> None:
    to_others = {"consent_granted", "consent_ended", "placement_to_confirm"}
    assert set(EASY_EVENTS) == set(EVENTS) - to_others


@pytest.mark.parametrize("event", EASY_EVENTS)
def test_each_easy_read_notice_is_at_or_below_grade_3_with_one_idea_a_line(event: str) -> None:
    message = render(_item(event), public_url="https://t.example")
    words = message.body.rpartition("\n\n")[0]  # without the footer's web address
    lines = [line for line in words.splitlines() if line.strip() and "https://" not in line]
    measured = textstat.flesch_kincaid_grade(" ".join(lines))
    assert measured <= EASY_READ_GRADE, (event, measured)
    for line in lines:
        assert len(line.split()) <= 15, (event, line)
