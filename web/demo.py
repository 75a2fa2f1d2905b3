"""``tapestry demo``: a fresh demo database in the instance folder, its logins, and a server.

The database is ``<instance folder>/demo.sqlite`` (the instance folder of ``create_app``, or
``TAPESTRY_INSTANCE_PATH``); it is deleted and rebuilt on every run, so the demo always starts
the same. The real database (``tapestry.sqlite``) is never touched. The server is werkzeug's,
threaded, without the debugger or reloader, on plain HTTP; the session cookie's ``Secure``
flag is therefore off for the demo only.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pyotp
from flask import Flask

from models.accounts import Role
from models.db import make_engine, make_session_factory, upgrade
from models.keys import AUDIT_KEY_ENV, AUDIT_RETIRED_ENV, TOTP_KEY_ENV, load_keys, use_keys
from web.services.demo import DemoLogins, build_demo

DEMO_FILE = "demo.sqlite"
#: Where the demo's emails, texts and letters are written (one file each), in the instance
#: folder; emptied when the demo is built again.
DEMO_MAIL = "demo-mail"


def instance_path() -> Path:
    """The instance folder ``create_app`` would use."""
    configured = os.environ.get("TAPESTRY_INSTANCE_PATH")
    if configured:
        return Path(configured)
    return Path(Flask("web", instance_relative_config=True).instance_path)


def build_demo_database(
    *, persons: int, seed: int, folder: Path | None = None
) -> tuple[str, DemoLogins]:
    """Delete any old demo database, migrate a new one and fill it. Returns its URL."""
    folder = folder or instance_path()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DEMO_FILE
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    mail = folder / DEMO_MAIL
    if mail.is_dir():
        for old in mail.iterdir():
            if old.suffix in (".eml", ".txt", ".partial"):
                old.unlink()
    url = f"sqlite:///{path.resolve()}"
    # The demo's audit events and TOTP secrets use the keys the served app will use.
    use_keys(
        load_keys(
            folder,
            audit=os.environ.get(AUDIT_KEY_ENV),
            totp=os.environ.get(TOTP_KEY_ENV),
            retired_audit=os.environ.get(AUDIT_RETIRED_ENV),
        )
    )
    upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            logins = build_demo(session, persons=persons, seed=seed)
            session.commit()
    finally:
        engine.dispose()
    return url, logins


def print_logins(
    logins: DemoLogins, *, url: str, database_url: str, echo: Callable[[str], None]
) -> None:
    """Print the site's address, one sign-in per role and the one-time code secrets."""
    c = logins.counts
    echo(
        f"Westmere Council demo: {c['persons']} {'person' if c['persons'] == 1 else 'people'}, "
        f"{c['providers']} providers, "
        f"{c['offers']} offers, an open round (database {database_url})."
    )
    echo(f"Open {url} and sign in as one of these (every password is {logins.password}):")
    mail = instance_path() / DEMO_MAIL
    width = max(len(email) for email in logins.accounts.values())
    for role in Role:
        line = f"  {role.value:<13} {logins.accounts[role]:<{width}}"
        if role in logins.totp_secrets:
            line += f"  one-time code secret {logins.totp_secrets[role]}"
        echo(line.rstrip())
    if logins.totp_secrets:
        echo(
            "Commissioners and admins also type a 6-digit code: add their secret to an "
            "authenticator app, or run"
        )
        echo("""  python -c "import pyotp; print(pyotp.TOTP('SECRET').now())\"""")
        now = ", ".join(
            f"{role.value} {pyotp.TOTP(secret).now()}"
            for role, secret in logins.totp_secrets.items()
        )
        echo(f"Codes now: {now} (each works once, for about 30 seconds).")
    echo(
        f"Emails, texts and letters the site sends are written to {mail} "
        "(open the .eml files with any mail program)."
    )


def serve_demo(database_url: str, *, host: str, port: int) -> None:
    """Serve the real app on the demo database until interrupted (Ctrl+C, SIGTERM, SIGHUP);
    the worker beside it stops with it."""
    from werkzeug.serving import run_simple

    from web import create_app
    from web.worker import start_embedded_worker, stop_embedded_worker, take_stop_signals

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SESSION_COOKIE_SECURE": False,
            "INSTANCE_PATH": str(instance_path()),
        }
    )
    # SIGINT (Ctrl+C), SIGTERM and SIGHUP all end the server with a KeyboardInterrupt, which
    # werkzeug stops on, so the worker is always stopped below. By default SIGTERM and SIGHUP
    # would end this process at once and leave the worker running, and SIGINT is ignored
    # outright when the demo was started as a script's background job.
    previous = take_stop_signals(_interrupt, (signal.SIGINT, signal.SIGTERM, signal.SIGHUP))
    # The worker writes every message the site sends into the demo's mail folder, unless
    # another sender is set up.
    os.environ.setdefault("TAPESTRY_MAIL_BACKEND", "folder")
    os.environ.setdefault("TAPESTRY_MAIL_FOLDER", str(instance_path() / DEMO_MAIL))
    worker = None
    try:
        # Allocation runs happen in a worker process beside the server (the embedded default).
        worker = start_embedded_worker(database_url)
        run_simple(host, port, app, threaded=True, use_debugger=False, use_reloader=False)
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        if worker is not None:
            stop_embedded_worker(worker)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
