"""Signing in and out in a real browser, with axe-core on each page on the way."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from models.accounts import Role
from tests.browser.conftest import LIVE_PASSWORD, live_totp

pytestmark = pytest.mark.browser


def _sign_in(page, email: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_person_signs_in_and_out(page, make_live_user, axe):
    user = make_live_user(Role.person, display_name="Sam Patel")

    page.goto("/")
    expect(page).to_have_title("Choose the support that is right for you - Tapestry")
    # GOV.UK Frontend's start-up script ran from its file, allowed by the CSP.
    expect(page.locator("body")).to_have_class(re.compile(r"\bgovuk-frontend-supported\b"))
    axe(page)
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url("**/sign-in")
    expect(page).to_have_title("Sign in - Tapestry")
    axe(page)
    _sign_in(page, user.email, "not my password")
    expect(page).to_have_title("Error: Sign in - Tapestry")
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    axe(page)

    _sign_in(page, user.email, LIVE_PASSWORD)
    page.wait_for_url("**/person/")
    assert page.get_by_role("heading", level=1).inner_text() == "Hello, Sam Patel"
    expect(page.get_by_text("Signed in as Sam Patel")).to_be_visible()
    axe(page)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(lambda url: url.endswith("/"))
    expect(page.get_by_text("You have signed out")).to_be_visible()
    page.goto("/person/")
    assert "/sign-in" in page.url
    assert page.console_errors == []  # no script errors and no CSP refusals


def test_a_commissioner_signs_in_with_a_one_time_code(page, make_live_user, axe):
    user = make_live_user(Role.commissioner)
    page.goto("/sign-in")
    _sign_in(page, user.email, LIVE_PASSWORD)
    page.wait_for_url("**/sign-in/code")
    axe(page)
    page.get_by_label("Code from your authenticator app").fill(live_totp(user))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/commissioner/")
    assert page.get_by_role("heading", level=1).inner_text() == "Commissioning"
    axe(page)
    assert page.console_errors == []


def test_pages_work_without_javascript(chromium, live_server, make_live_user):
    user = make_live_user(Role.advocate)
    context = chromium.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/sign-in")
        _sign_in(page, user.email, LIVE_PASSWORD)
        page.wait_for_url("**/advocate/")
        assert page.get_by_role("heading", level=1).inner_text() == "Your caseload"
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(lambda url: url.endswith("/"))
    finally:
        context.close()


def test_public_pages_pass_axe(page, axe):
    for path, title in [
        ("/accessibility", "Accessibility statement - Tapestry"),
        ("/cookies", "Cookies - Tapestry"),
        ("/api/v1/docs", "Tapestry API - Tapestry"),
        ("/no-such-page", "Page not found - Tapestry"),
    ]:
        page.goto(path)
        expect(page).to_have_title(title)
        axe(page)
    page.goto("/")
    page.get_by_role("link", name="Accessibility statement").click()
    page.wait_for_url("**/accessibility")


def test_changing_a_password_shows_errors_then_succeeds(page, make_live_user, axe):
    user = make_live_user(Role.provider)
    page.goto("/sign-in")
    _sign_in(page, user.email, LIVE_PASSWORD)
    page.wait_for_url("**/provider/")
    page.get_by_role("link", name="Your account").click()
    axe(page)
    page.get_by_role("link", name="Change your password").click()
    page.get_by_label("Current password", exact=True).fill(LIVE_PASSWORD)
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("Type your new password again").fill("short")
    page.get_by_role("button", name="Change password").click()
    expect(page).to_have_title("Error: Change your password - Tapestry")
    summary = page.locator(".govuk-error-summary")
    assert "at least 12 characters" in summary.inner_text()
    axe(page)
    page.get_by_label("Current password", exact=True).fill(LIVE_PASSWORD)
    page.get_by_label("New password", exact=True).fill("a much longer passphrase")
    page.get_by_label("Type your new password again").fill("a much longer passphrase")
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url("**/provider/")
    expect(page.get_by_text("Your password has been changed")).to_be_visible()
