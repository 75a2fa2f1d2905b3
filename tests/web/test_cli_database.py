"""Every database command uses the site's database (the web app's settings) unless given
``--url``, and refuses a missing, empty or unreachable one in one line with exit status 2; the
audit anchor commands catch a cut tail and a changed key."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from models.audit import append_event
from models.db import make_session_factory
from models.keys import use_keys
from web.cli import main

#: Every command that opens the database, with the arguments it needs.
DATABASE_COMMANDS = [
    ["audit", "verify"],
    ["audit", "anchor"],
    ["audit", "rotate-key"],
    ["privacy", "retention"],
    ["privacy", "purge"],
    ["accounts", "purge"],
    ["accounts", "reset", "nobody@example.org"],
    ["accounts", "create", "--email", "a@example.org", "--name", "A", "--role", "admin"],
    ["worker"],
    ["openreferral", "import", "feed.json", "--council", "westmere"],
]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site configured by its instance folder alone, as a new installation is."""
    folder = tmp_path / "instance"
    for setting in ("TAPESTRY_DATABASE_URL", "TAPESTRY_AUDIT_KEY", "TAPESTRY_TOTP_KEY"):
        monkeypatch.delenv(setting, raising=False)
    monkeypatch.setenv("TAPESTRY_INSTANCE_PATH", str(folder))
    return folder


def _run(args: list[str]) -> Result:
    try:
        return CliRunner().invoke(main, args)
    finally:
        use_keys(None)  # the command loaded the site's keys; the next test loads its own


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=" ".join)
def test_a_missing_database_is_named_in_one_line(site: Path, args: list[str]) -> None:
    result = _run(args)

    database = site / "tapestry.sqlite"
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"tapestry: there is no database at {database}: run `tapestry db upgrade` first, "
        "or give another database with --url\n"
    )
    assert not database.exists()  # looking did not create it


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=" ".join)
def test_an_empty_database_is_named_in_one_line(site: Path, args: list[str]) -> None:
    site.mkdir()
    (site / "tapestry.sqlite").touch()  # as the old commands left it

    result = _run(args)

    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"tapestry: the database sqlite:///{site / 'tapestry.sqlite'} has no tables yet: "
        "run `tapestry db upgrade` first, or give another database with --url"
    ]
    assert "Traceback" not in result.output


def test_the_message_points_to_the_demo_database_when_there_is_one(site: Path) -> None:
    site.mkdir()
    (site / "demo.sqlite").touch()

    result = _run(["audit", "verify"])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"tapestry: there is no database at {site / 'tapestry.sqlite'}: run `tapestry db "
        "upgrade` first, or give another database with --url (the demo's is --url "
        f"sqlite:///{site.resolve() / 'demo.sqlite'})"
    ]


def test_an_unreachable_database_is_named_in_one_line(site: Path) -> None:
    result = _run(["audit", "verify", "--url", "postgresql://tapestry:secret@127.0.0.1:1/none"])

    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(
        "tapestry: cannot open the database postgresql://tapestry:***@127.0.0.1:1/none: "
    )
    assert "secret" not in result.output


def test_a_database_behind_the_migrations_is_refused(site: Path) -> None:
    from models.db import upgrade

    upgrade(f"sqlite:///{site / 'tapestry.sqlite'}", "0002_solver_run_analysis")

    result = _run(["privacy", "retention"])

    assert result.exit_code == 2
    assert "is at revision 0002_solver_run_analysis, not the newest" in result.stderr
    assert "run `tapestry db upgrade`" in result.stderr


def test_every_command_uses_the_database_db_upgrade_made(site: Path) -> None:
    upgraded = _run(["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"sqlite:///{site / 'tapestry.sqlite'}" in upgraded.output

    created = _run(
        ["accounts", "create", "--email", "boss@example.org", "--name", "B", "--role", "admin"]
    )
    assert created.exit_code == 0, created.output
    verified = _run(["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "intact: 1 event," in verified.output  # the account.created event
    retention = _run(["privacy", "retention", "--set", "jobs=30"])
    assert retention.exit_code == 0, retention.output
    assert "jobs: 30 days" in retention.output
    assert {p.name for p in site.iterdir()} >= {"tapestry.sqlite", "audit_key", "totp_key"}


def test_the_cli_and_the_web_app_agree_on_the_default_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from web import create_app
    from web.cli import _site_database
    from web.db import database

    monkeypatch.delenv("TAPESTRY_DATABASE_URL", raising=False)
    monkeypatch.delenv("TAPESTRY_INSTANCE_PATH", raising=False)
    monkeypatch.chdir("/")  # the working folder does not change which database is the site's
    try:
        app = create_app({"AUTO_UPGRADE_DB": False})
        database(app).engine.dispose()
        assert _site_database(None) == app.config["DATABASE_URL"]
    finally:
        use_keys(None)


def _drop_guards(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("DROP TRIGGER audit_events_no_update_delete ON audit_events")
        else:
            connection.exec_driver_sql("DROP TRIGGER audit_events_no_update")
            connection.exec_driver_sql("DROP TRIGGER audit_events_no_delete")


def test_audit_anchor_then_verify_catches_a_cut_tail_and_a_changed_key(
    fresh_database_url: str, fresh_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with make_session_factory(fresh_engine).begin() as session:
        for n in range(4):
            append_event(session, "test.event", actor_user_id=n)
    anchors = tmp_path / "outside" / "anchors.jsonl"
    anchors.parent.mkdir()

    printed = _run(["audit", "anchor", "--url", fresh_database_url])
    assert printed.exit_code == 0, printed.output
    assert '"head_id":4' in printed.output and '"count":4' in printed.output
    written = _run(["audit", "anchor", "--url", fresh_database_url, "--out", str(anchors)])
    assert written.exit_code == 0, written.output
    assert written.output == f"Anchored event 4 (4 events) in {anchors}.\n"
    assert anchors.stat().st_mode & 0o077 == 0

    ok = _run(["audit", "verify", "--url", fresh_database_url, "--anchor", str(anchors)])
    assert ok.exit_code == 0, ok.output
    assert "intact: 4 events" in ok.output and "matches 1 anchor." in ok.output
    at = anchors.read_text().split('"at":"')[1].split('"')[0]

    # The last two events go, with the guards out of the way: the rest is a sound chain.
    _drop_guards(fresh_engine)
    with fresh_engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM audit_events WHERE id > 2")
    alone = _run(["audit", "verify", "--url", fresh_database_url])
    assert alone.exit_code == 0
    assert "plain SHA-256" not in alone.output
    cut = _run(["audit", "verify", "--url", fresh_database_url, "--anchor", str(anchors)])
    assert cut.exit_code == 1
    assert cut.stderr.splitlines() == [
        f"anchor of {at}: event 4 is missing (events were deleted from the end)",
        f"anchor of {at}: 2 events up to event 4, but it recorded 4",
    ]

    # Another audit key in the settings: the anchor names the key it was made with.
    monkeypatch.setenv("TAPESTRY_AUDIT_KEY", "a key of the insider's own, 32 characters+")
    swapped = _run(["audit", "verify", "--url", fresh_database_url, "--anchor", str(anchors)])
    assert swapped.exit_code == 1
    assert any("(the key was changed)" in line for line in swapped.stderr.splitlines())
    assert swapped.stderr.splitlines()[0].startswith("event 1: hashed with another audit key")


def test_verify_says_how_many_events_have_plain_hashes(
    fresh_database_url: str, fresh_engine: Engine
) -> None:
    from models.audit import GENESIS_HASH, PLAIN_SCHEME, AuditEvent, event_hash

    with make_session_factory(fresh_engine).begin() as session:
        event = append_event(session, "test.event")
    # Recomputed without the key from the first event: a sound chain, but said out loud.
    _drop_guards(fresh_engine)
    with make_session_factory(fresh_engine).begin() as session:
        event = session.get(AuditEvent, 1)  # type: ignore[assignment]
        event.hash_scheme, event.key_id = PLAIN_SCHEME, None
        event.hash = event_hash(
            id=1, occurred_at=event.occurred_at, actor_user_id=None, on_behalf_of_user_id=None,
            action="test.event", object_type=None, object_id=None, request_id=None, details={},
            prev_hash=GENESIS_HASH, hash_scheme=PLAIN_SCHEME,
        )  # fmt: skip

    result = _run(["audit", "verify", "--url", fresh_database_url])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == (
        "The first 1 event has a plain SHA-256 hash from before the audit key: "
        "only an anchor noted since vouches for them."
    )


def test_a_broken_trail_is_not_anchored(fresh_database_url: str, fresh_engine: Engine) -> None:
    with make_session_factory(fresh_engine).begin() as session:
        append_event(session, "test.event")
    _drop_guards(fresh_engine)
    with fresh_engine.begin() as connection:
        connection.exec_driver_sql("UPDATE audit_events SET actor_user_id = 9")

    result = _run(["audit", "anchor", "--url", fresh_database_url])

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "event 1: its contents do not match its hash",
        "tapestry: the trail is not intact, so no anchor was written",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file or directory"),
        ("just a log line\n", "the file holds no anchor"),
        ('{"head_id": 1, "count": 1}\n', "line 1: the anchor has no at"),
    ],
)
def test_a_bad_anchor_file_is_named_in_one_line(
    fresh_database_url: str, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "anchors"
    if content is not None:
        path.write_text(content)

    result = _run(["audit", "verify", "--url", fresh_database_url, "--anchor", str(path)])

    assert result.exit_code == 2
    assert result.stderr == f"tapestry: --anchor {path}: {message}\n"


def test_rotate_key_keeps_the_old_key_and_the_trail_verifies_across_it(
    site: Path, tmp_path: Path
) -> None:
    assert _run(["db", "upgrade"]).exit_code == 0
    made = _run(
        ["accounts", "create", "--email", "a@example.org", "--name", "A", "--role", "admin"]
    )
    assert made.exit_code == 0, made.output
    anchors = tmp_path / "anchors.jsonl"
    assert _run(["audit", "anchor", "--out", str(anchors)]).exit_code == 0
    old_key = (site / "audit_key").read_text()

    rotated = _run(["audit", "rotate-key"])

    assert rotated.exit_code == 0, rotated.output
    assert "The audit key was rotated: new events are signed with key id " in rotated.output
    assert f"is kept in {site / 'audit_keys_retired'}" in rotated.output
    assert (site / "audit_keys_retired").read_text() == old_key
    assert (site / "audit_key").read_text() != old_key
    again = _run(
        ["accounts", "create", "--email", "b@example.org", "--name", "B", "--role", "admin"]
    )
    assert again.exit_code == 0, again.output
    verified = _run(["audit", "verify", "--anchor", str(anchors)])
    assert verified.exit_code == 0, verified.output
    assert "intact: 3 events," in verified.output and "matches 1 anchor." in verified.output

    # Without the retired key, the events before the rotation cannot be checked.
    (site / "audit_keys_retired").unlink()
    lost = _run(["audit", "verify", "--anchor", str(anchors)])
    assert lost.exit_code == 1
    assert lost.stderr.splitlines()[0].startswith("event 1: hashed with another audit key")
    assert "(the key was changed)" in lost.stderr


def test_rotate_key_with_the_key_in_a_setting_says_how(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = (
        "the first audit key of this site, 32+ chars",
        "the second audit key of this site, 32+",
    )
    monkeypatch.setenv("TAPESTRY_AUDIT_KEY", old)
    assert _run(["db", "upgrade"]).exit_code == 0
    made = _run(
        ["accounts", "create", "--email", "a@example.org", "--name", "A", "--role", "admin"]
    )
    assert made.exit_code == 0, made.output

    refused = _run(["audit", "rotate-key"])
    assert refused.exit_code == 2
    assert refused.stderr.splitlines() == [
        "tapestry: the audit key is the TAPESTRY_AUDIT_KEY setting, which this command cannot "
        "change: add it to TAPESTRY_AUDIT_RETIRED_KEYS, set a new TAPESTRY_AUDIT_KEY (`openssl "
        "rand -hex 32`), restart the site, then run this again to record the change"
    ]
    assert not (site / "audit_keys_retired").exists()

    monkeypatch.setenv("TAPESTRY_AUDIT_KEY", new)
    monkeypatch.setenv("TAPESTRY_AUDIT_RETIRED_KEYS", old)
    recorded = _run(["audit", "rotate-key"])
    assert recorded.exit_code == 0, recorded.output
    assert recorded.output.startswith("The trail now goes on under audit key id ")
    verified = _run(["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "intact: 2 events," in verified.output


def test_rotate_key_refuses_a_broken_trail(site: Path) -> None:
    assert _run(["db", "upgrade"]).exit_code == 0
    made = _run(
        ["accounts", "create", "--email", "a@example.org", "--name", "A", "--role", "admin"]
    )
    assert made.exit_code == 0, made.output
    from models.db import make_engine

    engine = make_engine(f"sqlite:///{site / 'tapestry.sqlite'}")
    try:
        _drop_guards(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql("UPDATE audit_events SET actor_user_id = 99")
    finally:
        engine.dispose()
    key = (site / "audit_key").read_text()

    refused = _run(["audit", "rotate-key"])

    assert refused.exit_code == 1
    assert refused.stderr.splitlines() == [
        "event 1: its contents do not match its hash",
        "tapestry: the trail is not intact, so the key was not rotated",
    ]
    assert (site / "audit_key").read_text() == key
