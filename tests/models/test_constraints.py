"""The database itself refuses oversold places, overspent budgets and other broken rows.

Services guard these with conditional updates; the CHECK and UNIQUE constraints here are the
backstop that holds even when a service gets it wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from models import (
    Budget,
    ConsentStatus,
    JobStatus,
    RoundOffer,
    RunStatus,
)
from tests import factories


def refused(session: Session, action: Callable[[], object]) -> IntegrityError:
    """Run ``action`` in a savepoint and return the IntegrityError the database raised."""
    savepoint = session.begin_nested()
    with pytest.raises(IntegrityError) as caught:
        action()
        session.flush()
    savepoint.rollback()
    return caught.value


def test_guarded_update_takes_the_last_place_once(db_session: Session) -> None:
    round_offer = factories.RoundOfferFactory(places=1)

    def take() -> int:
        result = db_session.execute(
            update(RoundOffer)
            .where(RoundOffer.id == round_offer.id, RoundOffer.places_taken < RoundOffer.places)
            .values(places_taken=RoundOffer.places_taken + 1)
        )
        return result.rowcount

    assert take() == 1
    assert take() == 0
    assert db_session.scalar(select(RoundOffer.places_taken).filter_by(id=round_offer.id)) == 1


def test_places_cannot_be_oversold(db_session: Session) -> None:
    round_offer = factories.RoundOfferFactory(places=2, places_taken=2)
    error = refused(
        db_session,
        lambda: db_session.execute(
            update(RoundOffer)
            .where(RoundOffer.id == round_offer.id)
            .values(places_taken=RoundOffer.places_taken + 1)
        ),
    )
    assert "not_oversold" in str(error.orig)


def test_places_taken_cannot_go_below_zero(db_session: Session) -> None:
    round_offer = factories.RoundOfferFactory(places=2, places_taken=0)
    refused(
        db_session,
        lambda: db_session.execute(
            update(RoundOffer).where(RoundOffer.id == round_offer.id).values(places_taken=-1)
        ),
    )


def test_guarded_commit_of_money_stops_at_the_budget(db_session: Session) -> None:
    budget = factories.BudgetFactory(amount_pence=10_000, committed_pence=0)

    def commit(pence: int) -> int:
        result = db_session.execute(
            update(Budget)
            .where(
                Budget.id == budget.id,
                Budget.committed_pence + pence <= Budget.amount_pence,
            )
            .values(committed_pence=Budget.committed_pence + pence)
        )
        return result.rowcount

    assert commit(6_000) == 1
    assert commit(6_000) == 0
    assert commit(4_000) == 1
    assert db_session.scalar(select(Budget.committed_pence).filter_by(id=budget.id)) == 10_000


def test_budgets_cannot_be_overspent(db_session: Session) -> None:
    budget = factories.BudgetFactory(amount_pence=10_000, committed_pence=9_999)
    error = refused(
        db_session,
        lambda: db_session.execute(
            update(Budget)
            .where(Budget.id == budget.id)
            .values(committed_pence=Budget.committed_pence + 2)
        ),
    )
    assert "not_overspent" in str(error.orig)


@pytest.mark.parametrize(
    ("make", "constraint"),
    [
        (lambda: factories.OfferFactory(price_pence=-1), "price_nonneg"),
        (lambda: factories.OfferFactory(capacity=-1), "capacity_nonneg"),
        (lambda: factories.BudgetFactory(amount_pence=-5), "amount_nonneg"),
        # Either check may be reported first: places < 0 also means places_taken > places.
        (
            lambda: factories.RoundOfferFactory(places=-1, places_taken=0),
            "places_nonneg|not_oversold",
        ),
        (lambda: factories.RoundFactory(pot_pence=-1), "pot_nonneg"),
        (lambda: factories.FeedbackFactory(rating=0), "rating_range"),
        (lambda: factories.FeedbackFactory(rating=6), "rating_range"),
        (lambda: factories.PersonProfileFactory(need_level=11), "need_level_range"),
        (lambda: factories.ChoiceFactory(rank=0), "rank_pos"),
        (lambda: factories.CommitmentFactory(amount_pence=0), "amount_pos"),
        (lambda: factories.SolverRunFactory(progress=101), "progress_range"),
        (lambda: factories.ConsentFactory(granted_at=None), "granted_has_time"),
    ],
)
def test_check_constraints_refuse_bad_rows(
    db_session: Session, make: Callable[[], object], constraint: str
) -> None:
    error = refused(db_session, make)
    assert re.search(constraint, str(error.orig))


def test_enum_columns_refuse_unknown_values(db_session: Session) -> None:
    offer = factories.OfferFactory()
    savepoint = db_session.begin_nested()
    with pytest.raises(StatementError):
        db_session.execute(
            update(type(offer)).where(type(offer).id == offer.id).values(status="deleted")
        )
    savepoint.rollback()


def test_email_must_be_lower_case_in_the_table(db_session: Session) -> None:
    user = factories.UserFactory()
    refused(
        db_session,
        lambda: db_session.execute(
            update(type(user)).where(type(user).id == user.id).values(email="Ann@Example.org")
        ),
    )


def test_email_is_unique_however_it_is_typed(db_session: Session) -> None:
    factories.UserFactory(email="ann@example.org")
    refused(db_session, lambda: factories.UserFactory(email="ANN@example.org"))


def test_one_budget_per_person_per_round(db_session: Session) -> None:
    budget = factories.BudgetFactory()
    refused(db_session, lambda: factories.BudgetFactory(round=budget.round, person=budget.person))


def test_choices_have_distinct_offers_and_ranks(db_session: Session) -> None:
    first = factories.ChoiceFactory(rank=1)
    same = {"round": first.round, "person": first.person}
    refused(db_session, lambda: factories.ChoiceFactory(offer=first.offer, rank=2, **same))
    refused(db_session, lambda: factories.ChoiceFactory(rank=1, **same))
    factories.ChoiceFactory(rank=2, **same)


def test_one_round_offer_per_offer_per_round(db_session: Session) -> None:
    ro = factories.RoundOfferFactory()
    refused(db_session, lambda: factories.RoundOfferFactory(round=ro.round, offer=ro.offer))


def test_one_commitment_per_allocation(db_session: Session) -> None:
    commitment = factories.CommitmentFactory()
    refused(
        db_session,
        lambda: factories.CommitmentFactory(
            allocation=commitment.allocation, budget=commitment.budget
        ),
    )


def test_one_active_run_per_round(db_session: Session) -> None:
    running = factories.SolverRunFactory(status=RunStatus.running)
    refused(
        db_session,
        lambda: factories.SolverRunFactory(round=running.round, status=RunStatus.queued),
    )
    # Finished runs do not count: a round keeps every past run.
    factories.SolverRunFactory(round=running.round, status=RunStatus.succeeded)
    factories.SolverRunFactory(round=running.round, status=RunStatus.failed)


def test_one_active_job_per_unique_key(db_session: Session) -> None:
    factories.JobFactory(unique_key="round:1", status=JobStatus.running)
    refused(db_session, lambda: factories.JobFactory(unique_key="round:1"))
    factories.JobFactory(unique_key="round:1", status=JobStatus.done)
    factories.JobFactory(unique_key=None)
    factories.JobFactory(unique_key=None)


def test_one_live_consent_per_person_and_advocate(db_session: Session) -> None:
    consent = factories.ConsentFactory()
    pair = {"person": consent.person, "advocate": consent.advocate}
    refused(
        db_session,
        lambda: factories.ConsentFactory(status=ConsentStatus.requested, granted_at=None, **pair),
    )
    consent.status = ConsentStatus.revoked
    consent.revoked_at = consent.granted_at
    db_session.flush()
    factories.ConsentFactory(**pair)


def test_a_person_supports_a_proposal_once(db_session: Session) -> None:
    support = factories.ProposalSupportFactory()
    refused(
        db_session,
        lambda: factories.ProposalSupportFactory(proposal=support.proposal, person=support.person),
    )


def test_foreign_keys_are_enforced(db_session: Session) -> None:
    round_ = factories.RoundFactory()
    refused(
        db_session,
        lambda: db_session.add(Budget(round_id=round_.id, person_id=10**9, amount_pence=1)),
    )
