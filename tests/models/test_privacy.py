"""Retention periods and the map of tables that hold personal data."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from models.privacy import DEFAULT_RETENTION_DAYS, person_references, retention_days
from tests import factories


def test_retention_uses_the_default_until_configured(db_session: Session) -> None:
    assert retention_days(db_session, "user_sessions") == DEFAULT_RETENTION_DAYS["user_sessions"]

    factories.RetentionPolicyFactory(data_kind="user_sessions", retention_days=7)

    assert retention_days(db_session, "user_sessions") == 7


def test_retention_of_an_unknown_kind_is_an_error(db_session: Session) -> None:
    with pytest.raises(KeyError):
        retention_days(db_session, "user_sesions")


def test_retention_can_be_set_for_a_new_kind(db_session: Session) -> None:
    factories.RetentionPolicyFactory(data_kind="feedback_comments", retention_days=400)
    assert retention_days(db_session, "feedback_comments") == 400


def test_person_references_name_every_column_that_says_whose_data_it_is() -> None:
    references = person_references()

    assert references["users"] == ("id",)
    assert references["person_profiles"] == ("id", "need_set_by_user_id", "user_id")
    assert references["budgets"] == ("person_id", "set_by_user_id")
    assert references["choices"] == ("created_by_user_id", "on_behalf_of_user_id", "person_id")
    assert references["consents"] == ("advocate_id", "person_id")
    assert references["audit_events"] == ("actor_user_id", "on_behalf_of_user_id")
    assert references["erasure_records"] == ("decided_by_user_id", "subject_user_id")
    for table in ("allocations", "feedback", "proposals", "proposal_supports", "user_sessions"):
        assert table in references


def test_tables_without_personal_data_are_left_out() -> None:
    references = person_references()
    for table in ("councils", "offers", "outcome_tags", "round_offers", "jobs", "providers"):
        assert table not in references
