"""Issue 13: a person switches the site to Welsh from the header, without JavaScript's help,
and reads their pages in Welsh; axe finds nothing on the Welsh pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from models.accounts import Role
from tests.browser.conftest import LIVE_PASSWORD

pytestmark = pytest.mark.browser


def test_a_person_switches_to_welsh_and_back(page, make_live_user, axe):
    user = make_live_user(Role.person, display_name="Amina Jones")
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password", exact=True).fill(LIVE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/person/")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    switch = page.get_by_role("navigation", name="Choose a language")
    switch.get_by_role("link", name="Cymraeg").click()
    page.wait_for_url("**/person/")
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    assert page.get_by_role("heading", level=1).inner_text() == "Helo, Amina Jones"
    expect(page.get_by_text("Wedi mewngofnodi fel Amina Jones")).to_be_visible()
    axe(page)

    page.get_by_role("link", name="Fy lle").first.click()
    page.wait_for_url("**/person/place")
    expect(page).to_have_title("Fy lle - Tapestry")
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    axe(page)

    # The choice is the account's: it holds on the next page, and English comes back the same way.
    page.get_by_role("navigation", name="Dewis iaith").get_by_role("link", name="English").click()
    page.wait_for_url("**/person/place")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_title("My place - Tapestry")
    assert page.console_errors == []
