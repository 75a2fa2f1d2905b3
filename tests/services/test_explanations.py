"""Explanations in a person's words, from the engine's reasons or a plain summary."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tests import factories
from web.services.explanations import Reader, choice_words, place_words, reason_words


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
            (1, "Community choir", reason_words("full_higher_priority")),
            (2, "A service you chose", "This costs more than your budget."),
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


def test_reasons_are_made_from_codes_for_the_reader(db_session: Session) -> None:
    """Issue 11 defect 8, issue 13: the sentences come from the engine's codes, in the voice
    of whoever reads them: "you" to the person, their name to an advocate acting for them."""
    choir = factories.OfferFactory(title="Community choir", price_pence=12_000)
    stored = {
        "ranks_held": [],
        "why_not": [
            {"offer": f"o-{choir.id}", "rank": 1, "code": "over_budget", "message": "engine"},
            {"offer": f"o-{choir.id}", "rank": 2, "code": "capacity", "message": "engine"},
            {"offer": f"o-{choir.id}", "rank": 3, "code": "new_code", "message": "engine's"},
        ],
    }
    own = place_words(db_session, stored, budget_pence=10_000)
    assert own.summary == "You did not get a place this time."
    assert [w.message for w in own.why_not] == [
        "This costs £120.00 a place. Your budget is £100.00, so it costs too much.",
        "All its places went to other people, and that helped more people overall. If it "
        "had one more place, you could have had it.",
        "engine's",  # a code this version does not know keeps the engine's sentence
    ]
    amina = place_words(db_session, stored, Reader(name="Amina"), budget_pence=10_000)
    assert amina.summary == "Amina did not get a place this time."
    assert amina.why_not[0].message.startswith("This costs £120.00 a place. Amina’s budget")
    assert "Amina could have had it" in amina.why_not[1].message
    assert place_words(db_session, {"ranks_held": [1, 3]}, Reader("Amina")).summary == (
        "Amina got their first choice and their third choice."
    )


def test_a_place_offered_again_speaks_to_the_reader(db_session: Session) -> None:
    stored = {"summary": "old words", "reasons": ["old"], "source": "reoffer", "rank": 2,
              "mechanism": "stable"}  # fmt: skip
    own = place_words(db_session, stored)
    assert own.summary.endswith("It was your second choice.")
    assert own.reasons[0].startswith("You were next in line")
    theirs = place_words(db_session, stored, Reader("Amina"))
    assert theirs.summary.endswith("It was their second choice.")
    assert theirs.reasons[0].startswith("Amina was next in line")
    assert "you" not in " ".join([theirs.summary or "", *theirs.reasons]).lower().split()
