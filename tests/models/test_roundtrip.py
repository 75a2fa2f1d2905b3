"""Every model is written and read back unchanged, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import factory
import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from models import Base, Offer, OutcomeTag, PersonProfile, User, utcnow
from tests import factories

MODEL_FACTORIES: list[type[factories.BaseFactory]] = [
    factories.CouncilFactory,
    factories.UserFactory,
    factories.UserSessionFactory,
    factories.LoginThrottleFactory,
    factories.IdempotencyRecordFactory,
    factories.OutcomeTagFactory,
    factories.PersonProfileFactory,
    factories.ConsentFactory,
    factories.ProviderFactory,
    factories.ProviderMemberFactory,
    factories.OfferFactory,
    factories.RoundFactory,
    factories.RoundOfferFactory,
    factories.BudgetFactory,
    factories.ChoiceFactory,
    factories.JobFactory,
    factories.SolverRunFactory,
    factories.AllocationFactory,
    factories.CommitmentFactory,
    factories.WaitingPositionFactory,
    factories.FeedbackFactory,
    factories.ProposalFactory,
    factories.ProposalSupportFactory,
    factories.RetentionPolicyFactory,
    factories.ErasureRecordFactory,
    factories.NotificationFactory,
    factories.NotificationSettingFactory,
    factories.AccountTokenFactory,
    factories.SourceRecordFactory,
    factories.CouncilTaxonomyFactory,
    factories.CouncilTaxonomyTermFactory,
    factories.OfferDraftFactory,
    factories.PostcodeFactory,
]

# Written only through models.audit.append_event (tested in test_audit.py).
WITHOUT_FACTORY = {"AuditEvent"}


def _column_values(obj: object) -> dict[str, object]:
    mapper = inspect(type(obj))
    return {attr.key: getattr(obj, attr.key) for attr in mapper.column_attrs}


def test_every_model_has_a_factory() -> None:
    covered = {f._meta.model.__name__ for f in MODEL_FACTORIES} | WITHOUT_FACTORY
    mapped = {m.class_.__name__ for m in Base.registry.mappers}
    assert mapped - covered == set()


@pytest.mark.parametrize("model_factory", MODEL_FACTORIES, ids=lambda f: f._meta.model.__name__)
def test_model_round_trips(db_session: Session, model_factory: type[factory.Factory]) -> None:
    obj = model_factory()
    db_session.flush()
    written = _column_values(obj)
    key = inspect(obj).identity
    db_session.expunge_all()

    loaded = db_session.get(type(obj), key)

    assert loaded is not None
    assert _column_values(loaded) == written
    for name, value in _column_values(loaded).items():
        if isinstance(value, datetime):
            assert value.utcoffset() is not None, f"{name} came back without a time zone"


def test_times_come_back_in_utc_to_the_microsecond(db_session: Session) -> None:
    moment = utcnow()
    user = factories.UserFactory(last_login_at=moment)
    db_session.expunge_all()

    loaded = db_session.get(User, user.id)

    assert loaded is not None
    assert loaded.last_login_at == moment


def test_naive_times_are_refused(db_session: Session) -> None:
    user = factories.UserFactory()
    user.last_login_at = datetime(2027, 1, 1, 12, 0)
    with pytest.raises(Exception, match="naive datetime"):
        db_session.flush()


def test_email_is_stored_lower_case(db_session: Session) -> None:
    user = factories.UserFactory(email="  Ann.Smith@Example.ORG ")
    assert user.email == "ann.smith@example.org"


def test_outcome_tags_link_people_and_offers(db_session: Session) -> None:
    work, art = (
        factories.OutcomeTagFactory(slug="paid-work"),
        factories.OutcomeTagFactory(slug="art"),
    )
    person = factories.PersonProfileFactory()
    offer = factories.OfferFactory()
    person.outcome_tags = [work, art]
    offer.outcome_tags = [art]
    db_session.flush()
    db_session.expunge_all()

    loaded_person = db_session.get(PersonProfile, person.id)
    loaded_offer = db_session.get(Offer, offer.id)

    assert loaded_person is not None and loaded_offer is not None
    assert [t.slug for t in loaded_person.outcome_tags] == ["art", "paid-work"]
    assert [t.slug for t in loaded_offer.outcome_tags] == ["art"]
    assert db_session.get(OutcomeTag, art.id) is not None


def test_consent_scopes(db_session: Session) -> None:
    consent = factories.ConsentFactory(can_view=True, can_draft=False, can_submit=True)
    assert consent.scopes == frozenset({"view", "submit"})
    assert consent.is_active
