"""Steps that cannot be undone ask "Are you sure?" first, in plain words: what happens, to
whom, and that it cannot be undone; a bare post only asks again, and changes nothing.

The others are tested beside their pages: closing a round and publishing a run
(test_commissioner_pages), moving or taking away a held place (test_commissioner_held_places),
a person saying no to a place or giving it up, and stopping an advocate
(tests/security/test_form_tokens_by_state). Withdrawing a service has an undo instead: it can
be published again, and people's choices of it are kept.
"""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Notification, RoundStatus
from tests.services.commissioning_world import make_round
from tests.web.test_commissioner_pages import post, signed_in


def test_opening_a_round_says_who_is_told_and_asks_first(
    client: FlaskClient, db_session: Session, login: Callable
) -> None:
    world = make_round(db_session, status=RoundStatus.draft)
    signed_in(client, world, login, db_session)
    base = f"/commissioner/rounds/{world.round.id}"
    told = db_session.scalar(select(func.count()).select_from(Notification))

    round_page = client.get(base).get_data(as_text=True)
    assert f'href="{base}/open"' in round_page  # a link to the question, not a one-click form
    asked = client.get(f"{base}/open")
    text = asked.get_data(as_text=True)
    assert asked.status_code == 200
    assert "Are you sure you want to open this round for choices?" in text
    people = len(world.people)
    assert f"{people} people will be told that the round is open" in text
    assert "A message cannot be taken back once it is sent." in text
    assert "cannot go back to being a draft" in text and "You cannot undo this." in text
    assert "Yes, open the round" in text and "No, keep it as a draft" in text

    # A bare post (no "Yes") only asks again: the round stays a draft and no one is told.
    again = post(client, f"{base}/open", {}, page_url=base)
    assert again.status_code == 200 and "Are you sure" in again.get_data(as_text=True)
    db_session.expire_all()
    assert world.round.status == RoundStatus.draft
    assert db_session.scalar(select(func.count()).select_from(Notification)) == told

    done = post(client, f"{base}/open", {"confirm": "yes"}, page_url=base)
    assert done.status_code == 302
    db_session.expire_all()
    assert world.round.status == RoundStatus.open
    assert db_session.scalar(select(func.count()).select_from(Notification)) == told + people
    # Asking again once it is open sends the commissioner back to the round.
    assert client.get(f"{base}/open").status_code == 302
