"""The ``tapestry`` command. Each sub-command parses its options and calls one function."""

from __future__ import annotations

import sys
from typing import Literal

import click


@click.group()
def main() -> None:
    """Tapestry: matching and commissioning for personalised public services."""


@main.command("solve")
@click.argument("file")
@click.option("--out", "out", default=None, help="Write the result here instead of stdout.")
@click.option("--mechanism", type=click.Choice(["welfare", "stable"]), default=None)
@click.option("--time-limit", "time_limit", type=float, default=None, help="Seconds.")
def solve_cmd(file: str, out: str | None, mechanism: str | None, time_limit: float | None) -> None:
    """Solve an allocation instance (FILE, or - for standard input)."""
    from engine.cli import run_solve

    sys.exit(run_solve(file, out=out, mechanism=mechanism, time_limit_s=time_limit))


@main.command("explain")
@click.argument("instance")
@click.argument("result")
@click.option("--out", "out", default=None, help="Write the explanations here instead of stdout.")
@click.option("--persons", "persons", default=None, metavar="ID,ID,...",
              help="Explain only these persons (then no rules or places).")  # fmt: skip
@click.option("--time-limit", "time_limit", type=float, default=None,
              help="Seconds for the whole command (default: policy.time_limit_s).")  # fmt: skip
def explain_cmd(
    instance: str, result: str, out: str | None, persons: str | None, time_limit: float | None
) -> None:
    """Explain a result (RESULT) of an instance (INSTANCE); - for standard input, once."""
    from engine.cli import run_explain

    sys.exit(run_explain(instance, result, out=out, persons=persons, time_limit_s=time_limit))


# The same names as engine.generate.SIZES and VARIANTS (a test checks), listed here so that
# `tapestry --help` does not load NumPy and OR-Tools.
GENERATE_SIZES = ("s", "m", "l")
GENERATE_VARIANTS = (
    "plain", "floors", "pot", "gap", "multi", "maximin", "placements", "stable", "infeasible",
)  # fmt: skip


@main.command("generate")
@click.option("--size", type=click.Choice(GENERATE_SIZES), required=True,
              help="s: 1,000 persons; m: 20,000; l: 200,000.")  # fmt: skip
@click.option("--seed", type=int, required=True, help="The same seed gives the same instance.")
@click.option("--variant", type=click.Choice(GENERATE_VARIANTS), default="plain",
              show_default=True, help="The commissioning policy.")  # fmt: skip
@click.option("--out", "out", default=None, help="Write the instance here instead of stdout.")
def generate_cmd(size: str, seed: int, variant: str, out: str | None) -> None:
    """Write a realistic synthetic allocation instance."""
    from engine.generate import run_generate

    sys.exit(run_generate(size, seed, variant, out))


@main.group("db")
def db_group() -> None:
    """Database commands."""


URL_HELP = "Database URL (default: the site's, as the web app's TAPESTRY_* settings give it)."


class Refused(click.ClickException):
    """Input the command cannot use: one line on standard error, exit status 2, and nothing
    changed (raised before the work is committed)."""

    exit_code = 2

    def show(self, file=None) -> None:  # type: ignore[no-untyped-def]
        click.echo(f"tapestry: {self.message}", err=True)


class DatabaseProblem(Refused):
    """The database (or a file or key the command needs) cannot be used."""


def _overrides(url: str | None) -> dict[str, object]:
    overrides: dict[str, object] = {"AUTO_UPGRADE_DB": False}
    if url:
        overrides["DATABASE_URL"] = url
    return overrides


def _site_database(url: str | None) -> str:
    """The database every command uses: ``--url``, else the site's own (``create_app``'s
    settings: ``TAPESTRY_DATABASE_URL``, else ``tapestry.sqlite`` in its instance folder).

    Loading the site's settings also makes its keys (audit, TOTP) this process's keys, and
    makes them in the instance folder when they are not there yet: commands that may be
    refused call :func:`_database_for_command`, which checks the database first.
    """
    from web import create_app
    from web.db import database

    try:
        app = create_app(_overrides(url))
    except Exception as error:  # a bad setting or key: say which, without a traceback
        raise DatabaseProblem(_one_line(error)) from None
    database(app).engine.dispose()
    return str(app.config["DATABASE_URL"])


def _one_line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip().splitlines()
    return text[0] if text else type(cause).__name__


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _require_schema(url: str) -> None:
    """Refuse, in one line, a database that is missing, unreachable, empty or not migrated."""
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from models.db import alembic_config

    upgrade_hint = "run `tapestry db upgrade` first, or give another database with --url"
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        from pathlib import Path

        from web.demo import DEMO_FILE

        demo = Path(parsed.database).resolve().parent / DEMO_FILE
        if demo.exists() and demo != Path(parsed.database).resolve():
            # Someone who has just run `tapestry demo` most likely means its database.
            upgrade_hint += f" (the demo's is --url sqlite:///{demo})"
        if not Path(parsed.database).exists():
            raise DatabaseProblem(f"there is no database at {parsed.database}: {upgrade_hint}")
    try:
        revision = _current_revision_without_writing(url)
    except SQLAlchemyError as error:
        raise DatabaseProblem(
            f"cannot open the database {_shown(url)}: {_one_line(error)}"
        ) from None
    script = ScriptDirectory.from_config(alembic_config(url))
    head = script.get_current_head()
    if revision is None:
        raise DatabaseProblem(f"the database {_shown(url)} has no tables yet: {upgrade_hint}")
    if revision != head:
        known = revision in {r.revision for r in script.walk_revisions()}
        if not known:
            raise DatabaseProblem(
                f"the database {_shown(url)} is at revision {revision}, "
                "which this version of Tapestry does not know"
            )
        raise DatabaseProblem(
            f"the database {_shown(url)} is at revision {revision}, not the newest ({head}): "
            "run `tapestry db upgrade`"
        )


def _current_revision_without_writing(url: str) -> str | None:
    """The database's revision, read without changing it: a SQLite file is opened as it is,
    never created, and not switched to WAL as the site's own connections do (a read-only
    opening would leave the -wal and -shm files of a WAL database behind; this one, the last
    to close, removes them)."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from models.db import current_revision

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return current_revision(url)
    import sqlite3

    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    address = Path(parsed.database).resolve().as_uri() + "?mode=rw"
    engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(address, uri=True))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


#: How a command needs the keys kept outside the database (see ``models.keys``).
KeysNeeded = Literal["make", "existing", "none"]


def _database_for_command(url: str | None, *, keys: KeysNeeded = "make") -> str:
    """The site's database (or ``--url``), checked to be migrated to the newest revision
    before anything is made, so that a refused command changes nothing.

    ``keys``: ``"make"`` loads the site's keys as the site does (making them in the instance
    folder on first use); ``"existing"`` loads them and refuses, in one line, when one is
    missing (a command that only reads, such as ``audit verify``, must not make a key: a new
    audit key would call the whole trail broken and then sign new events); ``"none"`` loads
    no key.
    """
    from web.app import site_keys, site_settings

    try:
        settings = site_settings(_overrides(url))
    except Exception as error:  # a bad setting: say which, without a traceback
        raise DatabaseProblem(_one_line(error)) from None
    target = str(settings.config["DATABASE_URL"])
    _require_schema(target)
    if keys == "make":
        return _site_database(url)
    if keys == "existing":
        from models.keys import KeyProblem, use_keys

        try:
            use_keys(site_keys(settings, make=False))
        except KeyProblem as error:
            raise DatabaseProblem(str(error)) from None
    return target


@db_group.command("upgrade")
@click.option("--url", default=None, help=URL_HELP)
def db_upgrade_cmd(url: str | None) -> None:
    """Create or update the database tables to the newest version."""
    from sqlalchemy.exc import SQLAlchemyError

    from models.db import upgrade

    target = _site_database(url)
    try:
        upgrade(target)
    except SQLAlchemyError as error:
        raise DatabaseProblem(f"cannot upgrade {_shown(target)}: {_one_line(error)}") from None
    click.echo(f"The database is up to date ({_shown(target)}).")


@main.group("accounts")
def accounts_group() -> None:
    """Account commands."""


@accounts_group.command("create")
@click.option("--email", required=True)
@click.option("--name", "display_name", required=True, help="The name shown to others.")
@click.option(
    "--role",
    type=click.Choice(["person", "advocate", "provider", "commissioner", "admin"]),
    required=True,
)
@click.option("--council", "council_slug", default=None, help="The council's short name.")
def accounts_create_cmd(email: str, display_name: str, role: str, council_slug: str | None) -> None:
    """Add an account and print its one-off password (the first admin, for example)."""
    import re

    from sqlalchemy import select

    # The options are checked before the database is opened: one line per problem, exit 2.
    problems = []
    email = email.strip()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email) or len(email) > 320:
        problems.append(f"--email: {email!r} is not an email address, such as sam@example.org")
    display_name = display_name.strip()
    if not 1 <= len(display_name) <= 200 or not display_name.isprintable():
        problems.append("--name: give a name of 1 to 200 letters, without control characters")
    for problem in problems:
        click.echo(f"tapestry: {problem}", err=True)
    if problems:
        sys.exit(2)

    from models.accounts import Council, Role
    from models.audit import append_event
    from web.services.accounts import create_user, find_user_by_email, one_off_password

    def create(session) -> str:  # type: ignore[no-untyped-def]
        if find_user_by_email(session, email) is not None:
            raise Refused(f"--email: there is already an account for {email}")
        council_id = None
        if council_slug:
            council = session.scalars(select(Council).where(Council.slug == council_slug)).first()
            if council is None:
                raise Refused(f"--council: there is no council called {council_slug!r}")
            council_id = council.id
        password = one_off_password()
        user = create_user(
            session,
            email=email,
            display_name=display_name,
            role=Role(role),
            password=password,
            council_id=council_id,
            one_off=True,
        )
        append_event(session, "account.created", object_type="user", object_id=user.id)
        return password

    password = _with_app_session(create)
    click.echo(f"Created {email} ({role}). One-off password: {password}")
    click.echo("They choose their own password the first time they sign in with it.")


@accounts_group.command("reset")
@click.argument("email")
@click.option("--second-factor", is_flag=True, help="Also forget their authenticator app.")
def accounts_reset_cmd(email: str, second_factor: bool) -> None:
    """Give an account a new one-off password and sign it out everywhere."""
    from models.audit import append_event
    from models.base import utcnow
    from web.services.accounts import find_user_by_email, reset_account

    def reset(session) -> str:  # type: ignore[no-untyped-def]
        user = find_user_by_email(session, email)
        if user is None:
            raise Refused(f"there is no account for {email}")
        password = reset_account(session, user, now=utcnow(), clear_second_factor=second_factor)
        details = {"second_factor": "cleared"} if second_factor else None
        append_event(
            session, "account.reset", object_type="user", object_id=user.id, details=details
        )
        return password

    password = _with_app_session(reset)
    click.echo(f"New one-off password for {email}: {password}")
    if second_factor:
        click.echo("They will set up their authenticator app again when they sign in.")


def _with_app_session(work):  # type: ignore[no-untyped-def]
    """Run ``work(session)`` on the site's database (TAPESTRY_* settings), then commit."""
    from web import create_app
    from web.db import database, session_scope

    _database_for_command(None)
    app = create_app({"AUTO_UPGRADE_DB": False})
    try:
        with app.app_context(), session_scope(app) as session:
            result = work(session)
            session.commit()
            return result
    finally:
        database(app).engine.dispose()


@accounts_group.command("purge")
@click.option("--days", type=click.IntRange(0), default=30, show_default=True)
def accounts_purge_cmd(days: int) -> None:
    """Delete sign-in sessions that ended more than DAYS days ago, and old sign-in counts."""
    from datetime import timedelta

    from models.base import utcnow
    from web import create_app
    from web.auth import session_policy, throttle_policy
    from web.db import database, session_scope
    from web.services.account_links import (
        CONFIRM_KEY,
        CONFIRM_POLICY,
        RESET_ADDRESS_KEY,
        RESET_EMAIL_KEY,
        RESET_POLICY,
    )
    from web.services.accounts import purge_stale_records
    from web.services.consents import ASK_KEY_PREFIX, ASK_POLICY

    _database_for_command(None)
    app = create_app({"AUTO_UPGRADE_DB": False})
    try:
        with app.app_context(), session_scope(app) as session:
            ended, counts = purge_stale_records(
                session,
                now=utcnow(),
                session_policy=session_policy(),
                throttle_policy=throttle_policy(),
                other_throttles={
                    ASK_KEY_PREFIX: ASK_POLICY,
                    RESET_EMAIL_KEY: RESET_POLICY,
                    RESET_ADDRESS_KEY: RESET_POLICY,
                    CONFIRM_KEY: CONFIRM_POLICY,
                },
                keep_ended_sessions=timedelta(days=days),
            )
            session.commit()
    finally:
        database(app).engine.dispose()
    click.echo(f"Deleted {ended} ended sessions and {counts} old sign-in counts.")


@main.command("worker")
@click.option("--url", default=None, help=URL_HELP)
@click.option("--poll", type=float, default=1.0, show_default=True, help="Seconds between looks.")
def worker_cmd(url: str | None, poll: float) -> None:
    """Run background jobs (allocation runs) until stopped."""
    import logging
    import threading

    from web.worker import run_worker, take_stop_signals

    target = _database_for_command(url)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    take_stop_signals(lambda *_: stop.set())
    click.echo("Waiting for jobs. Press Ctrl+C to stop.")
    run_worker(target, stop=stop, poll_interval_s=poll)


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", type=int, default=5000, show_default=True)
@click.option("--persons", type=click.IntRange(1, 5000), default=300, show_default=True)
@click.option("--seed", type=int, default=2027, show_default=True)
@click.option("--no-serve", "no_serve", is_flag=True, help="Build the database, then stop.")
def demo_cmd(host: str, port: int, persons: int, seed: int, no_serve: bool) -> None:
    """Build a fresh demo council (instance/demo.sqlite) and serve the site on it."""
    from web.demo import build_demo_database, print_logins, serve_demo

    url, logins = build_demo_database(persons=persons, seed=seed)
    print_logins(logins, url=f"http://{host}:{port}/", database_url=url, echo=click.echo)
    if not no_serve:
        serve_demo(url, host=host, port=port)


@db_group.command("revision")
@click.argument("message")
@click.option("--slug", required=True, help="Short name for the file, e.g. offer_waitlist.")
def db_revision_cmd(message: str, slug: str) -> None:
    """Write a new migration from the difference between the models and the newest schema."""
    from models.db import make_revision

    path = make_revision(message, slug)
    click.echo(f"Wrote {path}. Read it through before you commit it.")


@main.group("audit")
def audit_group() -> None:
    """Audit trail commands."""


@audit_group.command("verify")
@click.option("--url", default=None, help=URL_HELP)
@click.option("--anchor", "anchor_file", default=None, metavar="FILE",
              help="Also compare with every anchor in FILE (`tapestry audit anchor`).")  # fmt: skip
def audit_verify_cmd(url: str | None, anchor_file: str | None) -> None:
    """Check the audit trail's hash chain (and anchors): exit 0 when intact, 1 with one line
    per problem, 2 when the database or the anchor file cannot be read."""
    from models.audit import check_anchor, make_anchor, parse_anchors, plain_events, verify_chain
    from models.db import make_engine, make_session_factory

    anchors = []
    if anchor_file is not None:
        try:
            with open(anchor_file, encoding="utf-8") as handle:
                anchors = parse_anchors(handle.read())
        except OSError as error:
            raise DatabaseProblem(f"--anchor {anchor_file}: {error.strerror}") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise DatabaseProblem(f"--anchor {anchor_file}: {error}") from None
        if not anchors:
            raise DatabaseProblem(f"--anchor {anchor_file}: the file holds no anchor")
    target = _database_for_command(url, keys="existing")
    engine = make_engine(target, sqlite_begin="DEFERRED")
    try:
        with make_session_factory(engine)() as session:
            problems = verify_chain(session)
            for anchor in anchors:
                problems.extend(check_anchor(session, anchor))
            head = make_anchor(session)
            plain = plain_events(session)
    finally:
        engine.dispose()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(1)
    checked = f", and it matches {_counted(len(anchors), 'anchor')}" if anchors else ""
    click.echo(
        f"The audit trail is intact: {_counted(head.count, 'event')}, newest hash {head.hash}"
        f"{checked}."
    )
    if plain:
        # Loud, not quiet: a trail recomputed without the key from its first event is all plain.
        hashes = "has a plain SHA-256 hash" if plain == 1 else "have plain SHA-256 hashes"
        click.echo(
            f"The first {_counted(plain, 'event')} {hashes} from before the audit key: "
            "only an anchor noted since vouches for them."
        )


def _counted(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


@audit_group.command("anchor")
@click.option("--url", default=None, help=URL_HELP)
@click.option("--out", "out", default=None, metavar="FILE",
              help="Append the anchor to FILE (kept where the database cannot write).")  # fmt: skip
def audit_anchor_cmd(url: str | None, out: str | None) -> None:
    """Note the trail's head (newest id, count, hash, key id) outside the database.

    Without --out the anchor is printed, for a log kept elsewhere. Run it often (after each
    day's work, say); `tapestry audit verify --anchor FILE` then shows a trail cut short,
    recomputed or hashed with another key since.
    """
    import os

    from models.audit import make_anchor, verify_chain
    from models.db import make_engine, make_session_factory

    target = _database_for_command(url, keys="existing")
    engine = make_engine(target, sqlite_begin="DEFERRED")
    try:
        with make_session_factory(engine)() as session:
            problems = verify_chain(session)
            anchor = make_anchor(session)
    finally:
        engine.dispose()
    if problems:
        # Anchoring a broken trail would vouch for it.
        for problem in problems:
            click.echo(problem, err=True)
        click.echo("tapestry: the trail is not intact, so no anchor was written", err=True)
        sys.exit(1)
    line = anchor.to_line()
    if out is None:
        click.echo(line)
        return
    try:
        fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise DatabaseProblem(f"--out {out}: {error.strerror}") from None
    click.echo(f"Anchored event {anchor.head_id} ({_counted(anchor.count, 'event')}) in {out}.")


@audit_group.command("rotate-key")
@click.option("--url", default=None, help=URL_HELP)
def audit_rotate_key_cmd(url: str | None) -> None:
    """Retire the audit key and sign new events with a new one.

    The old key is kept, in the instance folder's audit_keys_retired file, to verify the events
    made with it; it never signs again. The trail records the handover, and running sites take
    up the new key at their next event. When the key is the TAPESTRY_AUDIT_KEY setting, change
    the settings and restart first; this then records the handover. Note an anchor afterwards.
    """
    from pathlib import Path

    from models.audit import ROTATION, append_event, record_key_rotation, verify_chain
    from models.db import make_engine, make_session_factory
    from models.keys import (
        AUDIT_RETIRED_FILE,
        KeyProblem,
        active_keys,
        rotate_audit_key_file,
        use_keys,
    )
    from web.app import site_settings

    target = _database_for_command(url, keys="existing")
    app = site_settings(_overrides(target))
    engine = make_engine(target)
    try:
        with make_session_factory(engine)() as session:
            problems = verify_chain(session)
            if problems:
                # A new key would go on from a trail that does not verify.
                for problem in problems:
                    click.echo(problem, err=True)
                click.echo(
                    "tapestry: the trail is not intact, so the key was not rotated", err=True
                )
                sys.exit(1)
            if app.config.get("AUDIT_KEY") is not None:
                event = record_key_rotation(session)
                if event is None:
                    raise DatabaseProblem(
                        "the audit key is the TAPESTRY_AUDIT_KEY setting, which this command "
                        "cannot change: add it to TAPESTRY_AUDIT_RETIRED_KEYS, set a new "
                        "TAPESTRY_AUDIT_KEY (`openssl rand -hex 32`), restart the site, then run "
                        "this again to record the change"
                    )
                session.commit()
                click.echo(
                    f"The trail now goes on under audit key id {event.details['to_key_id']} "
                    f"(after id {event.details['from_key_id']})."
                )
                return
            try:
                old_id, new_id = rotate_audit_key_file(app.instance_path)
                keys = active_keys().reloaded()
            except (KeyProblem, OSError) as error:
                raise DatabaseProblem(_one_line(error)) from None
            use_keys(keys)
            if record_key_rotation(session, keys) is None:  # an empty trail: say so all the same
                append_event(
                    session, ROTATION, details={"from_key_id": old_id, "to_key_id": new_id}
                )
            session.commit()
    finally:
        engine.dispose()
    kept = Path(app.instance_path) / AUDIT_RETIRED_FILE
    click.echo(
        f"The audit key was rotated: new events are signed with key id {new_id}. The old key "
        f"(id {old_id}) is kept in {kept} to verify older events; keep it as long as the trail."
    )
    click.echo("Note an anchor now: tapestry audit anchor --out FILE.")


@main.group("privacy")
def privacy_group() -> None:
    """Retention of personal data."""


@privacy_group.command("retention")
@click.option("--set", "settings", multiple=True, metavar="KIND=DAYS",
              help="Keep KIND for DAYS days (repeatable).")  # fmt: skip
@click.option("--url", default=None, help=URL_HELP)
def privacy_retention_cmd(settings: tuple[str, ...], url: str | None) -> None:
    """Show how long each kind of data is kept, or change it with --set."""
    from models.db import make_engine, make_session_factory
    from models.privacy import DEFAULT_RETENTION_DAYS
    from web.services.privacy import MAX_DAYS, retention_periods, set_retention

    # Every --set is checked before the database is opened: one line per problem, exit 2.
    changes: list[tuple[str, int]] = []
    problems: list[str] = []
    for setting in settings:
        kind, equals, days = (part.strip() for part in setting.partition("="))
        if not equals or not kind:
            problems.append(f"--set {setting}: write it as KIND=DAYS, such as sessions=30")
        elif kind not in DEFAULT_RETENTION_DAYS:
            known = ", ".join(sorted(DEFAULT_RETENTION_DAYS))
            problems.append(f"--set {setting}: unknown kind of data {kind!r} (known: {known})")
        elif not (days.isascii() and days.isdigit()) or not 1 <= int(days) <= MAX_DAYS:
            problems.append(f"--set {setting}: DAYS must be a whole number from 1 to {MAX_DAYS}")
        else:
            changes.append((kind, int(days)))
    for problem in problems:
        click.echo(f"tapestry: {problem}", err=True)
    if problems:
        sys.exit(2)
    engine = make_engine(_database_for_command(url, keys="make" if changes else "none"))
    try:
        with make_session_factory(engine)() as session:
            for kind, days in changes:
                set_retention(session, kind, days)
            session.commit()
            periods = retention_periods(session)
    finally:
        engine.dispose()
    for kind, days in periods.items():
        click.echo(f"{kind}: {days} days")


@privacy_group.command("purge")
@click.option("--url", default=None, help=URL_HELP)
def privacy_purge_cmd(url: str | None) -> None:
    """Delete or blank personal data kept longer than its retention period (sign-in counts
    still in force are kept)."""
    from datetime import timedelta

    from models.db import make_engine, make_session_factory
    from web.app import site_settings
    from web.services.accounts import ThrottlePolicy
    from web.services.consents import ASK_POLICY
    from web.services.privacy import purge_expired

    target = _database_for_command(url)
    app = site_settings(_overrides(target))
    sign_in = ThrottlePolicy(window=timedelta(minutes=float(app.config["LOGIN_WINDOW_MINUTES"])))
    engine = make_engine(target)
    try:
        with make_session_factory(engine)() as session:
            done = purge_expired(session, throttle_policies=(sign_in, ASK_POLICY))
            session.commit()
    finally:
        engine.dispose()
    for kind, count in done.items():
        click.echo(f"{kind}: {count} removed")


@main.group("openreferral")
def openreferral_group() -> None:
    """Open Referral UK feeds."""


@openreferral_group.command("import")
@click.argument("source", metavar="FILE|URL")
@click.option("--council", "council_slug", required=True, help="The council's short name.")
@click.option("--url", default=None, help=URL_HELP)
def openreferral_import_cmd(source: str, council_slug: str, url: str | None) -> None:
    """Import the services of an Open Referral UK feed (URL) or file as draft offers.

    Exit 0 when every record was imported, 1 when some were refused (one line each, with the
    reason), 2 when the source or the council cannot be used.
    """
    from sqlalchemy import select

    from models.accounts import Council
    from models.db import make_engine, make_session_factory
    from web.services.openreferral_import import SourceProblem, import_services, read_source

    engine = make_engine(_database_for_command(url))
    try:
        with make_session_factory(engine)() as session:
            council = session.scalar(select(Council).where(Council.slug == council_slug))
            if council is None:
                raise DatabaseProblem(f"--council: no council is called {council_slug!r}")
            try:
                services = read_source(source)
            except SourceProblem as problem:
                for line in problem.problems[:-1]:
                    click.echo(f"tapestry: {line}", err=True)
                raise DatabaseProblem(problem.problems[-1]) from None
            report = import_services(session, council, services)
            session.commit()
    finally:
        engine.dispose()
    click.echo(report.summary())
    for record in report.records:
        if record.result == "refused":
            click.echo(
                f"refused {record.kind.value} {record.source_id or '(no id)'} "
                f"({record.name}): {record.reason}",
                err=True,
            )
    for record in report.records:
        for note in record.notes:
            click.echo(f"note: {record.kind.value} {record.source_id} ({record.name}): {note}")
    sys.exit(1 if report.refused else 0)


@openreferral_group.command("taxonomy")
@click.argument("file", metavar="FILE")
@click.option("--council", "council_slug", required=True, help="The council's short name.")
@click.option("--url", default=None, help=URL_HELP)
def openreferral_taxonomy_cmd(file: str, council_slug: str, url: str | None) -> None:
    """Publish the council's own taxonomies from an Open Referral UK taxonomy file (one
    taxonomy with its taxonomy_terms, a list of them, or a page), beside the national ones.

    Loading the same file again changes nothing; a file without a term the council had
    removes it. Exit 0 when loaded, 2 with one line per problem (and nothing changed).
    """
    from sqlalchemy import select

    from models.accounts import Council
    from models.db import make_engine, make_session_factory
    from web.services.errors import InvalidInput
    from web.services.openreferral_import import SourceProblem, parse_json
    from web.services.openreferral_taxonomies import load_taxonomies

    try:
        with open(file, "rb") as handle:
            body = handle.read()
    except OSError as error:
        raise DatabaseProblem(f"{file}: cannot be read as JSON ({_one_line(error)})") from None
    try:
        # The import's reader: NaN, nesting too deep and text no database can store are
        # refused here, each in one line.
        document = parse_json(body, file)
    except SourceProblem as problem:
        raise DatabaseProblem(problem.problems[0]) from None
    engine = make_engine(_database_for_command(url))
    try:
        with make_session_factory(engine)() as session:
            council = session.scalar(select(Council).where(Council.slug == council_slug))
            if council is None:
                raise DatabaseProblem(f"--council: no council is called {council_slug!r}")
            try:
                changes = load_taxonomies(session, council, document)
            except InvalidInput as problem:
                session.rollback()
                for field, message in problem.errors.items():
                    click.echo(f"tapestry: {file}: {field}: {message}", err=True)
                sys.exit(2)
            session.commit()
    finally:
        engine.dispose()
    for change in changes:
        click.echo(change.line())


@main.group("postcodes")
def postcodes_group() -> None:
    """The national postcode table (the ONS Postcode Directory)."""


@postcodes_group.command("import")
@click.argument("file", metavar="FILE")
@click.option("--url", default=None, help=URL_HELP)
def postcodes_import_cmd(file: str, url: str | None) -> None:
    """Load the ONS Postcode Directory CSV (its pcds, lat, long and doterm columns) into the
    national postcode table, which places people and services by their postcodes.

    Reads the file as a stream; a second import of the same file changes nothing. Exit 0 when
    every row was read, 1 when some were refused (one line each on standard error), 2 when
    the file cannot be read or has no valid row (then nothing changes).
    """
    import csv

    from models.db import make_engine, make_session_factory
    from web.services.postcodes import ColumnsMissing, import_onspd

    engine = make_engine(_database_for_command(url))
    try:
        with make_session_factory(engine)() as session:
            try:
                with open(file, encoding="utf-8-sig", newline="") as lines:
                    report = import_onspd(session, lines)
            except (OSError, UnicodeDecodeError, csv.Error) as error:
                raise DatabaseProblem(f"{file}: cannot be read ({_one_line(error)})") from None
            except ColumnsMissing as error:
                raise DatabaseProblem(f"{file}: {error}") from None
            for problem in report.refused:
                click.echo(f"tapestry: {file}: {problem}", err=True)
            if not report.valid:
                session.rollback()
                raise DatabaseProblem(f"{file}: no row has a postcode Tapestry can use")
            session.commit()
    finally:
        engine.dispose()
    click.echo(report.summary())
    sys.exit(1 if report.refused else 0)
