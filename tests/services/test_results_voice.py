"""The figures of a run (results page, comparison) and the commissioner's voice loop."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from models import ProposalStatus
from tests import factories
from tests.services.commissioning_world import make_round, solved_run
from web.services import allocations, results, voice
from web.services.errors import InvalidInput


def test_the_figures_of_a_stable_run(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = make_round(db_session)
    report = results.run_report(db_session, world.round, solved_run(world, session_factory))
    assert (report.persons, report.placed, report.placements) == (6, 5, 5)
    assert report.spend_pence == 15_000 + 2 * 10_000 + 2 * 8_000
    area = next(c for c in report.coverage if c.attribute == "area")
    assert [(g.value, g.members, g.placed) for g in area.groups] == [
        ("north", 3, 2), ("south", 3, 3),
    ]  # fmt: skip
    need = next(c for c in report.coverage if c.attribute == "need_band")
    assert [g.value for g in need.groups] == ["low", "medium", "high"]
    assert report.ranks == [("Choice 1", 5), ("No place", 1)]
    unplaced = {row.need: row.unplaced for row in report.unplaced_by_need}
    assert unplaced == {1: 0, 2: 1, 3: 0, 5: 0, 6: 0, 8: 0}  # Ben (need 2) has no place
    demand = {o.title: (o.chosen_by, o.first_choices, o.places) for o in report.offers}
    assert demand == {"Art": (4, 2, 2), "Cafe": (3, 2, 1), "Garden": (4, 2, 2)}
    assert [o.title for o in report.oversubscribed] == ["Cafe", "Art", "Garden"]
    # A stable run shows no welfare figures, and says why in plain words.
    assert (report.rule_prices, report.place_values) == ([], [])
    assert report.welfare_note == results.STABLE_NOTE
    assert "never swaps places to raise the total value" in report.welfare_note
    assert report.explained == 6


def test_the_price_of_a_rule_and_two_runs_side_by_side(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    rules = [{"type": "coverage_floor", "attribute": "area", "min_share": 1.0, "values": ["north"]}]
    world = make_round(db_session, mechanism="welfare", rules=rules)
    with_rule = solved_run(world, session_factory)
    without = solved_run(world, session_factory, rules=[], label="No rule")
    report = results.run_report(db_session, world.round, with_rule)
    [price] = report.rule_prices
    assert price.description == "Every area group (north) gets at least 100% placed"
    assert price.welfare_without == without.objective
    assert price.welfare_with == with_rule.objective
    assert price.price == without.objective - with_rule.objective >= 0
    comparison = results.compare_runs(db_session, world.round, with_rule, without)
    rows = {row.measure: row for row in comparison.rows}
    assert rows["Total value (welfare), in points"].a == f"{with_rule.objective:,}"
    north = next(c for c in comparison.coverage if c.attribute == "area")
    shares = {value: (a, b) for value, a, b in north.groups}
    assert shares["north"][0] == 1.0  # the rule holds in the first run


def test_unmet_aspirations_proposals_and_ratings(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = make_round(db_session)
    cooking = factories.OutcomeTagFactory(slug="cooking", label="Learning to cook")
    art_tag = factories.OutcomeTagFactory(slug="art", label="Making art")
    world.offers["art"].outcome_tags = [art_tag]
    for name in ("Ada", "Ben", "Cal"):
        world.people[name].outcome_tags = [cooking, art_tag]
    db_session.flush()
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    rows = {(u.tag, u.area): u for u in voice.unmet_aspirations(db_session, world.commissioner)}
    assert rows[("cooking", "north")].wanting == 2 and rows[("cooking", "north")].unmet == 2
    assert rows[("cooking", "north")].offers == 0
    # Cal (south) holds an art place, so their wish for art is served.
    assert rows[("art", "south")].served == 1 and rows[("art", "south")].unmet == 0
    assert rows[("art", "north")].offers == 1  # the art offer is online

    idea = factories.ProposalFactory(council=world.council, proposer=world.people["Ada"])
    quiet = factories.ProposalFactory(council=world.council, proposer=world.people["Ben"])
    for name in ("Ada", "Cal", "Dee"):
        factories.ProposalSupportFactory(proposal=idea, person=world.people[name])
    ranked = voice.proposals_by_support(db_session, world.commissioner)
    assert [(p.proposal.id, p.supporters) for p in ranked] == [(idea.id, 3), (quiet.id, 0)]
    with pytest.raises(InvalidInput):
        voice.respond_to_proposal(
            db_session, world.commissioner, idea.id, status="commissioned", response="Yes"
        )
    voice.respond_to_proposal(
        db_session,
        world.commissioner,
        idea.id,
        status="commissioned",
        response="We are buying it.",
        round_id=world.round.id,
    )
    assert idea.status == ProposalStatus.commissioned
    assert voice.proposal_status_words(idea) == "Commissioned in round Spring"
    voice.respond_to_proposal(
        db_session, world.commissioner, quiet.id, status="under_consideration", response="Maybe"
    )
    assert voice.proposal_status_words(quiet) == "Under consideration"

    place = next(
        a for a in world.round.round_offers if a.offer_id == world.offers["art"].id
    )  # any offer with feedback
    factories.FeedbackFactory(offer=place.offer, person=world.people["Cal"], rating=4,
                              comment="Friendly people")  # fmt: skip
    factories.FeedbackFactory(offer=place.offer, person=world.people["Dee"], rating=2,
                              comment=None)  # fmt: skip
    [rating] = voice.offer_ratings(db_session, world.commissioner)
    assert (rating.offer.title, rating.average, rating.count) == ("Art", 3.0, 2)
    assert rating.comments == ["Friendly people"]
