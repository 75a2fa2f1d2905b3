"""What a person sees of the offers: matched for you, search and filters, one offer."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from models import OfferStatus
from tests import factories
from tests.services.person_world import make_world
from web.services.catalogue import (
    PAGE_SIZE,
    matched_for_you,
    offer_areas,
    offer_detail,
    parse_pounds,
    search_offers,
)
from web.services.errors import InvalidInput, NotFound


def test_matched_for_you_ranks_fitting_offers_and_counts_the_rest(db_session: Session) -> None:
    w = make_world()
    matched = matched_for_you(db_session, w.user, w.person)
    round_, items, left_out = matched.round, matched.items, matched.left_out
    assert round_ is w.round
    assert matched.more == 0
    titles = [i.offer.title for i in items]
    assert titles[0] == "Nursery assistant placement"
    assert "Residential college week" not in titles  # £450 is over the £300 budget
    assert left_out == 1
    assert items[0].round_offer is w.places["nursery"]
    scores = [i.match.score for i in items]
    assert scores == sorted(scores, reverse=True)


def test_offers_outside_the_round_or_unpublished_are_not_matched(db_session: Session) -> None:
    w = make_world()
    factories.OfferFactory(provider=w.offers["nursery"].provider, title="Not in the round")
    w.offers["choir"].status = OfferStatus.withdrawn
    db_session.flush()
    titles = {i.offer.title for i in matched_for_you(db_session, w.user, w.person).items}
    assert "Not in the round" not in titles
    assert "Community choir" not in titles


def test_other_councils_offers_are_never_shown(db_session: Session) -> None:
    w = make_world()
    factories.OfferFactory(title="Elsewhere nursery")  # another council's provider
    page = search_offers(db_session, w.user, w.person, text="nursery")
    assert [i.offer.title for i in page.items] == ["Nursery assistant placement"]


def test_search_filters_by_words_category_area_and_price(db_session: Session) -> None:
    w = make_world()
    titles = lambda page: {i.offer.title for i in page.items}  # noqa: E731
    assert titles(search_offers(db_session, w.user, w.person, text="CAFÉ")) == {"Café team member"}
    assert titles(search_offers(db_session, w.user, w.person, category="creative")) == {
        "Community choir"
    }
    assert titles(search_offers(db_session, w.user, w.person, area="Eastbrook")) == {
        "Community choir"
    }
    assert titles(search_offers(db_session, w.user, w.person, max_price="120")) == {
        "Nursery assistant placement",
        "Community choir",
    }
    within = search_offers(db_session, w.user, w.person, within_budget=True)
    assert "Residential college week" not in titles(within)
    assert within.total == 3


def test_search_shows_offers_over_budget_last_with_the_reason(db_session: Session) -> None:
    w = make_world()
    page = search_offers(db_session, w.user, w.person)
    last = page.items[-1]
    assert last.offer.title == "Residential college week"
    assert not last.match.fits
    assert last.match.blockers[0].text == ("It costs £450, which is more than your budget of £300.")


def test_search_errors_are_named_by_field(db_session: Session) -> None:
    w = make_world()
    with pytest.raises(InvalidInput) as caught:
        search_offers(
            db_session, w.user, w.person, category="spaceflight", max_price="lots", text="x" * 101
        )
    assert set(caught.value.errors) == {"category", "max_price", "q"}


def test_pages_hold_page_size_offers_and_clamp(db_session: Session) -> None:
    w = make_world()
    provider = w.offers["nursery"].provider
    for i in range(PAGE_SIZE + 3):
        factories.OfferFactory(provider=provider, title=f"Extra {i:02d}", area="Northtown")
    first = search_offers(db_session, w.user, w.person, page=1)
    second = search_offers(db_session, w.user, w.person, page=2)
    beyond = search_offers(db_session, w.user, w.person, page=99)
    assert first.total == PAGE_SIZE + 7 and first.pages == 2
    assert len(first.items) == PAGE_SIZE and len(second.items) == 7
    assert beyond.page == 2
    seen = {i.offer.id for i in first.items} | {i.offer.id for i in second.items}
    assert len(seen) == PAGE_SIZE + 7


def test_offer_detail_has_match_places_demand_and_ratings(db_session: Session) -> None:
    w = make_world()
    nursery = w.offers["nursery"]
    for _ in range(3):
        factories.ChoiceFactory(round=w.round, offer=nursery)
    factories.FeedbackFactory(offer=nursery, rating=5, comment="Lovely staff.")
    factories.FeedbackFactory(offer=nursery, rating=4, comment=None)
    detail = offer_detail(db_session, w.user, w.person, nursery.id)
    assert detail.match.fits
    assert detail.round_offer is w.places["nursery"]
    assert detail.demand == 3
    assert detail.rating_average == 4.5 and detail.rating_count == 2
    assert [c.comment for c in detail.comments] == ["Lovely staff."]
    assert offer_areas(db_session, w.person) == ["Eastbrook", "Northtown"]


def test_unpublished_offer_detail_is_not_found(db_session: Session) -> None:
    w = make_world()
    w.offers["cafe"].status = OfferStatus.draft
    db_session.flush()
    with pytest.raises(NotFound):
        offer_detail(db_session, w.user, w.person, w.offers["cafe"].id)


@pytest.mark.parametrize(
    ("text", "pence"),
    [("120", 12000), ("£95.50", 9550), ("1,200", 120000), ("7.5", 750), ("abc", None),
     ("1.234", None), ("", None), ("-5", None)],
)  # fmt: skip
def test_parse_pounds(text: str, pence: int | None) -> None:
    assert parse_pounds(text) == pence


def test_matched_for_you_shows_the_best_and_counts_the_rest(db_session: Session) -> None:
    w = make_world()
    provider = w.offers["nursery"].provider
    for i in range(4):
        offer = factories.OfferFactory(provider=provider, title=f"Extra {i}", area="Northtown")
        factories.RoundOfferFactory(round=w.round, offer=offer)
    matched = matched_for_you(db_session, w.user, w.person, limit=3)
    assert len(matched.items) == 3
    assert matched.more == 4  # 7 fit: nursery, cafe, choir and four extras
    assert matched.left_out == 1
