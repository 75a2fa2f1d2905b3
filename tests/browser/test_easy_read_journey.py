"""Issue 13: the person's journey once in Easy Read, in headless Chromium on the Westmere demo.

Sam switches Easy Read on from the top of the page (a form: no JavaScript needed), then goes
through every journey page in Easy Read, with axe on each: About me (a mistake, then saved),
Matched for you (adds a choice), My choices (moves it), My place (the reasons in Easy Read
words), Ideas (supports one), Who can help me and My data; reads two of them in Welsh; then
switches it off again. Every picture loads and has its alt text.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer
from tests.browser.test_person_journey import sign_in
from web.db import session_scope
from web.services.demo import build_demo

pytestmark = pytest.mark.browser


def check_easy_read(page: Any, axe: Any) -> None:
    """The page is in Easy Read, each picture drawn and named, and axe finds nothing."""
    expect(page.locator(".app-easy-read")).to_have_count(1)
    pictures = page.locator("img.app-er-line__picture")
    assert pictures.count() >= 2
    for i in range(pictures.count()):
        picture = pictures.nth(i)
        assert (picture.get_attribute("alt") or "").strip()
        assert picture.evaluate("img => img.complete && img.naturalWidth > 0")
    # Larger type than the usual pages (19px): Easy Read lines are 24px.
    size = page.locator(".app-er-line__text").first.evaluate(
        "el => parseFloat(getComputedStyle(el).fontSize)"
    )
    assert size >= 24
    axe(page)


def test_person_journey_in_easy_read(page: Any, live_server: LiveServer, axe: Any) -> None:
    with session_scope(live_server.app) as s:
        build_demo(s, persons=40)
        s.commit()
    sign_in(page)
    expect(page.locator(".app-easy-read")).to_have_count(0)
    switch = page.get_by_role("region", name="Easy Read")
    switch.get_by_role("button", name="Switch Easy Read on").click()
    page.wait_for_url("**/person/")
    expect(page.get_by_text("Easy Read is on.")).to_be_visible()
    assert page.get_by_role("heading", level=1).inner_text() == "Hello, Sam Taylor"
    check_easy_read(page, axe)

    # About me: a mistake is shown beside the field and at the top, then it is saved.
    page.get_by_role("link", name="About me").first.click()
    page.wait_for_url("**/person/about-me")
    check_easy_read(page, axe)
    page.get_by_label("How far I can go").fill("very far")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_title(re.compile("^Error: About me"))
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    expect(page.locator("#max_travel_miles-error")).to_be_visible()
    check_easy_read(page, axe)
    page.get_by_label("How far I can go").fill("10")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("We have saved your changes.")).to_be_visible()
    expect(page.get_by_label("How far I can go")).to_have_value("10")

    # Matched for you: add the best match to the choices.
    page.get_by_role("link", name="Matched for you").first.click()
    page.wait_for_url("**/person/matches")
    check_easy_read(page, axe)
    best = page.locator(".app-offer").first
    title = best.get_by_role("heading", level=2).inner_text()
    best.get_by_role("button", name=re.compile("^Add to my choices")).click()
    page.wait_for_url("**/person/choices")
    expect(page.get_by_text("We have added it to your choices.")).to_be_visible()

    # My choices: the same buttons move it up.
    check_easy_read(page, axe)
    choices = page.locator("li.app-offer")
    assert title in choices.last.inner_text()
    if choices.count() > 1:
        page.get_by_role("button", name=re.compile(rf"^Move up\s*: {re.escape(title)}")).click()
        expect(page.get_by_text("We have changed the order of your choices.")).to_be_visible()

    # My place: the places and their reasons, in Easy Read words.
    page.get_by_role("link", name="My place").first.click()
    page.wait_for_url("**/person/place")
    check_easy_read(page, axe)
    expect(page.get_by_role("heading", level=1)).to_have_text("My place")

    # Ideas: say you like someone else's.
    page.get_by_role("link", name="Ideas").first.click()
    page.wait_for_url("**/person/ideas")
    check_easy_read(page, axe)
    page.get_by_role(
        "button", name=re.compile(r"^I like it too\s*: Swimming club for adults")
    ).click()
    expect(page.get_by_text("You support this idea.")).to_be_visible()

    # Who can help me, and My data, from the home page.
    page.get_by_role("link", name="Home").first.click()
    page.get_by_role("link", name="Who can help me").click()
    page.wait_for_url("**/person/who-can-help-me")
    check_easy_read(page, axe)
    page.get_by_role("link", name="Home").first.click()
    page.get_by_role("link", name="My data").click()
    page.wait_for_url("**/person/my-data/")
    check_easy_read(page, axe)

    # In Welsh too: the same Easy Read page, its words and pictures' alt text in Welsh.
    page.get_by_role("navigation", name="Choose a language").get_by_role(
        "link", name="Cymraeg"
    ).click()
    page.wait_for_url("**/person/my-data/")
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    expect(page.get_by_role("heading", level=1)).to_have_text("Fy nata")
    check_easy_read(page, axe)
    assert page.locator("img.app-er-line__picture").first.get_attribute("alt") == "Ffolder"
    page.goto("/person/place")
    expect(page).to_have_title("Fy lle - Tapestry")
    check_easy_read(page, axe)
    page.get_by_role("navigation", name="Dewis iaith").get_by_role("link", name="English").click()
    page.goto("/person/my-data/")

    # Off again, from the same place at the top, and back on the same page.
    page.get_by_role("region", name="Easy Read").get_by_role(
        "button", name="Switch Easy Read off"
    ).click()
    page.wait_for_url("**/person/my-data/")
    expect(page.get_by_text("Easy Read is off.")).to_be_visible()
    expect(page.locator(".app-easy-read")).to_have_count(0)
    axe(page)
    assert page.console_errors == []
