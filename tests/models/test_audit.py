"""The audit trail is append-only in the database and hash-chained, so tampering shows."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from models import AuditEvent, append_event, make_session_factory, verify_chain
from models.audit import GENESIS_HASH, chain_head


def _append_some(session: Session, count: int) -> list[AuditEvent]:
    return [
        append_event(
            session,
            "budget.set",
            actor_user_id=1,
            on_behalf_of_user_id=None if n % 2 else 7,
            object_type="budget",
            object_id=n,
            request_id=f"req-{n}",
            details={"amount_pence": 1000 * n, "previous_pence": None, "areas": ("north",)},
        )
        for n in range(1, count + 1)
    ]


def test_events_form_a_chain(db_session: Session) -> None:
    events = _append_some(db_session, 3)

    assert [e.id for e in events] == [1, 2, 3]
    assert events[0].prev_hash == GENESIS_HASH
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    assert len({e.hash for e in events}) == 3
    assert chain_head(db_session) == (3, events[2].hash)


def test_an_intact_chain_verifies_after_reading_back(db_session: Session) -> None:
    _append_some(db_session, 4)
    db_session.expunge_all()

    assert verify_chain(db_session) == []
    stored = db_session.scalars(select(AuditEvent).order_by(AuditEvent.id)).first()
    assert stored is not None
    assert stored.object_id == "1"
    assert stored.details == {"amount_pence": 1000, "previous_pence": None, "areas": ["north"]}
    assert stored.occurred_at.utcoffset() is not None


def test_an_empty_trail_verifies(db_session: Session) -> None:
    assert verify_chain(db_session) == []
    assert chain_head(db_session) == (0, GENESIS_HASH)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'nothing.happened'",
        "UPDATE audit_events SET details = '{}' WHERE id = 1",
        "DELETE FROM audit_events WHERE id = 1",
        "DELETE FROM audit_events",
    ],
)
def test_the_database_refuses_changes_to_the_trail(db_session: Session, statement: str) -> None:
    _append_some(db_session, 2)
    savepoint = db_session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        db_session.execute(text(statement))
    savepoint.rollback()
    assert db_session.scalar(select(text("count(*)")).select_from(AuditEvent)) == 2


def test_postgresql_refuses_truncate(db_session: Session, skip_unless_postgres: None) -> None:
    _append_some(db_session, 1)
    savepoint = db_session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        db_session.execute(text("TRUNCATE audit_events"))
    savepoint.rollback()
    assert verify_chain(db_session) == []


@pytest.fixture
def tamperable(fresh_engine: Engine) -> Iterator[Engine]:
    """A committed trail of five events in a database whose append-only triggers are gone."""
    sessions = make_session_factory(fresh_engine)
    with sessions.begin() as session:
        _append_some(session, 5)
    with fresh_engine.begin() as connection:
        if fresh_engine.dialect.name == "postgresql":
            connection.exec_driver_sql("DROP TRIGGER audit_events_no_update_delete ON audit_events")
        else:
            connection.exec_driver_sql("DROP TRIGGER audit_events_no_update")
            connection.exec_driver_sql("DROP TRIGGER audit_events_no_delete")
    yield fresh_engine


def _verify(engine: Engine) -> list[str]:
    with make_session_factory(engine)() as session:
        return verify_chain(session)


def test_verification_finds_a_changed_event(tamperable: Engine) -> None:
    assert _verify(tamperable) == []
    with tamperable.begin() as connection:
        connection.exec_driver_sql("UPDATE audit_events SET actor_user_id = 99 WHERE id = 3")

    assert _verify(tamperable) == ["event 3: its contents do not match its hash"]


def test_verification_finds_a_changed_time(tamperable: Engine) -> None:
    with make_session_factory(tamperable).begin() as session:
        event = session.get(AuditEvent, 2)
        assert event is not None
        event.occurred_at = event.occurred_at.replace(year=2020)

    assert _verify(tamperable) == ["event 2: its contents do not match its hash"]


def test_verification_finds_a_deleted_event(tamperable: Engine) -> None:
    with tamperable.begin() as connection:
        connection.exec_driver_sql("DELETE FROM audit_events WHERE id = 4")

    problems = _verify(tamperable)

    assert "event 5: does not follow the event before it" in problems
    assert "event 5: expected event 4 here (missing rows)" in problems


def test_verification_finds_a_rewritten_event_with_a_recomputed_hash(tamperable: Engine) -> None:
    # A forger who fixes up the changed event's own hash still breaks the link to the next one.
    from models.audit import _hash_of

    with make_session_factory(tamperable).begin() as session:
        event = session.get(AuditEvent, 2)
        assert event is not None
        event.details = {"amount_pence": 1}
        session.flush()
        event.hash = _hash_of(event)

    assert _verify(tamperable) == ["event 3: does not follow the event before it"]


def test_concurrent_appends_keep_one_unbroken_chain(fresh_engine: Engine) -> None:
    sessions = make_session_factory(fresh_engine)
    threads_count, per_thread = 4, 15
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        try:
            for n in range(per_thread):
                with sessions.begin() as session:
                    append_event(session, "test.append", actor_user_id=number, object_id=n)
        except BaseException as error:  # reported to the test below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with sessions() as session:
        assert verify_chain(session) == []
        count, _ = chain_head(session)
    assert count == threads_count * per_thread
