"""Places offered again, the demo's history and the council's moves store codes, not English
written to "you": the words are made when read, in the reader's voice (the person, or an
advocate acting for them, who reads the person's name)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from models import Allocation
from tests.services.test_allocations import allocation_of
from tests.services.test_place_moves import published
from web.services import place_moves
from web.services.allocations import _Candidate, _reoffer_explanation
from web.services.demo import _history_explanation
from web.services.explanations import Reader, place_words

AMINA = Reader(name="Amina")


def _no_you(stored: object) -> None:
    text = str(stored).lower()
    assert " you" not in text and "your" not in text, stored


def test_the_demo_history_is_codes_said_in_each_voice(db_session: Session) -> None:
    stored = _history_explanation(2)
    _no_you(stored)
    own = place_words(db_session, stored)
    assert own.summary == "You got your second choice."
    assert own.reasons == ["It had a place for you, and it fitted your budget."]
    theirs = place_words(db_session, stored, AMINA)
    assert theirs.summary == "Amina got their second choice."
    assert theirs.reasons == ["It had a place for Amina, and it fitted their budget."]


def test_a_place_offered_again_is_said_in_each_voice(db_session: Session) -> None:
    candidate = _Candidate(
        person_id=1, gain=4, need=2, lottery=0.5, key="p-1", rank=3, utility=5, give_up=None
    )
    for mechanism in ("stable", "welfare"):
        stored = _reoffer_explanation(candidate, mechanism)
        _no_you(stored)
        assert stored == {"source": "reoffer", "rank": 3, "mechanism": mechanism}
        theirs = place_words(db_session, stored, AMINA)
        assert theirs.summary == (
            "A place came free because someone turned it down. It was their third choice."
        )
        assert "Amina" in theirs.reasons[0] and "you" not in theirs.reasons[0].lower()
    own = place_words(db_session, _reoffer_explanation(candidate, "stable"))
    assert own.reasons[0].startswith("You were next in line")


def test_a_move_by_the_council_is_said_in_each_voice(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = published(db_session, session_factory)
    old = allocation_of(world, "Ada")
    new = place_moves.move_place(
        db_session,
        world.commissioner,
        world.round,
        old.id,
        to_offer_id=world.offers["garden"].id,
        reason="The cafe shuts for repairs.",
    )
    moved_away = db_session.get(Allocation, old.id)
    assert moved_away is not None
    assert moved_away.explanation["action"] == "moved_away"
    assert moved_away.explanation["to_offer_id"] == world.offers["garden"].id
    assert new.explanation == {
        "source": "council",
        "action": "moved_here",
        "reasons": ["The cafe shuts for repairs."],
    }

    away = place_words(db_session, moved_away.explanation, AMINA)
    assert away.summary == "The council moved this place to Garden."
    assert away.reasons == ["The cafe shuts for repairs."]
    assert place_words(db_session, new.explanation).summary == (
        "The council moved your place to this service."
    )
    assert place_words(db_session, new.explanation, AMINA).summary == (
        "The council moved Amina’s place to this service."
    )
    # The service moved to is named as it is called now.
    world.offers["garden"].title = "Community garden"
    db_session.flush()
    assert place_words(db_session, moved_away.explanation).summary == (
        "The council moved this place to Community garden."
    )


def test_a_place_taken_away_and_older_rows(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = published(db_session, session_factory)
    ada = allocation_of(world, "Ada")
    released = place_moves.release_place(
        db_session, world.commissioner, world.round, ada.id, reason="The service has closed."
    )
    assert released.explanation["action"] == "taken_away"
    words = place_words(db_session, released.explanation, AMINA)
    assert (words.summary, words.reasons) == (
        "The council took this place away.",
        ["The service has closed."],
    )
    # Rows written before the codes keep their own words.
    older = {"source": "council", "summary": "Old words.", "reasons": ["Why."]}
    assert place_words(db_session, older).summary == "Old words."


def test_a_waiting_list_one_cannot_be_on_says_why_in_each_voice(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    from tests import factories
    from tests.services.commissioning_world import PEOPLE
    from tests.services.test_places_cycle import published as published_cycle
    from web.services import places_cycle

    # Dot ranks the cafe first but cannot pay for it (£150 a place, £90 in her budget).
    people = {**PEOPLE, "Dot": ("north", 3, 9_000, ["cafe", "garden"])}
    world = published_cycle(db_session, session_factory, people=people)
    dot = world.people["Dot"]
    cafe = world.offers["cafe"].id

    def reason(actor: object) -> str | None:
        lines = places_cycle.waiting_lists(db_session, actor, dot, remember=False).lines
        line = next(x for x in lines if x.offer.id == cafe)
        assert line.position is None
        return line.reason

    assert reason(dot.user) == (
        "You are not on this list: it costs more than you have left, or the council has no "
        "money left for it."
    )
    advocate = factories.ConsentFactory(person=dot).advocate
    db_session.flush()
    assert reason(advocate) == (
        "Dot is not on this list: it costs more than they have left, or the council has no "
        "money left for it."
    )
