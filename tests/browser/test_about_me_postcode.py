"""About me's postcode in headless Chromium: a wrong one explained (axe clean), then distances."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer
from web.db import session_scope
from web.services.demo import DEMO_PASSWORD, build_demo

pytestmark = pytest.mark.browser


def test_a_person_gives_their_postcode_and_sees_distances(
    page: Any, live_server: LiveServer, axe: Any
) -> None:
    with session_scope(live_server.app) as s:
        build_demo(s, persons=20)
        s.commit()
    page.goto("/sign-in")
    page.get_by_label("Email address").fill("sam@westmere.example")
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/person/")

    page.goto("/person/about-me")
    page.get_by_label("My postcode").fill("WM2")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_title(re.compile("^Error: About me"))
    summary = page.locator(".govuk-error-summary")
    expect(summary.get_by_role("link", name="Enter a real postcode, like EX1 1AA")).to_be_visible()
    axe(page)

    page.get_by_label("My postcode").fill("wm2 3bq")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("We have saved your changes.")).to_be_visible()
    expect(page.get_by_label("My postcode")).to_have_value("WM2 3BQ")

    page.goto("/person/matches")
    text = page.locator("main").inner_text()
    assert re.search(r"(about \d+ miles?|less than a mile) away\.", text)
