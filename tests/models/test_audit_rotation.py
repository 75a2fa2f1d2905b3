"""Rotating the audit key: new events are signed with the new key, old ones still verify with
the retired key, the trail records the handover, and tampering shows on both sides of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from models import keys as keys_module
from models.audit import (
    ROTATION,
    AuditEvent,
    append_event,
    check_anchor,
    event_hash,
    make_anchor,
    record_key_rotation,
    verify_chain,
)
from models.db import make_session_factory
from models.keys import KeyProblem, Keys, active_keys, load_keys, rotate_audit_key_file, use_keys


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """An instance folder whose key files are this process's keys (as a new site's are)."""
    before = keys_module._active
    place = tmp_path / "instance"
    use_keys(load_keys(place))
    try:
        yield place
    finally:
        use_keys(before)


def _append(engine: Engine, *names: str) -> None:
    with make_session_factory(engine).begin() as session:
        for name in names:
            append_event(session, name, actor_user_id=1, details={"amount_pence": 100})


def _verify(engine: Engine, keys: Keys | None = None) -> list[str]:
    with make_session_factory(engine)() as session:
        return verify_chain(session, keys=keys)


def _events(engine: Engine) -> list[AuditEvent]:
    with make_session_factory(engine)() as session:
        events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        session.expunge_all()
        return events


def _drop_guards(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("DROP TRIGGER audit_events_no_update_delete ON audit_events")
        else:
            connection.exec_driver_sql("DROP TRIGGER audit_events_no_update")
            connection.exec_driver_sql("DROP TRIGGER audit_events_no_delete")


def _rotate(folder: Path, engine: Engine) -> tuple[str, str]:
    """What ``tapestry audit rotate-key`` does: new key files, then the recorded handover."""
    old_id, new_id = rotate_audit_key_file(folder)
    use_keys(active_keys().reloaded())
    with make_session_factory(engine).begin() as session:
        assert record_key_rotation(session) is not None
    return old_id, new_id


@pytest.fixture
def rotated(folder: Path, fresh_engine: Engine) -> tuple[str, str]:
    """Three events under the first key, the rotation (event 4), two under the new key."""
    _append(fresh_engine, "test.one", "test.two", "test.three")
    ids = _rotate(folder, fresh_engine)
    _append(fresh_engine, "test.five", "test.six")
    return ids


def test_files_keep_the_old_key_as_retired_and_hold_the_new_one(folder: Path) -> None:
    first = active_keys()

    old_id, new_id = rotate_audit_key_file(folder)
    now = load_keys(folder)

    assert (old_id, new_id) == (first.audit_key_id, now.audit_key_id) and old_id != new_id
    assert now.retired_audit == (first.audit,) and now.totp == first.totp
    assert (folder / "audit_keys_retired").stat().st_mode & 0o077 == 0
    assert (folder / "audit_key").stat().st_mode & 0o077 == 0
    rotate_audit_key_file(folder)
    assert load_keys(folder).retired_audit_key_ids == {old_id, new_id}


def test_a_chain_verifies_across_a_rotation(fresh_engine: Engine, rotated: tuple[str, str]) -> None:
    old_id, new_id = rotated

    events = _events(fresh_engine)

    assert [e.key_id for e in events] == [old_id] * 3 + [new_id] * 3
    assert events[3].action == ROTATION
    assert events[3].details == {"from_key_id": old_id, "to_key_id": new_id}
    assert events[3].prev_hash == events[2].hash
    assert _verify(fresh_engine) == []


def test_without_the_retired_key_the_old_events_cannot_be_checked(
    fresh_engine: Engine, rotated: tuple[str, str]
) -> None:
    old_id, new_id = rotated
    keys = active_keys()
    forgotten = Keys(audit=keys.audit, totp=keys.totp)

    assert _verify(fresh_engine, forgotten) == [
        f"event 1: hashed with another audit key (id {old_id}), not the configured one "
        f"(id {new_id}) nor a retired one"
    ]


@pytest.mark.parametrize("changed", [2, 5], ids=["before the rotation", "after the rotation"])
def test_a_changed_event_shows_on_either_side_of_the_rotation(
    fresh_engine: Engine, rotated: tuple[str, str], changed: int
) -> None:
    _drop_guards(fresh_engine)
    with fresh_engine.begin() as connection:
        connection.exec_driver_sql(
            f"UPDATE audit_events SET actor_user_id = 99 WHERE id = {changed}"
        )

    assert _verify(fresh_engine) == [f"event {changed}: its contents do not match its hash"]


def test_a_retired_key_cannot_add_events_after_the_rotation(
    fresh_engine: Engine, rotated: tuple[str, str]
) -> None:
    # Someone who learnt the old key appends an event signed with it, properly linked.
    old_id, new_id = rotated
    old_key = active_keys().retired_audit[0]
    last = _events(fresh_engine)[-1]
    fields = {
        "id": last.id + 1, "occurred_at": last.occurred_at, "actor_user_id": 1,
        "on_behalf_of_user_id": None, "action": "budget.set", "object_type": None,
        "object_id": None, "request_id": None, "details": {}, "prev_hash": last.hash,
    }  # fmt: skip
    forged = AuditEvent(**fields, hash_scheme=2, key_id=old_id)
    forged.hash = event_hash(**fields, key_id=old_id, key=old_key)  # type: ignore[arg-type]
    with make_session_factory(fresh_engine).begin() as session:
        session.add(forged)

    assert _verify(fresh_engine) == [
        f"event 7: changes the audit key from id {new_id} to id {old_id}, a key the trail had "
        "already left (a retired key signs no event)"
    ]


def test_a_key_change_needs_the_recorded_rotation(folder: Path, fresh_engine: Engine) -> None:
    _append(fresh_engine, "test.one")
    old = active_keys()
    rotate_audit_key_file(folder)
    new = old.reloaded()
    # A process with the new key only (the old one left out of its settings) signs on.
    use_keys(Keys(audit=new.audit, totp=new.totp))
    with pytest.raises(KeyProblem, match=f"hashed with audit key id {old.audit_key_id}"):
        _append(fresh_engine, "test.two")
    assert len(_events(fresh_engine)) == 1  # nothing was written

    use_keys(new)
    _append(fresh_engine, "test.two")
    events = _events(fresh_engine)
    assert [e.action for e in events] == ["test.one", ROTATION, "test.two"]
    assert _verify(fresh_engine) == []


def test_a_process_started_before_the_rotation_takes_up_the_new_key(
    folder: Path, fresh_engine: Engine
) -> None:
    _append(fresh_engine, "test.one")
    running = active_keys()  # a web worker's keys, loaded at start
    _rotate(folder, fresh_engine)
    new_id = active_keys().audit_key_id

    use_keys(running)
    _append(fresh_engine, "test.from_the_old_worker")

    assert active_keys().audit_key_id == new_id
    assert [e.key_id for e in _events(fresh_engine)][-1] == new_id
    assert [e.action for e in _events(fresh_engine)].count(ROTATION) == 1
    assert _verify(fresh_engine) == []


def test_anchors_made_before_the_rotation_still_fit(folder: Path, fresh_engine: Engine) -> None:
    _append(fresh_engine, "test.one", "test.two")
    with make_session_factory(fresh_engine)() as session:
        before = make_anchor(session)
    _rotate(folder, fresh_engine)
    _append(fresh_engine, "test.four")

    with make_session_factory(fresh_engine)() as session:
        assert check_anchor(session, before) == []
        after = make_anchor(session)
        assert check_anchor(session, after) == []
        assert after.key_id == active_keys().audit_key_id != before.key_id
        # Without the retired key the old anchor's key is unknown, and says so.
        keys = active_keys()
        problems = check_anchor(session, before, Keys(audit=keys.audit, totp=keys.totp))
    assert len(problems) == 1 and problems[0].endswith(
        "no retired key has that id (the key was changed)"
    )


def test_nothing_to_hand_over_records_nothing(folder: Path, fresh_engine: Engine) -> None:
    with make_session_factory(fresh_engine).begin() as session:
        assert record_key_rotation(session) is None  # an empty trail
    _append(fresh_engine, "test.one")
    with make_session_factory(fresh_engine).begin() as session:
        assert record_key_rotation(session) is None  # already under the configured key
    assert len(_events(fresh_engine)) == 1


def test_retired_keys_as_settings_one_or_a_list(tmp_path: Path) -> None:
    one, two = "a retired audit key, 32 characters+", "another retired audit key, 32+ chars"
    current = "the audit key that signs now, 32+ chars"

    single = load_keys(tmp_path, audit=current, totp="t" * 32, retired_audit=one)
    listed = load_keys(tmp_path, audit=current, totp="t" * 32, retired_audit=f'["{one}", "{two}"]')

    assert len(single.retired_audit) == 1 and len(listed.retired_audit) == 2
    assert single.retired_audit[0] == listed.retired_audit[0]
    (retired_id,) = single.retired_audit_key_ids
    assert listed.audit_key_for(retired_id) == single.retired_audit[0]
    with pytest.raises(KeyProblem, match="must be at least 32 characters"):
        load_keys(tmp_path, audit=current, totp="t" * 32, retired_audit=["short"])
    with pytest.raises(KeyProblem, match="not a JSON list"):
        load_keys(tmp_path, audit=current, totp="t" * 32, retired_audit="[nope")
