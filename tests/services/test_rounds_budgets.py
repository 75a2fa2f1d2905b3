"""Rounds (create, places, policy, open, close) and budgets (one by one, CSV all or nothing)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEvent, Budget, Mechanism, RoundStatus
from models.base import utcnow
from tests import factories
from tests.services.commissioning_world import make_round
from web.services import budgets, rounds
from web.services.errors import Conflict, InvalidInput


def test_create_round_with_places_and_open_then_close(db_session: Session) -> None:
    world = make_round(db_session, status=RoundStatus.draft)
    offer = world.offers["art"]
    round_ = rounds.create_round(
        db_session,
        world.commissioner,
        name="  Autumn  ",
        pot_pence=1_000_000,
        choice_deadline=utcnow() + timedelta(days=10),
        areas=["north"],
        places={offer.id: 4},
    )
    assert round_.status == RoundStatus.draft
    assert round_.name == "Autumn"
    assert [(ro.offer_id, ro.places) for ro in round_.round_offers] == [(offer.id, 4)]
    rounds.open_round(db_session, world.commissioner, round_)
    assert round_.status == RoundStatus.open and round_.opened_at is not None
    with pytest.raises(Conflict):
        rounds.open_round(db_session, world.commissioner, round_)
    rounds.close_round(db_session, world.commissioner, round_)
    assert round_.status == RoundStatus.closed
    actions = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == str(round_.id))
    ).all()
    assert {"round.create", "round.places.set", "round.open", "round.close"} <= set(actions)


def test_create_round_reports_each_wrong_field(db_session: Session) -> None:
    world = make_round(db_session, status=RoundStatus.draft)
    with pytest.raises(InvalidInput) as caught:
        rounds.create_round(
            db_session, world.commissioner, name=" ", pot_pence=-1, areas=["atlantis"]
        )
    assert set(caught.value.errors) == {"name", "pot", "areas"}


def test_an_empty_round_cannot_open(db_session: Session) -> None:
    world = make_round(db_session, status=RoundStatus.draft)
    round_ = rounds.create_round(db_session, world.commissioner, name="Empty", pot_pence=None)
    with pytest.raises(InvalidInput):
        rounds.open_round(db_session, world.commissioner, round_)


def test_places_cannot_drop_an_offer_people_chose(db_session: Session) -> None:
    world = make_round(db_session, status=RoundStatus.open)
    with pytest.raises(InvalidInput) as caught:
        rounds.set_places(
            db_session,
            world.commissioner,
            world.round,
            {world.offers["cafe"].id: 1, world.offers["garden"].id: 2},
        )
    assert f"places-{world.offers['art'].id}" in caught.value.errors


def test_other_councils_rounds_look_missing(db_session: Session) -> None:
    world = make_round(db_session)
    stranger = factories.CommissionerFactory()
    from web.services.errors import NotFound

    with pytest.raises(NotFound):
        rounds.get_round(db_session, stranger, world.round.id)


def test_policy_accepts_rules_on_consented_equity_attributes(db_session: Session) -> None:
    world = make_round(db_session)
    ada = world.people["Ada"]
    ada.equity_attributes = {"ethnicity": "Asian"}
    ada.equity_consent_at = utcnow()
    db_session.flush()
    names = rounds.available_attributes(db_session, world.round)
    assert {"area", "age_band", "need_band", "ethnicity"} <= set(names)
    rules = [
        {"type": "coverage_floor", "attribute": "ethnicity", "min_share": 0.5},
        {"type": "coverage_gap", "attribute": "area", "max_gap": 0.25},
        {"type": "maximize_min_coverage", "attribute": "need_band"},
    ]
    rounds.set_policy(
        db_session,
        world.commissioner,
        world.round,
        mechanism="welfare",
        rules=rules,
        time_limit_s=5,
        seed=11,
    )
    assert world.round.mechanism == Mechanism.welfare
    assert world.round.rules == rules
    assert world.round.seed == 11


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"type": "coverage_floor", "attribute": "religion", "min_share": 0.5}, "rules-0"),
        ({"type": "coverage_floor", "attribute": "area", "min_share": 1.5}, "rules-0"),
        ({"type": "coverage_gap", "attribute": "area", "max_gap": 0.1, "values": ["x"]}, "rules-0"),
        ({"type": "quota", "attribute": "area"}, "rules-0"),
    ],
)
def test_policy_refuses_bad_rules(db_session: Session, rule: dict, field: str) -> None:
    world = make_round(db_session)
    with pytest.raises(InvalidInput) as caught:
        rounds.set_policy(
            db_session,
            world.commissioner,
            world.round,
            mechanism="welfare",
            rules=[rule],
            time_limit_s=5,
            seed=0,
        )
    assert field in caught.value.errors


@pytest.mark.parametrize(
    ("values", "words"),
    [
        (["narnia", "north"], 'No one in this round has the area "narnia". The areas people '
         "have are: north, south"),
        (["North"], 'No one in this round has the area "North". Did you mean "north"?'),
        (["sooth"], 'No one in this round has the area "sooth". Did you mean "south"?'),
    ],
)  # fmt: skip
def test_policy_refuses_a_group_no_one_in_the_round_is_in(
    db_session: Session, values: list[str], words: str
) -> None:
    world = make_round(db_session)
    rule = {"type": "coverage_floor", "attribute": "area", "min_share": 0.3, "values": values}
    with pytest.raises(InvalidInput) as caught:
        rounds.set_policy(
            db_session,
            world.commissioner,
            world.round,
            mechanism="welfare",
            rules=[rule],
            time_limit_s=5,
            seed=0,
        )
    assert caught.value.errors == {"rules-0": words}
    assert world.round.rules == []


def test_policy_groups_are_those_of_the_rounds_people(db_session: Session) -> None:
    world = make_round(db_session)
    outsider = factories.PersonProfileFactory(
        user=factories.UserFactory(council=world.council), area="east"
    )
    db_session.flush()
    assert outsider.id not in {p.id for p in world.people.values()}
    assert rounds.known_groups(db_session, world.round, "area") == {"north", "south"}
    assert rounds.known_groups(db_session, world.round, "need_band") >= {"low", "medium"}
    fine = {"type": "coverage_floor", "attribute": "area", "min_share": 0.3, "values": ["south"]}
    rounds.set_policy(
        db_session,
        world.commissioner,
        world.round,
        mechanism="welfare",
        rules=[fine],
        time_limit_s=5,
        seed=0,
    )
    assert world.round.rules == [fine]
    with pytest.raises(InvalidInput) as caught:
        rounds.set_policy(
            db_session,
            world.commissioner,
            world.round,
            mechanism="welfare",
            rules=[{**fine, "values": ["east"]}],  # someone has it, but not in this round
            time_limit_s=5,
            seed=0,
        )
    assert caught.value.errors["rules-0"].startswith('No one in this round has the area "east"')


def test_need_bands() -> None:
    assert [rounds.need_band(n) for n in (0, 3, 4, 6, 7, 10)] == [
        "low", "low", "medium", "medium", "high", "high",
    ]  # fmt: skip


def test_set_budget_creates_then_changes_and_never_below_committed(db_session: Session) -> None:
    world = make_round(db_session)
    newcomer = factories.PersonProfileFactory(user__council=world.council, area="north")
    budget = budgets.set_budget(db_session, world.commissioner, world.round, newcomer.id, 25_000)
    assert budget.amount_pence == 25_000
    budget.committed_pence = 20_000
    db_session.flush()
    with pytest.raises(InvalidInput):
        budgets.set_budget(db_session, world.commissioner, world.round, newcomer.id, 19_999)
    budgets.set_budget(db_session, world.commissioner, world.round, newcomer.id, 20_000)
    assert budget.amount_pence == 20_000


def test_csv_preview_marks_every_wrong_row_and_imports_nothing(db_session: Session) -> None:
    world = make_round(db_session)
    ada, ben = world.people["Ada"].user.email, world.people["Ben"].user.email
    provider_user = factories.ProviderUserFactory(council=world.council)
    text = (
        "email,amount,note\n"
        f"{ada},£410.50,fine\n"
        f"{ben},lots,\n"
        "nobody@example.org,100\n"
        f"{ada.upper()},200\n"
        f"{provider_user.email},100\n"
    )
    preview = budgets.preview_budget_csv(db_session, world.round, text)
    assert not preview.ok
    assert [(r.line, r.error is None) for r in preview.rows] == [
        (2, True), (3, False), (4, False), (5, False), (6, False),
    ]  # fmt: skip
    assert "line 2" in (preview.rows[3].error or "")
    assert preview.rows[0].amount_pence == 41_050
    before = {b.id: b.amount_pence for b in db_session.scalars(select(Budget))}
    with pytest.raises(InvalidInput) as caught:
        budgets.import_budget_csv(db_session, world.commissioner, world.round, text)
    assert {"line-3", "line-4", "line-5", "line-6"} == set(caught.value.errors)
    assert {b.id: b.amount_pence for b in db_session.scalars(select(Budget))} == before


def test_csv_import_sets_every_budget(db_session: Session) -> None:
    world = make_round(db_session)
    newcomer = factories.PersonProfileFactory(user__council=world.council, area="south")
    text = (
        "\ufeffEmail,Amount\r\n"
        f"{world.people['Ada'].user.email},123.45\r\n"
        f"{newcomer.user.email},1,000\r\n"
    )
    assert (
        budgets.preview_budget_csv(db_session, world.round, text).ok is False
    )  # an unquoted "1,000" is two cells
    text = f'email,amount\n{world.people["Ada"].user.email},123.45\n{newcomer.user.email},"1,000"\n'
    assert budgets.import_budget_csv(db_session, world.commissioner, world.round, text) == 2
    amounts = {
        b.person_id: b.amount_pence
        for b in db_session.scalars(select(Budget).where(Budget.round_id == world.round.id))
    }
    assert amounts[world.people["Ada"].id] == 12_345
    assert amounts[newcomer.id] == 100_000


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("name,money\nx,1\n", "email and amount"), ("email,amount\n", "no rows")],
)
def test_csv_file_problems(db_session: Session, text: str, message: str) -> None:
    world = make_round(db_session)
    preview = budgets.preview_budget_csv(db_session, world.round, text)
    assert not preview.ok
    assert message in (preview.file_error or "")
