"""The advocate journey in a real browser: ask, the person says yes, act for them under the
banner, the person sees the change and stops it; axe-core on each main page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from models.accounts import Role
from tests.browser.conftest import ACTION_TIMEOUT_MS, LIVE_PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def person_page(chromium: Any, live_server: Any) -> Iterator[Any]:
    """A second browser, for the person, beside the advocate's ``page``."""
    context = chromium.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Any, email: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(LIVE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_advocate_asks_acts_and_is_stopped(page, person_page, make_live_user, axe):
    sam = make_live_user(Role.person, display_name="Sam Patel")
    priya = make_live_user(Role.advocate, display_name="Priya Shah")

    # The advocate asks Sam for consent; what is not an address is explained beside the field.
    sign_in(page, priya.email)
    page.wait_for_url("**/advocate/")
    assert page.get_by_role("heading", level=1).inner_text() == "Your caseload"
    axe(page)
    page.get_by_role("link", name="Ask to help someone").first.click()
    page.wait_for_url("**/advocate/ask")
    axe(page)
    page.get_by_label("The person’s email address or reference").fill("Sam Patel")
    page.get_by_role("button", name="Send the request").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    axe(page)
    page.get_by_label("The person’s email address or reference").fill(sam.email)
    page.get_by_label("Change their About me, their choices, ratings and ideas").check()
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url("**/advocate/")
    # The answer does not say whether Sam has an account, nor Sam's name.
    expect(page.get_by_text("If someone in your council has that email address")).to_be_visible()
    expect(page.get_by_text("Sam Patel")).to_have_count(0)

    # Sam finds the request from the home page and says yes.
    sign_in(person_page, sam.email)
    person_page.wait_for_url("**/person/")
    person_page.get_by_role("link", name="Who can help me").click()
    person_page.wait_for_url("**/person/who-can-help-me")
    expect(person_page.get_by_text("Priya Shah asks to help you")).to_be_visible()
    axe(person_page)
    person_page.get_by_role("button", name="Yes, they can help me").click()
    expect(person_page.get_by_text("Priya Shah can now help you")).to_be_visible()

    # The advocate acts for Sam: the banner says so, and About me can be changed.
    page.goto("/advocate/")
    page.get_by_role("button", name="Act for Sam Patel").click()
    page.wait_for_url("**/advocate/acting/")
    banner = page.get_by_role("region", name="Acting for")
    assert "You are acting for Sam Patel" in banner.inner_text()
    axe(page)
    page.get_by_role("link", name="About me").first.click()
    page.wait_for_url("**/advocate/acting/about-me")
    expect(banner).to_be_visible()
    axe(page)
    page.get_by_label("What I want from life, in my own words").fill(
        "Sam wants to learn to bake bread."
    )
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("We have saved your changes")).to_be_visible()

    # Sam sees who changed what, then stops the advocate helping.
    person_page.goto("/person/changes-made-for-you")
    changes = person_page.get_by_role("table", name="Changes made for you")
    row = changes.get_by_role("row").filter(has_text="Priya Shah")
    assert "Changed your About me" in row.inner_text()
    reads = person_page.get_by_role("table", name="When someone looked at your needs")
    expect(reads).to_contain_text("Looked at your needs")
    axe(person_page)
    person_page.goto("/person/who-can-help-me")
    person_page.get_by_role("button", name="Stop Priya Shah helping me").click()
    expect(person_page.get_by_role("heading", level=1)).to_have_text(
        "Are you sure you want to stop Priya Shah helping you?"
    )
    axe(person_page)
    person_page.get_by_role("button", name="Yes, stop Priya Shah helping me").click()
    expect(person_page.get_by_text("Priya Shah cannot help you any more")).to_be_visible()

    # The advocate's very next request is turned away, saying why.
    page.goto("/advocate/acting/about-me")
    expect(page.get_by_text("This person no longer lets you help them.")).to_be_visible()
    expect(page.get_by_text("Nobody has said yes yet")).to_be_visible()
    assert page.console_errors == []
