"""Counts in the services' messages go through the one counting helper (``web.services.words``),
so a message about one thing never says "1 places", "1 records" or "1 sessions"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from models import RoundStatus, utcnow
from tests import factories
from web.services import offers, rounds
from web.services.errors import Conflict, StateConflict
from web.services.matching import format_distance
from web.services.readable_data import Record, Section


@pytest.mark.parametrize(("taken", "words"), [(1, "1 place is"), (3, "3 places are")])
def test_round_places_below_those_taken(db_session: Session, taken: int, words: str) -> None:
    round_offer = factories.RoundOfferFactory(places=5, places_taken=taken)
    commissioner = factories.CommissionerFactory(council=round_offer.round.council)
    db_session.flush()

    with pytest.raises(StateConflict) as caught:
        rounds.set_places(
            db_session, commissioner, round_offer.round, {round_offer.offer_id: taken - 1 or 0}
        )

    assert caught.value.errors[f"places-{round_offer.offer_id}"] == f"{words} already taken"


@pytest.mark.parametrize(
    ("held", "words"),
    [(1, "1 place on this service is"), (2, "2 places on this service are")],
)
def test_withdrawing_an_offer_that_holds_places(db_session: Session, held: int, words: str) -> None:
    member = factories.ProviderMemberFactory()
    offer = factories.OfferFactory(provider=member.provider, capacity=4)
    factories.RoundOfferFactory(
        round=factories.RoundFactory(
            council=member.provider.council, status=RoundStatus.published, name="Spring"
        ),
        offer=offer,
        places=4,
        places_taken=held,
    )
    db_session.flush()

    with pytest.raises(Conflict) as caught:
        offers.withdraw_offer(db_session, member.user, member.provider, offer.id)

    assert caught.value.message.startswith(f"{words} offered to or taken by people in Spring.")


def test_opening_a_round_counts_people_and_services(db_session: Session) -> None:
    round_offer = factories.RoundOfferFactory(
        round=factories.RoundFactory(status=RoundStatus.draft), places=2
    )
    factories.BudgetFactory(round=round_offer.round)
    db_session.flush()

    words = rounds.open_words(db_session, round_offer.round)

    assert words[0].startswith("1 person will be told that the round is open")
    assert words[1] == "They can then choose from 1 service."


def test_closing_early_counts_the_days(db_session: Session) -> None:
    round_ = factories.RoundFactory(choice_deadline=utcnow() + timedelta(days=3, hours=1))
    db_session.flush()
    assert ", in 3 days. You are closing it" in rounds.close_words(round_)[0]


def test_distances_and_records() -> None:
    assert format_distance(1.7) == "1 mile"
    assert format_distance(16.1) == "10 miles"
    one = Section(key="places", heading="Your places", about="", records=[Record(fields=[])])
    assert one.count_words == "1 record"
