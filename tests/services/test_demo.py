"""The Westmere demo: counts, invariants that the site relies on, determinism, and the command."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from models import (
    Allocation,
    AllocationStatus,
    Budget,
    Choice,
    Commitment,
    Consent,
    ConsentStatus,
    Feedback,
    Offer,
    OfferStatus,
    PersonProfile,
    Proposal,
    ProposalSupport,
    Provider,
    Role,
    Round,
    RoundOffer,
    RoundStatus,
    User,
    verify_chain,
)
from models.db import make_engine, make_session_factory, upgrade
from web.cli import main
from web.services.demo import DEMO_PASSWORD, DemoLogins, build_demo
from web.services.matching import score_offer
from web.services.profiles import facts_for, offer_facts


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, DemoLogins]:
    """One full-size demo (300 persons), built once for this module's read-only checks."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        logins = build_demo(session)
        session.commit()
    yield engine, logins
    engine.dispose()


@pytest.fixture
def s(demo_db: tuple[Engine, DemoLogins]) -> Session:
    with make_session_factory(demo_db[0])() as session:
        yield session


def count(s: Session, model: type) -> int:
    return s.scalar(select(func.count()).select_from(model)) or 0


def test_counts_match_the_brief(s: Session) -> None:
    assert count(s, PersonProfile) == 300
    assert count(s, Provider) == 25
    assert count(s, Offer) == 80
    roles = Counter(s.scalars(select(User.role)))
    assert roles[Role.person] == 300
    assert roles[Role.provider] == 25
    assert roles[Role.advocate] >= 10
    assert roles[Role.commissioner] == 1 and roles[Role.admin] == 1
    categories = set(s.scalars(select(Offer.category).distinct()))
    assert len(categories) == 6
    assert count(s, Proposal) >= 10
    assert count(s, Feedback) >= 20


def test_persons_are_varied_and_say_what_they_want(s: Session) -> None:
    persons = list(s.scalars(select(PersonProfile)))
    assert len({p.area for p in persons}) == 6
    assert len({p.age_band for p in persons}) == 6
    assert len({p.need_level for p in persons}) >= 8
    assert all(p.aspirations_text and p.outcome_tags for p in persons)
    # Equity attributes only with consent.
    assert all((p.equity_attributes is None) == (p.equity_consent_at is None) for p in persons)
    sam = s.scalars(
        select(PersonProfile)
        .join(User, User.id == PersonProfile.user_id)
        .where(User.email == "sam@westmere.example")
    ).one()
    assert "children's nursery" in (sam.aspirations_text or "")


def test_one_open_round_with_a_budget_for_everyone(s: Session) -> None:
    open_rounds = list(s.scalars(select(Round).where(Round.status == RoundStatus.open)))
    assert len(open_rounds) == 1
    round_ = open_rounds[0]
    budgets = list(s.scalars(select(Budget).where(Budget.round_id == round_.id)))
    assert len(budgets) == 300
    assert all(b.amount_pence > 0 and b.amount_pence % 100 == 0 for b in budgets)
    published = set(s.scalars(select(Offer.id).where(Offer.status == OfferStatus.published)))
    in_round = set(s.scalars(select(RoundOffer.offer_id).where(RoundOffer.round_id == round_.id)))
    assert in_round == published


def test_open_round_is_scarce_enough_to_need_fair_allocation(s: Session) -> None:
    round_ = s.scalars(select(Round).where(Round.status == RoundStatus.open)).one()
    places = {
        ro.offer_id: ro.places
        for ro in s.scalars(select(RoundOffer).where(RoundOffer.round_id == round_.id))
    }
    demand = Counter(s.scalars(select(Choice.offer_id).where(Choice.round_id == round_.id)))
    oversubscribed = [o for o, n in demand.items() if n > places[o]]
    assert len(oversubscribed) >= 10
    firsts = s.scalars(select(Choice).where(Choice.round_id == round_.id, Choice.rank == 1))
    first_cost = sum(c.offer.price_pence for c in firsts)
    assert round_.pot_pence is not None
    assert first_cost // 2 < round_.pot_pence < first_cost
    assert round_.pot_pence % 10_000 == 0


def test_choices_are_ranked_without_gaps_and_each_could_be_given(s: Session) -> None:
    round_ = s.scalars(select(Round).where(Round.status == RoundStatus.open)).one()
    budgets = {
        b.person_id: b for b in s.scalars(select(Budget).where(Budget.round_id == round_.id))
    }
    ranks: dict[int, list[int]] = defaultdict(list)
    choices = list(s.scalars(select(Choice).where(Choice.round_id == round_.id)))
    assert len({c.person_id for c in choices}) > 150  # "some choices already made"
    for c in choices:
        ranks[c.person_id].append(c.rank)
        assert c.offer.status == OfferStatus.published
        person = s.get(PersonProfile, c.person_id)
        assert person is not None
        match = score_offer(facts_for(person, budgets[c.person_id]), offer_facts(c.offer))
        assert match.fits, (c.person_id, c.offer_id, match.blockers)
    for person_ranks in ranks.values():
        assert sorted(person_ranks) == list(range(1, len(person_ranks) + 1))
        assert len(person_ranks) <= round_.max_choices
    sam = s.scalars(select(User).where(User.email == "sam@westmere.example")).one()
    assert sam.person_profile is not None and sam.person_profile.id not in ranks


def test_past_round_never_oversells_or_overspends(s: Session) -> None:
    past = s.scalars(select(Round).where(Round.status == RoundStatus.published)).one()
    assert past.published_run_id is not None
    for ro in s.scalars(select(RoundOffer).where(RoundOffer.round_id == past.id)):
        accepted = s.scalar(
            select(func.count())
            .select_from(Allocation)
            .where(
                Allocation.round_id == past.id,
                Allocation.offer_id == ro.offer_id,
                Allocation.status == AllocationStatus.accepted,
            )
        )
        assert accepted == ro.places_taken <= ro.places
    for budget in s.scalars(select(Budget).where(Budget.round_id == past.id)):
        committed = s.scalar(
            select(func.coalesce(func.sum(Commitment.amount_pence), 0)).where(
                Commitment.budget_id == budget.id
            )
        )
        assert committed == budget.committed_pence <= budget.amount_pence
    for feedback in s.scalars(select(Feedback)):
        assert feedback.allocation is not None
        assert feedback.allocation.status == AllocationStatus.accepted
        assert feedback.allocation.person_id == feedback.person_id


def test_proposals_are_supported_by_their_proposers(s: Session) -> None:
    for proposal in s.scalars(select(Proposal)):
        supporters = set(
            s.scalars(
                select(ProposalSupport.person_id).where(ProposalSupport.proposal_id == proposal.id)
            )
        )
        assert proposal.proposer_id in supporters


def test_printed_logins_work(s: Session, demo_db: tuple[Engine, DemoLogins]) -> None:
    logins = demo_db[1]
    hasher = PasswordHasher()
    for role in Role:
        user = s.scalars(select(User).where(User.email == logins.accounts[role])).one()
        assert user.role == role
        assert hasher.verify(user.password_hash, DEMO_PASSWORD)
    for role in (Role.commissioner, Role.admin):
        user = s.scalars(select(User).where(User.email == logins.accounts[role])).one()
        assert user.totp_secret == logins.totp_secrets[role]
    advocate = s.scalars(select(User).where(User.email == logins.accounts[Role.advocate])).one()
    sam = s.scalars(select(User).where(User.email == logins.accounts[Role.person])).one()
    consent = s.scalars(
        select(Consent).where(
            Consent.advocate_id == advocate.id,
            Consent.person_id == sam.person_profile.id,  # type: ignore[union-attr]
        )
    ).one()
    assert consent.status == ConsentStatus.granted
    provider_user = s.scalars(
        select(User).where(User.email == logins.accounts[Role.provider])
    ).one()
    assert provider_user.provider_memberships


def test_audit_chain_is_intact(s: Session) -> None:
    assert verify_chain(s) == []


def _signature(url: str, persons: int) -> list[tuple[object, ...]]:
    upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            build_demo(session, persons=persons, seed=7)
            session.commit()
            rows = session.execute(
                select(User.email, Choice.offer_id, Choice.rank)
                .join(PersonProfile, PersonProfile.id == Choice.person_id)
                .join(User, User.id == PersonProfile.user_id)
                .order_by(User.email, Choice.round_id, Choice.rank)
            ).all()
            offers = session.execute(select(Offer.title, Offer.price_pence).order_by(Offer.id))
            return [tuple(r) for r in rows] + [tuple(r) for r in offers]
    finally:
        engine.dispose()


def test_same_seed_same_demo(tmp_path: Path) -> None:
    a = _signature(f"sqlite:///{tmp_path / 'a.sqlite'}", 30)
    b = _signature(f"sqlite:///{tmp_path / 'b.sqlite'}", 30)
    assert a == b
    assert len(a) > 80


def test_demo_command_replaces_the_old_database(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"TAPESTRY_INSTANCE_PATH": str(tmp_path)}
    (tmp_path / "demo.sqlite").write_bytes(b"not a database")
    result = runner.invoke(main, ["demo", "--no-serve", "--persons", "12"], env=env)
    assert result.exit_code == 0, result.output
    assert "sam@westmere.example" in result.output
    assert DEMO_PASSWORD in result.output
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.sqlite'}")
    try:
        with Session(engine) as session:
            assert count(session, PersonProfile) == 12
    finally:
        engine.dispose()
