"""Privacy: a person's complete export, erasure by pseudonymisation, retention periods."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Base, utcnow
from models.accounts import LoginThrottle, User, UserSession
from models.audit import AuditEvent, verify_chain
from models.people import Consent, ConsentStatus, PersonProfile
from models.privacy import ErasureRecord, person_references
from models.rounds import Allocation, Budget, Choice, Commitment
from models.voice import Feedback
from tests import factories
from tests.security.world import World
from tests.web.api_helpers import call
from tests.web.conftest import csrf_token
from web.services import privacy
from web.services.accounts import ThrottlePolicy
from web.services.consents import ASK_POLICY
from web.services.errors import InvalidInput, NotAllowed

PERSON_TABLES = {"users", "person_profiles"}


def _tables_referring_to_a_person() -> set[str]:
    """Found here from the foreign keys, independently of models.privacy."""
    found = set(PERSON_TABLES)
    for table in Base.metadata.tables.values():
        for fk in table.foreign_keys:
            if fk.column.table.name in PERSON_TABLES:
                found.add(table.name)
    return found


def _populate(world: World, db_session: Session) -> None:
    """Rows for person A in the tables the world does not fill yet."""
    a = world.users["person_a"]
    profile = a.person_profile
    accepted = db_session.get(Allocation, world.ids["accepted_a"])
    factories.FeedbackFactory(
        offer=accepted.offer, person=profile, allocation=accepted, comment="Loved the yew"
    )
    proposal = factories.ProposalFactory(council=a.council)
    factories.ProposalSupportFactory(proposal=proposal, person=profile)
    factories.IdempotencyRecordFactory(user_id=a.id)
    factories.UserSessionFactory(user=a)
    tag = factories.OutcomeTagFactory()
    profile.outcome_tags.append(tag)
    db_session.flush()


def test_the_export_covers_every_table_that_refers_to_a_person(
    world: World, db_session: Session
) -> None:
    _populate(world, db_session)
    a = world.users["person_a"]
    export = privacy.export_person(db_session, a)
    expected = _tables_referring_to_a_person() | set(person_references())
    assert expected <= set(export["tables"]), expected - set(export["tables"])
    # Where A has rows, they are there; a commitment only through A's allocation and budget.
    for table in (
        "users", "person_profiles", "consents", "choices", "budgets", "allocations",
        "commitments", "feedback", "proposals", "proposal_supports", "idempotency_records",
        "user_sessions", "person_outcome_tags",
    ):  # fmt: skip
        assert export["tables"][table], f"{table}: A's rows are missing"
    profile = export["tables"]["person_profiles"][0]
    assert profile["assessed_needs"].startswith("Needs-of-Ariadne")
    assert profile["equity_attributes"] == {"ethnicity": "white-british"}
    assert export["related_offers"][str(world.ids["offer_x"])] == "Xylophone-Club"
    # Nothing of B's, and no secrets.
    text = json.dumps(export)
    assert "Bartholomew" not in text
    assert a.password_hash not in text
    assert all("token_hash" not in row for row in export["tables"]["user_sessions"])
    json.loads(text)  # plain JSON all the way down


def test_every_referring_table_is_in_the_map_of_personal_data() -> None:
    assert _tables_referring_to_a_person() <= set(person_references())


def test_download_my_data_page_and_api(
    app: Flask, world: World, login: Callable[..., Any], db_session: Session
) -> None:
    client = app.test_client()
    login(client, world.users["person_a"])
    page = client.get("/person/")
    assert "/person/my-data/" in page.get_data(as_text=True)
    assert client.get("/person/my-data/").status_code == 200
    download = client.get("/person/my-data/download")
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.headers["Cache-Control"] == "no-store"
    data = json.loads(download.get_data(as_text=True))
    assert data["user_id"] == world.users["person_a"].id
    api = client.get("/api/v1/me/export")
    assert api.status_code == 200
    assert api.get_json()["tables"]["person_profiles"][0]["id"] == world.ids["person_a"]
    other = app.test_client()
    login(other, world.users["person_b"])
    assert "Needs-of-Ariadne" not in other.get("/api/v1/me/export").get_data(as_text=True)
    reads = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "special_category.read",
            AuditEvent.actor_user_id == world.users["person_a"].id,
        )
    ).all()
    assert len(reads) == 2 and all(event.request_id for event in reads)


def test_erasure_pseudonymises_keeps_what_must_be_kept_and_records_the_decision(
    app: Flask, world: World, login: Callable[..., Any], db_session: Session
) -> None:
    _populate(world, db_session)
    a = world.users["person_a"]
    person = app.test_client()
    login(person, a)
    assert person.get("/person/").status_code == 200
    admin = app.test_client()
    login(admin, world.users["admin"])
    page = admin.get(f"/admin/erasure/{a.id}")
    assert page.status_code == 200
    refused = admin.post(f"/admin/erasure/{a.id}", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 400  # a reason is needed
    done = admin.post(
        f"/admin/erasure/{a.id}",
        data={"csrf_token": csrf_token(page), "reason": "Asked by letter on 3 May"},
    )
    assert done.status_code == 302

    # The person's cookie no longer works.
    assert person.get("/person/").status_code == 302
    db_session.expire_all()
    user = db_session.get(User, a.id)
    profile = db_session.get(PersonProfile, world.ids["person_a"])
    assert user.display_name == profile.display_name == f"Erased person {a.id}"
    assert user.email.endswith("@erased.invalid") and not user.is_active and user.erased_at
    assert profile.assessed_needs is None and profile.aspirations_text is None
    assert profile.equity_attributes is None and profile.outcome_tags == []
    assert all(s.revoked_at is not None for s in db_session.scalars(
        select(UserSession).where(UserSession.user_id == a.id)))  # fmt: skip
    consent = db_session.get(Consent, world.ids["consent_a"])
    assert consent.status == ConsentStatus.revoked
    # Unallocated choices go; places, money and the trail stay under the pseudonymous ids.
    person_id = world.ids["person_a"]
    assert not db_session.scalars(select(Choice).where(Choice.person_id == person_id)).all()
    assert db_session.get(Allocation, world.ids["offered_a"]) is not None
    assert db_session.scalars(select(Budget).where(Budget.person_id == person_id)).all()
    assert db_session.scalars(select(Commitment)).all()
    assert all(f.comment is None for f in db_session.scalars(
        select(Feedback).where(Feedback.person_id == person_id)))  # fmt: skip
    record = db_session.scalars(
        select(ErasureRecord).where(ErasureRecord.subject_user_id == a.id)
    ).one()
    assert record.decided_by_user_id == world.users["admin"].id
    assert "commitments" in record.kept and record.reason == "Asked by letter on 3 May"
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "person.erased")).one()
    assert event.actor_user_id == world.users["admin"].id and event.object_id == str(a.id)
    assert event.details["erasure_record_id"] == record.id and event.request_id
    assert verify_chain(db_session) == []
    # What is left about A says nothing of who they were (ideas shared with the council stay).
    left = json.dumps(privacy.export_person(db_session, user))
    for secret in (
        "Ariadne Quillfeather",
        "Needs-of-Ariadne",
        "Aspiration-of-Ariadne",
        "Loved the yew",
    ):
        assert secret not in left
    # Signing in again is impossible.
    again = app.test_client()
    assert login(again, user).status_code != 302


def test_only_admins_erase_and_only_persons_once(world: World, db_session: Session) -> None:
    a = world.users["person_a"]
    with pytest.raises(NotAllowed):
        privacy.erase_person(db_session, world.users["commissioner"], a, reason="asked")
    with pytest.raises(InvalidInput):
        privacy.erase_person(db_session, world.users["admin"], world.users["advocate"], reason="x")
    privacy.erase_person(db_session, world.users["admin"], a, reason="asked")
    with pytest.raises(InvalidInput):
        privacy.erase_person(db_session, world.users["admin"], a, reason="asked again")


def test_retention_periods_are_configurable_and_purge_applies_them(
    world: World, db_session: Session
) -> None:
    now = utcnow()
    a = world.users["person_a"]
    profile = a.person_profile
    old_feedback = factories.FeedbackFactory(person=profile, comment="old words")
    old_feedback.created_at = now - timedelta(days=40)
    new_feedback = factories.FeedbackFactory(person=profile, comment="new words")
    old_session = factories.UserSessionFactory(user=a, revoked_at=now - timedelta(days=10))
    live_session = factories.UserSessionFactory(user=a)
    factories.LoginThrottleFactory(key="ip:old", window_start=now - timedelta(days=3))
    factories.LoginThrottleFactory(key="ip:new", window_start=now)
    db_session.flush()
    privacy.set_retention(db_session, "feedback_comments", 30)
    privacy.set_retention(db_session, "user_sessions", 7)
    assert privacy.retention_periods(db_session)["feedback_comments"] == 30
    with pytest.raises(InvalidInput):
        privacy.set_retention(db_session, "feedback_comments", 0)
    with pytest.raises(InvalidInput):
        privacy.set_retention(db_session, "no_such_kind", 5)

    done = privacy.purge_expired(db_session, now=now)
    assert done["feedback_comments"] == 1 and done["user_sessions"] == 1
    assert done["login_throttles"] == 1
    db_session.expire_all()
    assert db_session.get(Feedback, old_feedback.id).comment is None
    assert db_session.get(Feedback, new_feedback.id).comment == "new words"
    assert db_session.get(UserSession, old_session.id) is None
    assert db_session.get(UserSession, live_session.id) is not None
    assert db_session.get(LoginThrottle, "ip:new") is not None
    assert db_session.get(LoginThrottle, "ip:old") is None
    purge_event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "retention.purged")
    ).one()
    assert purge_event.details["feedback_comments"] == 1


def test_retention_keeps_sign_in_counts_still_in_force(db_session: Session) -> None:
    now = utcnow()
    long_window = ThrottlePolicy(window=timedelta(days=5))
    # A wait that has not run out, though its last try is older than the 1-day period.
    factories.LoginThrottleFactory(
        key="account:waiting", window_start=now - timedelta(days=3), attempts=9,
        next_try_at=now + timedelta(minutes=5),
    )  # fmt: skip
    # A window still counting tries under the longest policy, with no wait.
    factories.LoginThrottleFactory(
        key="ip:counting", window_start=now - timedelta(days=3), attempts=3
    )
    factories.LoginThrottleFactory(key="ip:done", window_start=now - timedelta(days=9))
    db_session.flush()
    privacy.set_retention(db_session, "login_throttles", 1)

    done = privacy.purge_expired(db_session, now=now, throttle_policies=(long_window, ASK_POLICY))

    assert done["login_throttles"] == 1
    db_session.expire_all()
    assert db_session.get(LoginThrottle, "ip:done") is None
    assert db_session.get(LoginThrottle, "account:waiting").attempts == 9
    assert db_session.get(LoginThrottle, "ip:counting") is not None
    # Once the wait is over and no window counts, the period applies again.
    later = now + timedelta(days=3)
    assert privacy.purge_expired(db_session, now=later)["login_throttles"] == 2


def test_privacy_commands(fresh_database_url: str) -> None:
    from click.testing import CliRunner

    from web.cli import main

    runner = CliRunner()
    shown = runner.invoke(
        main, ["privacy", "retention", "--url", fresh_database_url, "--set", "jobs=30"]
    )
    assert shown.exit_code == 0, shown.output
    assert "jobs: 30 days" in shown.output
    bad = runner.invoke(main, ["privacy", "retention", "--url", fresh_database_url,
                               "--set", "jobs=none"])  # fmt: skip
    assert bad.exit_code == 2
    purged = runner.invoke(main, ["privacy", "purge", "--url", fresh_database_url])
    assert purged.exit_code == 0, purged.output
    assert "feedback_comments: 0 removed" in purged.output


def test_api_export_needs_sign_in(client: Any) -> None:
    response = call(client, "GET", "/api/v1/me/export")
    assert response.status_code == 401
