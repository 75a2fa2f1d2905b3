"""Issue 13: emails, texts and letters are in the recipient's saved language, dates too; an
advocate's copy is in the advocate's own language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from models.notifications import Channel
from tests import factories
from web.notifying import TEMPLATES, FolderSender, deliver_due, render
from web.services.notifications import PLACE_OFFERED, ClaimedNotification, notify

OFFER = {
    "offer_name": "Garden club",
    "provider_name": "Green Hands",
    "answer_by": "2027-03-05T12:00:00",
    "path": "/person/place",
}


def _mails(folder: Path) -> dict[str, str]:
    found = {}
    for path in folder.glob("*.eml"):
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        found[str(mail["To"])] = f"{mail['Subject']}\n\n{mail.get_content()}"
    return found


def test_a_welsh_person_is_told_in_welsh_and_their_english_helper_in_english(
    db_session: Session, session_factory: Callable[[], Session], tmp_path: Path
) -> None:
    person = factories.PersonProfileFactory(
        user__email="siân@example.org", user__display_name="Siân", user__language="cy"
    )
    factories.ConsentFactory(person=person, advocate__email="priya@example.org")
    notify(db_session, user_id=person.user_id, event=PLACE_OFFERED, data=OFFER, key="offer:cy")
    db_session.commit()

    deliver_due(session_factory, FolderSender(tmp_path), "w", public_url="https://t.example")

    mails = _mails(tmp_path)
    welsh, english = mails["siân@example.org"], mails["priya@example.org"]
    assert welsh.startswith("Rydych chi wedi cael cynnig lle: Garden club\n")
    assert "Helo Siân," in welsh
    assert "cynnig lle yn Garden club, sy’n cael ei redeg gan Green Hands." in welsh
    assert "erbyn Dydd Gwener 5 Mawrth 2027" in welsh
    assert "I newid sut rydyn ni’n rhoi gwybod i chi, ewch i https://t.example/account/" in welsh
    assert "You have been" not in welsh and "Friday" not in welsh
    assert english.startswith("For Siân: You have been offered a place: Garden club\n")
    assert "Please say yes or no by Friday 5 March 2027." in english


def test_an_advocates_copy_is_in_the_advocates_language(
    db_session: Session, session_factory: Callable[[], Session], tmp_path: Path
) -> None:
    person = factories.PersonProfileFactory(user__email="sam@example.org", user__display_name="Sam")
    factories.ConsentFactory(
        person=person, advocate__email="cerys@example.org", advocate__language="cy"
    )
    notify(db_session, user_id=person.user_id, event=PLACE_OFFERED, data=OFFER, key="offer:en")
    db_session.commit()
    deliver_due(session_factory, FolderSender(tmp_path), "w", public_url="https://t.example")
    copy = _mails(tmp_path)["cerys@example.org"]
    assert copy.startswith("I Sam: Rydych chi wedi cael cynnig lle: Garden club\n")
    assert "Rydych chi’n helpu Sam, felly rydyn ni’n anfon copi" in copy


SAMPLE: dict[str, object] = {
    **OFFER,
    "advocate_name": "Priya",
    "person_name": "Sam",
    "scopes": ["see their details, choices and places", "say yes or no to places for them"],
    "idea_title": "Evening swimming",
    "status": "commissioned",
    "round_name": "Spring",
    "answer": "We will ask the pool.",
    "closes_at": "2027-03-01T12:00:00",
    "token": "abc",
    "by_name": "Priya",
    "new_offer_name": "Art club",
    "reason": "The club has moved.",
    "person_reference": "P7K3M9QHXC",
}
EVENTS = sorted(p.stem for p in TEMPLATES.glob("*.txt"))


@pytest.mark.parametrize("event", EVENTS)
def test_every_message_reads_whole_in_welsh(event: str) -> None:
    item = ClaimedNotification(
        id=1, key=f"{event}:1", event=event, data=dict(SAMPLE), channel=Channel.email,
        address="sam@example.org", attempts=1, user_name="Sam", about_name=None,
        outcome_unknown=False, created_at=datetime(2027, 1, 1), language="cy",
    )  # fmt: skip
    english = render(replace(item, language="en"), public_url="https://t.example")
    welsh = render(item, public_url="https://t.example")
    assert welsh.subject != english.subject
    assert welsh.body.startswith("Helo Sam,")
    # No English sentence is left: each of the English body's lines differs in Welsh.
    for line in english.body.splitlines():
        if line.strip() and not line.startswith("https://"):
            assert line not in welsh.body, line
