"""A command that refuses changes nothing: not the instance folder (no key, secret or database
file is made before the refusal), not the database (a SQLite file is looked at read-only), and
it says why in one line per problem with exit status 2."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from models.db import upgrade
from models.keys import use_keys
from tests.web.test_cli_database import DATABASE_COMMANDS
from web.cli import main


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
        use_keys(None)  # the command may have loaded the site's keys


def _snapshot(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Each file under ``folder``: its bytes' hash, mode and modification time."""
    if not folder.exists():
        return {}
    return {
        str(path.relative_to(folder)): (
            hashlib.sha256(path.read_bytes()).hexdigest(),
            path.stat().st_mode,
            path.stat().st_mtime_ns,
        )
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _assert_refused(result: Result, lines: int = 1) -> None:
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == lines, result.stderr
    assert all(line.startswith("tapestry: ") for line in result.stderr.splitlines())
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=" ".join)
def test_no_instance_folder_is_made_for_a_missing_database(site: Path, args: list[str]) -> None:
    result = _run(args)

    _assert_refused(result)
    assert not site.exists()  # no folder, no audit_key, totp_key or secret_key


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=" ".join)
def test_an_empty_database_file_and_its_folder_are_left_as_they_were(
    site: Path, args: list[str]
) -> None:
    site.mkdir()
    (site / "tapestry.sqlite").touch()
    before = _snapshot(site)

    result = _run(args)

    _assert_refused(result)
    assert _snapshot(site) == before  # not even switched to WAL, nor -wal/-shm files beside it


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=" ".join)
def test_a_database_behind_the_migrations_is_left_as_it_was(site: Path, args: list[str]) -> None:
    site.mkdir()
    database = site / "tapestry.sqlite"
    upgrade(f"sqlite:///{database}", "0002_solver_run_analysis")
    use_keys(None)
    # The files beside it that the migration's own connection left are folded back in.
    sqlite3.connect(database).execute("PRAGMA journal_mode = DELETE").connection.close()
    for name in ("audit_key", "totp_key", "secret_key"):
        (site / name).unlink(missing_ok=True)
    before = _snapshot(site)

    result = _run(args)

    _assert_refused(result)
    assert "is at revision 0002_solver_run_analysis" in result.stderr
    assert _snapshot(site) == before


@pytest.mark.parametrize(
    "args",
    [["audit", "verify"], ["audit", "anchor"], ["audit", "rotate-key"]],
    ids=" ".join,
)
def test_the_audit_commands_never_make_an_audit_key(site: Path, args: list[str]) -> None:
    """A new key would call every event of the trail broken (and then sign new ones)."""
    assert _run(["db", "upgrade"]).exit_code == 0
    made = _run(
        ["accounts", "create", "--email", "a@example.org", "--name", "A", "--role", "admin"]
    )
    assert made.exit_code == 0, made.output
    (site / "audit_key").unlink()
    before = _snapshot(site)

    result = _run(args)

    _assert_refused(result)
    assert "TAPESTRY_AUDIT_KEY" in result.stderr and str(site / "audit_key") in result.stderr
    assert _snapshot(site) == before


def test_retention_settings_are_all_checked_before_the_database_is_opened(site: Path) -> None:
    assert _run(["db", "upgrade"]).exit_code == 0
    shown = _run(["privacy", "retention"]).output
    before = _snapshot(site)

    result = _run(
        ["privacy", "retention", "--set", "jobs=30", "--set", "jobs", "--set", "nothing=3",
         "--set", "jobs=0", "--set", "jobs=99999999999999999999", "--set", "jobs=٣"]
    )  # fmt: skip

    _assert_refused(result, lines=5)
    assert result.stderr.splitlines() == [
        "tapestry: --set jobs: write it as KIND=DAYS, such as sessions=30",
        "tapestry: --set nothing=3: unknown kind of data 'nothing' (known: audit_events, "
        "feedback_comments, financial_records, idempotency_records, inactive_accounts, jobs, "
        "login_throttles, offer_drafts, user_sessions)",
        "tapestry: --set jobs=0: DAYS must be a whole number from 1 to 36500",
        "tapestry: --set jobs=99999999999999999999: DAYS must be a whole number from 1 to 36500",
        "tapestry: --set jobs=٣: DAYS must be a whole number from 1 to 36500",
    ]
    assert _snapshot(site) == before  # jobs=30, the good one, was not saved either
    assert _run(["privacy", "retention"]).output == shown


def test_an_account_with_a_wrong_email_or_name_is_refused_in_one_line_each(site: Path) -> None:
    assert _run(["db", "upgrade"]).exit_code == 0
    before = _snapshot(site)

    result = _run(["accounts", "create", "--email", "not an email", "--name", "x" * 201,
                   "--role", "admin"])  # fmt: skip

    _assert_refused(result, lines=2)
    assert result.stderr.startswith("tapestry: --email: 'not an email' is not an email address")
    assert "--name: give a name of 1 to 200 letters" in result.stderr
    assert _snapshot(site) == before


def test_an_account_that_exists_or_an_unknown_council_is_refused_with_exit_2(site: Path) -> None:
    assert _run(["db", "upgrade"]).exit_code == 0
    args = ["accounts", "create", "--email", "a@example.org", "--name", "A", "--role", "admin"]
    assert _run(args).exit_code == 0
    verified = _run(["audit", "verify"]).output

    again = _run(args)
    no_council = _run([*args[:2], "--email", "b@example.org", "--name", "B", "--role",
                       "commissioner", "--council", "narnia"])  # fmt: skip
    nobody = _run(["accounts", "reset", "nobody@example.org"])

    for result in (again, no_council, nobody):
        _assert_refused(result)
    assert again.stderr == "tapestry: --email: there is already an account for a@example.org\n"
    assert no_council.stderr == "tapestry: --council: there is no council called 'narnia'\n"
    assert nobody.stderr == "tapestry: there is no account for nobody@example.org\n"
    assert _run(["audit", "verify"]).output == verified  # no event was added
