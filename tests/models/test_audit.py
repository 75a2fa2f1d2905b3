"""The audit trail is append-only in the database and hash-chained, so tampering shows."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from models import (
    AuditEvent,
    append_event,
    make_engine,
    make_session_factory,
    upgrade,
    verify_chain,
)
from models.audit import (
    GENESIS_HASH,
    KEYED_SCHEME,
    PLAIN_SCHEME,
    Anchor,
    chain_head,
    check_anchor,
    event_hash,
    make_anchor,
    parse_anchors,
)
from models.keys import Keys, active_keys, load_keys


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


# An insider who can write the database but has no audit key: each attack on the keyed chain,
# and the anchor noted outside the database that catches what the chain alone cannot.


def _rewrite_from(engine: Engine, first_id: int, rehash) -> None:  # type: ignore[no-untyped-def]
    """Change event ``first_id`` and recompute every later hash with ``rehash(event)``."""
    with make_session_factory(engine).begin() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        previous = GENESIS_HASH
        for event in events:
            if event.id == first_id:
                event.details = {"amount_pence": 1}
            if event.id >= first_id:
                event.prev_hash = previous
                session.flush()
                rehash(event)
                session.flush()
            previous = event.hash


def _anchor(engine: Engine) -> Anchor:
    with make_session_factory(engine)() as session:
        return make_anchor(session)


def _check(engine: Engine, anchor: Anchor, keys: Keys | None = None) -> list[str]:
    with make_session_factory(engine)() as session:
        return check_anchor(session, anchor, keys)


def _plain_rehash(event: AuditEvent) -> None:
    event.hash_scheme = PLAIN_SCHEME
    event.key_id = None
    event.hash = event_hash(**_fields(event), hash_scheme=PLAIN_SCHEME)


def _fields(event: AuditEvent) -> dict[str, object]:
    return {
        "id": event.id,
        "occurred_at": event.occurred_at,
        "actor_user_id": event.actor_user_id,
        "on_behalf_of_user_id": event.on_behalf_of_user_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "request_id": event.request_id,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }


def test_new_events_are_keyed_with_the_audit_key(db_session: Session) -> None:
    event = _append_some(db_session, 1)[0]

    assert event.hash_scheme == KEYED_SCHEME
    assert event.key_id == active_keys().audit_key_id
    # Without the key, the plain SHA-256 of the same fields is not the stored hash.
    assert event.hash != event_hash(**_fields(event), hash_scheme=PLAIN_SCHEME)  # type: ignore[arg-type]


def test_a_chain_recomputed_without_the_key_is_caught(tamperable: Engine) -> None:
    _rewrite_from(tamperable, 3, _plain_rehash)

    assert _verify(tamperable) == [
        "event 3: has a plain hash after keyed ones (it was rewritten without the audit key)",
        "event 4: has a plain hash after keyed ones (it was rewritten without the audit key)",
        "event 5: has a plain hash after keyed ones (it was rewritten without the audit key)",
    ]


def test_a_chain_recomputed_with_a_guessed_key_under_the_real_key_id_is_caught(
    tamperable: Engine,
) -> None:
    guess = load_keys("/nonexistent", audit="x" * 40, totp="y" * 40)

    def rehash(event: AuditEvent) -> None:
        # The key's id is in the database for anyone to copy; the key is not.
        event.hash = event_hash(
            **_fields(event),
            key_id=event.key_id,
            key=guess.audit,  # type: ignore[arg-type]
        )

    _rewrite_from(tamperable, 4, rehash)

    assert _verify(tamperable) == [
        "event 4: its contents do not match its hash",
        "event 5: its contents do not match its hash",
    ]


def test_a_chain_recomputed_with_a_key_of_ones_own_is_caught(tamperable: Engine) -> None:
    own = load_keys("/nonexistent", audit="x" * 40, totp="y" * 40)

    def rehash(event: AuditEvent) -> None:
        event.key_id = own.audit_key_id
        event.hash = event_hash(
            **_fields(event),
            key_id=own.audit_key_id,
            key=own.audit,  # type: ignore[arg-type]
        )

    _rewrite_from(tamperable, 2, rehash)

    real = active_keys().audit_key_id
    assert _verify(tamperable) == [
        f"event 2: changes the audit key from id {real} to id {own.audit_key_id} "
        "without recording a rotation",
        f"event 2: hashed with another audit key (id {own.audit_key_id}), "
        f"not the configured one (id {real}) nor a retired one",
    ]


def test_the_anchor_catches_a_deleted_tail(tamperable: Engine) -> None:
    anchor = _anchor(tamperable)
    assert (anchor.head_id, anchor.count) == (5, 5)
    assert _check(tamperable, anchor) == []
    with tamperable.begin() as connection:
        connection.exec_driver_sql("DELETE FROM audit_events WHERE id >= 4")

    assert _verify(tamperable) == []  # what is left is a consistent chain
    assert _check(tamperable, anchor) == [
        f"anchor of {anchor.at}: event 5 is missing (events were deleted from the end)",
        f"anchor of {anchor.at}: 3 events up to event 5, but it recorded 5",
    ]


def test_the_anchor_catches_a_whole_chain_recomputed_without_the_key(tamperable: Engine) -> None:
    anchor = _anchor(tamperable)
    _rewrite_from(tamperable, 1, _plain_rehash)

    assert _verify(tamperable) == []  # all plain, like a trail from before keys
    assert _check(tamperable, anchor) == [
        f"anchor of {anchor.at}: event 5 has another hash than the one anchored "
        "(the chain was rewritten)"
    ]


def test_the_anchor_catches_a_changed_key(tamperable: Engine) -> None:
    anchor = _anchor(tamperable)
    own = load_keys("/nonexistent", audit="x" * 40, totp="y" * 40)

    def rehash(event: AuditEvent) -> None:
        event.key_id = own.audit_key_id
        event.hash = event_hash(
            **_fields(event),
            key_id=own.audit_key_id,
            key=own.audit,  # type: ignore[arg-type]
        )

    # The insider recomputes everything with a key of their own and swaps it in.
    _rewrite_from(tamperable, 1, rehash)
    with make_session_factory(tamperable)() as session:
        assert verify_chain(session, keys=own) == []

    assert _check(tamperable, anchor, own) == [
        f"anchor of {anchor.at}: made with audit key id {anchor.key_id}, but the configured "
        f"key has id {own.audit_key_id} and no retired key has that id (the key was changed)",
        f"anchor of {anchor.at}: event 5 has another hash than the one anchored "
        "(the chain was rewritten)",
    ]


def test_an_anchor_of_an_earlier_head_still_fits_a_longer_trail(fresh_engine: Engine) -> None:
    sessions = make_session_factory(fresh_engine)
    empty = _anchor(fresh_engine)
    with sessions.begin() as session:
        _append_some(session, 2)
    middle = _anchor(fresh_engine)
    with sessions.begin() as session:
        append_event(session, "test.more")

    assert (empty.head_id, empty.count, empty.hash) == (0, 0, GENESIS_HASH)
    assert _check(fresh_engine, empty) == []
    assert _check(fresh_engine, middle) == []


def test_anchor_lines_read_back_and_bad_ones_name_their_line() -> None:
    anchor = Anchor(at="2026-12-03T12:00:00+00:00", head_id=3, count=3, hash="a" * 64, key_id="k")
    log = f"Dec  3 12:00:01 host tapestry: {anchor.to_line()}\n\nsome other line\n"

    assert parse_anchors(log) == [anchor]
    with pytest.raises(ValueError, match="line 2: the anchor has no hash"):
        parse_anchors(anchor.to_line() + '\n{"head_id": 1, "count": 1, "at": "x", "key_id": "k"}')
    with pytest.raises(ValueError, match="line 1: the anchor is not well formed"):
        parse_anchors(anchor.to_line().replace('"count":3', '"count":-1'))


def test_events_from_before_keys_keep_verifying(empty_database_url: str) -> None:
    """A trail written with plain SHA-256 (revision 0002) verifies after the upgrade, and new
    keyed events follow it."""
    upgrade(empty_database_url, "0002_solver_run_analysis")
    engine = make_engine(empty_database_url)
    try:
        previous = GENESIS_HASH
        with engine.begin() as connection:
            for n in (1, 2):
                when = datetime(2026, 11, 1, 9, n, tzinfo=UTC)
                fields = {
                    "id": n, "occurred_at": when, "actor_user_id": 1,
                    "on_behalf_of_user_id": None, "action": "budget.set",
                    "object_type": "budget", "object_id": str(n), "request_id": None,
                    "details": {"amount_pence": n}, "prev_hash": previous,
                }  # fmt: skip
                digest = event_hash(**fields, hash_scheme=PLAIN_SCHEME)  # type: ignore[arg-type]
                connection.execute(
                    text(
                        "INSERT INTO audit_events (id, occurred_at, actor_user_id, action, "
                        "object_type, object_id, details, prev_hash, hash) VALUES "
                        "(:id, :at, 1, 'budget.set', 'budget', :oid, :details, :prev, :hash)"
                    ),
                    {"id": n, "at": when, "oid": str(n), "prev": previous, "hash": digest,
                     "details": json.dumps({"amount_pence": n})},
                )  # fmt: skip
                previous = digest
        upgrade(empty_database_url)
        sessions = make_session_factory(engine)
        with sessions.begin() as session:
            append_event(session, "test.after_keys")
        with sessions() as session:
            assert verify_chain(session) == []
            stored = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [e.hash_scheme for e in stored] == [PLAIN_SCHEME, PLAIN_SCHEME, KEYED_SCHEME]
        assert stored[2].prev_hash == previous
    finally:
        engine.dispose()
