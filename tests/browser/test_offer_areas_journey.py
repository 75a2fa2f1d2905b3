"""A service in several areas, in a real browser: the provider picks a main area and ticks
others, a mistake is shown beside the field, the choice is kept when the page comes back, and
the public list finds the service by any of its areas; axe-core on each page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models.accounts import Role
from models.providers import Provider, ProviderMember
from tests.browser.conftest import LIVE_PASSWORD
from web.db import session_scope

pytestmark = pytest.mark.browser


def test_a_provider_offers_a_service_in_several_areas(
    page: Any, live_server: Any, make_live_user: Any, axe: Any
) -> None:
    user = make_live_user(Role.provider)
    with session_scope(live_server.app) as session:
        provider = session.scalars(
            select(Provider).join(ProviderMember).where(ProviderMember.user_id == user.id)
        ).one()
        provider.council.areas = sorted({*provider.council.areas, "north", "east", "south"})
        provider.areas_served = ["north", "east", "south"]
        session.commit()

    page.goto("/sign-in")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password", exact=True).fill(LIVE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/provider/")
    page.goto("/provider/offers/new")
    page.get_by_role("button", name="Start now").click()
    page.get_by_label("Name of the service").fill("Harbour walks")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("What people do there").fill("Walks by the sea with a guide.")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Meeting people").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Continue").click()  # what it helps with: none
    page.get_by_label("Price of one place").fill("12.50")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Number of places").fill("10")
    page.get_by_role("button", name="Continue").click()
    others = page.get_by_role("group", name=re.compile("Other areas it serves"))
    # Other areas without a main one: the mistake sits beside the field.
    others.get_by_label("east", exact=True).check()
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator("#other_areas-error")).to_contain_text("Choose the main area first")
    axe(page)
    # What was ticked is still ticked.
    expect(others.get_by_label("east", exact=True)).to_be_checked()

    page.get_by_label("Main area").select_option("north")
    others.get_by_label("south", exact=True).check()
    page.get_by_role("button", name="Continue").click()
    for _ in range(5):  # address, who, when, access, languages
        page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/check")
    expect(page.get_by_text("Also: east, south")).to_be_visible()
    page.get_by_role("button", name="Save as a draft").click()
    page.wait_for_url(re.compile(r".*/provider/offers/\d+$"))
    expect(page.get_by_text("is saved as a draft")).to_be_visible()
    axe(page)
    page.get_by_role("link", name="Change areas").click()
    others = page.get_by_role("group", name=re.compile("Other areas it serves"))
    expect(others.get_by_label("east", exact=True)).to_be_checked()
    expect(others.get_by_label("south", exact=True)).to_be_checked()
    page.get_by_role("link", name="Back", exact=True).click()
    page.get_by_role("button", name="Publish this service").click()
    expect(page.get_by_text("People can now see it")).to_be_visible()

    for area, found in (("north", True), ("south", True), ("east", True), ("west", False)):
        items = page.request.get(f"/api/v1/offers?q=Harbour+walks&area={area}").json()["items"]
        assert [o["name"] for o in items] == (["Harbour walks"] if found else []), area
    [offer] = page.request.get("/api/v1/offers?q=Harbour+walks").json()["items"]
    assert (offer["area"], offer["other_areas"]) == ("north", ["east", "south"])
