"""Explanations in a person's words, from the engine's reasons or a plain summary."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tests import factories
from web.services.explanations import choice_words, place_words


def test_engine_reasons_are_named_by_offer_title(db_session: Session) -> None:
    choir = factories.OfferFactory(title="Community choir")
    reasons = [
        {"offer": f"o-{choir.id}", "rank": 1, "code": "full_higher_priority",
         "message": "Its places went to people with a higher need.", "rule": None},
        {"offer": "o-999999", "rank": 2, "code": "over_budget", "message": "It costs too much."},
        {"offer": "o-1", "rank": 3, "code": "tie"},  # no message: left out
    ]  # fmt: skip
    for stored in (reasons, {"explanation": reasons}, {"why_not": reasons}):
        words = place_words(db_session, stored)
        assert [(w.rank, w.title, w.message) for w in words.why_not] == [
            (1, "Community choir", "Its places went to people with a higher need."),
            (2, "A service you chose", "It costs too much."),
        ]


def test_summary_and_reasons_are_kept(db_session: Session) -> None:
    words = place_words(db_session, {"summary": "You got your first choice.", "reasons": ["Yes."]})
    assert (words.summary, words.reasons, words.why_not) == (
        "You got your first choice.",
        ["Yes."],
        [],
    )
    assert place_words(db_session, None).empty
    assert place_words(db_session, {"unexpected": 3}).empty


def test_choice_words() -> None:
    assert choice_words(1) == "your first choice"
    assert choice_words(7) == "your choice number 7"
    assert choice_words(None) == "one of your choices"
