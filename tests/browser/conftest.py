"""Fixtures for browser tests: the real app on 127.0.0.1 driven by Debian's Chromium.

- ``live_server``: the app on a free port of 127.0.0.1, served by werkzeug in a background
  thread, on a fresh migrated SQLite database of its own (one per test module).
  ``live_server.url`` is its address; ``live_server.app`` the Flask app.
- ``make_live_user(role, ...)``: a committed user in that database (in the council
  "riverford"; persons get a profile, providers an organisation); the password is
  ``LIVE_PASSWORD``; commissioners and admins get a TOTP secret (``live_totp(user)``).
- ``page``: a Playwright page in a new browser context whose ``base_url`` is the live server.
  Console errors (including Content Security Policy refusals and missing files, but not
  the 400/401/403/429 pages a test asks for) are collected in ``page.console_errors``.
  When a test fails, a full-page screenshot is saved in ``test-artifacts/``.
- ``axe(page)``: runs axe-core on the page and fails on any serious or critical violation.

Mark every browser test with ``@pytest.mark.browser``.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import BaseWSGIServer, make_server

from models.accounts import Council, Role, User
from models.db import upgrade
from models.people import PersonProfile
from models.providers import Provider, ProviderMember
from web import create_app
from web.db import session_scope
from web.services.accounts import create_user

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# How long a page action (click, fill, goto) and an expect() may wait for its condition.
ACTION_TIMEOUT_MS = 30_000
EXPECT_TIMEOUT_MS = 20_000
LIVE_PASSWORD = "browser tests passphrase"
# Chromium logs every 4xx page as a console error; refusals a test provokes on purpose (wrong
# password 401, invalid form 400, forbidden 403, too many tries 429) are not script problems.
_EXPECTED_REFUSAL = re.compile(r"Failed to load resource: .* status of (400|401|403|429)\b")


@dataclass
class LiveServer:
    app: Flask
    server: BaseWSGIServer
    url: str


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("live")
    database_url = f"sqlite:///{folder / 'tapestry.sqlite'}"
    upgrade(database_url)
    app = create_app(
        {
            "SECRET_KEY": "browser test secret key",
            "INSTANCE_PATH": str(folder / "instance"),
            "DATABASE_URL": database_url,
            "AUTO_UPGRADE_DB": False,
            # Plain http on 127.0.0.1: a Secure cookie would not be sent back.
            "SESSION_COOKIE_SECURE": False,
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app=app, server=server, url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def make_live_user(live_server: LiveServer) -> Callable[..., User]:
    counter = iter(range(1, 1_000_000))

    def build(role: Role = Role.person, display_name: str | None = None, **fields: Any) -> User:
        number = next(counter)
        if role in (Role.commissioner, Role.admin):
            fields.setdefault("totp_secret", pyotp.random_base32())
        with session_scope(live_server.app) as session:
            council = session.scalars(select(Council).where(Council.slug == "riverford")).first()
            if council is None:
                council = Council(name="Riverford Council", slug="riverford", areas=["north"])
                session.add(council)
                session.flush()
            user = create_user(
                session,
                email=f"{role.value}{number}-{secrets.token_hex(3)}@example.org",
                display_name=display_name or f"{role.value.title()} Tester {number}",
                role=role,
                password=LIVE_PASSWORD,
                council_id=council.id,
                totp_secret=fields.get("totp_secret"),
            )
            if role is Role.person:
                session.add(
                    PersonProfile(
                        user=user,
                        display_name=user.display_name,
                        area="north",
                        need_level=2,
                        aspirations_text="I want to learn to cook and make friends.",
                        availability={"mon": ["morning"]},
                    )
                )
            elif role is Role.provider:
                provider = Provider(
                    council=council,
                    name=f"Harbour Works {number}",
                    slug=f"harbour-works-{number}-{secrets.token_hex(3)}",
                    areas_served=["north"],
                )
                session.add(ProviderMember(provider=provider, user=user))
            session.commit()
            return user

    return build


def live_totp(user: User) -> str:
    assert user.totp_secret
    return pyotp.TOTP(user.totp_secret).now()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    # Playwright waits for each condition and goes on as soon as it holds; these are only how
    # long it waits before calling a test failed. Its own 5 s for expect() was too short on a
    # busy machine (two test workers and a solver on two cores), where pages and password
    # checks can take several seconds.
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (./scripts/install --test)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def page(chromium: Any, live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = chromium.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    browser_page = context.new_page()
    browser_page.console_errors = []
    browser_page.on(
        "console",
        lambda message: (
            browser_page.console_errors.append(message.text)
            if message.type == "error" and not _EXPECTED_REFUSAL.search(message.text)
            else None
        ),
    )
    browser_page.on("pageerror", lambda error: browser_page.console_errors.append(str(error)))
    try:
        yield browser_page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
            try:
                browser_page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            except Exception as error:  # noqa: BLE001 - the test's own failure matters more
                print(f"could not save a screenshot: {error}")
        context.close()


def _describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        targets = [", ".join(node.get("target", [])) for node in violation.get("nodes", [])]
        lines.append(
            f"{violation['impact']}: {violation['id']} - {violation['help']} "
            f"({violation.get('helpUrl', '')}) at {'; '.join(targets[:5])}"
        )
    return "\n".join(lines)


@pytest.fixture
def axe() -> Callable[[Any], list[dict[str, Any]]]:
    """Run axe-core on a page; fail on any violation, whatever its impact (issue 11)."""
    from axe_playwright_python.sync_playwright import Axe

    checker = Axe()

    def check(browser_page: Any) -> list[dict[str, Any]]:
        # A click that submits a form returns before the new page has loaded; check the
        # page the user will see, not one half parsed.
        browser_page.wait_for_load_state("load")
        results = checker.run(browser_page)
        violations = results.response.get("violations", [])
        found = _describe(violations)
        assert not violations, f"axe found problems on {browser_page.url}:\n{found}"
        return violations

    return check
