"""The market position statement: its figures, from published rounds only, with small groups
hidden so that no hidden figure can be worked out from the others."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session

from models import AllocationStatus, OfferCategory, RoundStatus
from models.accounts import Council
from models.people import OutcomeTag, PersonProfile, person_outcome_tags
from models.providers import Offer
from models.rounds import Round
from tests import factories
from web.services import market
from web.services.disclosure import THRESHOLD
from web.services.errors import NotFound


@dataclass
class World:
    council: Council
    round: Round
    art: Offer
    course: Offer
    online: Offer
    people: list[PersonProfile]
    tag: OutcomeTag


def make_world(db_session: Session) -> World:
    """30 people in a published round. Art (north, 20 places): 25 choose it first and 20 get
    it; 12 of those 25 choose the course (south, 5 places) second. 5 choose the course first
    and 3 get it. The online course (8 places) is chosen by nobody."""
    council = factories.CouncilFactory(slug="riverford")
    round_ = factories.RoundFactory(council=council, status=RoundStatus.published, name="Spring")
    run = factories.SolverRunFactory(round=round_)
    provider = factories.ProviderFactory(council=council)
    tag = factories.OutcomeTagFactory(slug="making", label="Making things")
    art = factories.OfferFactory(
        provider=provider, category=OfferCategory.creative, area="north", price_pence=10_000
    )
    art.outcome_tags.append(tag)
    course = factories.OfferFactory(
        provider=provider, category=OfferCategory.training, area="south", price_pence=20_001
    )
    online = factories.OfferFactory(
        provider=provider, category=OfferCategory.training, area=None, price_pence=4_000
    )
    for offer, places, taken in ((art, 20, 20), (course, 5, 3), (online, 8, 0)):
        factories.RoundOfferFactory(round=round_, offer=offer, places=places, places_taken=taken)
    people = []
    for i in range(30):
        person = factories.PersonProfileFactory(user__council=council, area="north")
        people.append(person)
        first = art if i < 25 else course
        factories.ChoiceFactory(round=round_, person=person, offer=first, rank=1)
        if i < 12:
            factories.ChoiceFactory(round=round_, person=person, offer=course, rank=2)
        if i < 20:
            factories.AllocationFactory(run=run, person=person, offer=art, rank=1)
        elif i >= 27:
            factories.AllocationFactory(run=run, person=person, offer=course, rank=1)
    db_session.flush()
    return World(council, round_, art, course, online, people, tag)


def rows(statement: market.MarketStatement, table: str, **match: Any) -> list[dict[str, Any]]:
    return [r for r in statement.tables[table].rows if all(r[k] == v for k, v in match.items())]


def test_demand_in_a_published_round(db_session: Session) -> None:
    world = make_world(db_session)
    statement = market.market_statement(db_session, "riverford")
    assert [r.name for r in statement.rounds] == ["Spring"]
    [art] = rows(statement, "demand", category="creative", area="north")
    # 25 chose it, all first; 20 of them got a place (here), 5 did not.
    assert (art["people_who_chose"], art["places"]) == (25, 20)
    # First choices add up to 30: the course's 5 are hidden, so art's 25 must be too.
    assert art["first_choices"] is None
    # 5 people is a small group; 25 - 20 would give it away, so both are hidden.
    assert art["got_a_place"] is art["left_without_a_place"] is None
    [total] = rows(statement, "demand", area=market.ALL)
    assert total["people_who_chose"] == total["first_choices"] == 30
    assert total["places"] == 33
    # 23 of the 30 hold a place; 7 do not: hidden, and so is what would give it away.
    assert total["left_without_a_place"] is None
    assert total["got_a_place"] is None
    [course] = rows(statement, "demand", category="training", area="south")
    # 17 chose the course (12 second, 5 first): 5 first choices is a small group.
    assert course["people_who_chose"] == 17
    assert course["first_choices"] is None
    assert world.round.id == art["round_id"]


def test_no_small_group_shows_and_the_hidden_ones_cannot_be_worked_out(
    db_session: Session,
) -> None:
    make_world(db_session)
    statement = market.market_statement(db_session, "riverford")
    [art] = rows(statement, "demand", category="creative", area="north")
    [course] = rows(statement, "demand", category="training", area="south")
    [online] = rows(statement, "demand", category="training", area=market.ONLINE)
    [total] = rows(statement, "demand", area=market.ALL)
    for table in statement.tables.values():
        counts = [c.name for c in table.columns if c.kind == "count"]
        for row in table.rows:
            for name in counts:
                assert row[name] is None or row[name] == 0 or row[name] >= THRESHOLD, (row, name)
    # First choices add up to the people who chose: 25 + 5 + 0 = 30. Hiding only the 5
    # would give it away (30 - 25), so another first-choice figure is hidden with it.
    firsts = [art["first_choices"], course["first_choices"], online["first_choices"]]
    assert total["first_choices"] == 30
    assert firsts.count(None) >= 2
    shown = sum(v for v in firsts if v is not None)
    assert 30 - shown >= THRESHOLD
    assert statement.hidden > 0


def test_waiting_lists_and_free_places(db_session: Session) -> None:
    make_world(db_session)
    statement = market.market_statement(db_session, "riverford")
    [art] = rows(statement, "waiting", category="creative", area="north")
    assert (art["places"], art["places_taken"], art["free_places"]) == (20, 20, 0)
    # Nobody chose art without getting it but the 5 who hold no place or the course: hidden.
    assert art["people_waiting"] is None
    [course] = rows(statement, "waiting", category="training", area="south")
    # 3 places taken is a small group, so free places (5 - 3) and the places are hidden.
    assert course["places_taken"] is None
    assert course["free_places"] is None
    assert course["places"] is None
    # 12 chose it second, of whom the 12 art holders ranked art higher: not waiting. The 2
    # who chose it first and got nothing are waiting: a small group.
    assert course["people_waiting"] is None


def test_wishes_and_prices(db_session: Session) -> None:
    world = make_world(db_session)
    for person in world.people[:15]:
        db_session.execute(
            person_outcome_tags.insert().values(person_id=person.id, tag_id=world.tag.id)
        )
    db_session.flush()
    statement = market.market_statement(db_session, "riverford")
    [north] = rows(statement, "unmet", outcome="making", area="north")
    # 15 want it; the 15 hold art, which gives it.
    assert north["people_who_want_it"] == 15
    assert north["have_a_place"] == 15
    assert north["not_met"] == 0
    assert north["offers"] == 1
    prices = {(r["category"], r["area"]): r for r in statement.tables["prices"].rows}
    course = prices[("training", "south")]
    assert course["lowest_price_pence"] == course["highest_price_pence"] == 20_001
    assert course["average_price_pence"] == 20_001
    assert prices[("training", market.ONLINE)]["offers"] == 1


def test_only_published_rounds_and_the_councils_own(db_session: Session) -> None:
    world = make_world(db_session)
    closed = factories.RoundFactory(council=world.council, status=RoundStatus.closed)
    other = factories.CouncilFactory(slug="elsewhere")
    for person in world.people[:12]:
        factories.ChoiceFactory(round=closed, person=person, offer=world.art, rank=1)
    elsewhere = factories.RoundFactory(council=other, status=RoundStatus.published)
    for _ in range(12):
        factories.ChoiceFactory(round=elsewhere, rank=1)
    statement = market.market_statement(db_session, "riverford")
    assert {r["round_id"] for r in statement.tables["demand"].rows} == {world.round.id}
    assert market.market_statement(db_session, "elsewhere").rounds[0].id == elsewhere.id


def test_a_council_with_no_published_round_has_an_empty_statement(db_session: Session) -> None:
    factories.CouncilFactory(slug="quiet")
    statement = market.market_statement(db_session, "quiet")
    assert statement.rounds == ()
    assert statement.tables["demand"].rows == ()
    assert statement.hidden == 0


def test_an_unknown_council_is_not_found(db_session: Session) -> None:
    with pytest.raises(NotFound):
        market.market_statement(db_session, "nowhere")


def test_csv_marks_hidden_figures_and_defuses_formulas(db_session: Session) -> None:
    make_world(db_session)
    statement = market.market_statement(db_session, "riverford")
    text = statement.tables["demand"].csv()
    header, *lines = text.splitlines()
    assert header.split(",") == [c.name for c in market.DEMAND_COLUMNS]
    assert any(market.HIDDEN_CSV in line for line in lines)
    assert market._csv_text("=HYPERLINK(1)") == "'=HYPERLINK(1)"


def test_held_places_only_count_offered_and_accepted(db_session: Session) -> None:
    world = make_world(db_session)
    # A declined place is no place: 10 more people choose art and decline it.
    run = world.round.runs[0]
    for _ in range(10):
        person = factories.PersonProfileFactory(user__council=world.council)
        factories.ChoiceFactory(round=world.round, person=person, offer=world.art, rank=1)
        factories.AllocationFactory(
            run=run, person=person, offer=world.art, status=AllocationStatus.declined
        )
    statement = market.market_statement(db_session, "riverford")
    [art] = rows(statement, "demand", category="creative", area="north")
    assert (art["people_who_chose"], art["got_a_place"], art["left_without_a_place"]) == (
        35,
        20,
        15,
    )


@pytest.mark.parametrize(
    ("status", "waiting"), [(AllocationStatus.offered, 12), (AllocationStatus.accepted, 0)]
)
def test_people_wait_for_a_choice_above_a_place_they_have_not_accepted(
    db_session: Session, status: AllocationStatus, waiting: int
) -> None:
    world = make_world(db_session)
    run = world.round.runs[0]
    for _ in range(12):
        person = factories.PersonProfileFactory(user__council=world.council)
        factories.ChoiceFactory(round=world.round, person=person, offer=world.online, rank=1)
        factories.ChoiceFactory(round=world.round, person=person, offer=world.art, rank=2)
        factories.AllocationFactory(run=run, person=person, offer=world.art, rank=2, status=status)
    statement = market.market_statement(db_session, "riverford")
    [online] = rows(statement, "waiting", category="training", area=market.ONLINE)
    # Their place is art (their second choice): while it is only offered they wait for the
    # online course; once they accept it they have decided.
    assert online["people_waiting"] == waiting
