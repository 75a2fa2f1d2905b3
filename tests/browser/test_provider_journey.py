"""The provider journey in a real browser: organisation profile, a service added with errors
shown beside each field, published, its places changed, demand seen, then withdrawn; axe-core
on each main page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models.accounts import Role
from models.people import OutcomeTag, PersonProfile
from tests.browser.conftest import LIVE_PASSWORD
from web.db import session_scope

pytestmark = pytest.mark.browser


def sign_in(page: Any, email: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(LIVE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def add_tags(live_server: Any, person_user_id: int) -> None:
    """Two outcomes in the taxonomy; the person in the north wants to cook (nobody offers it)."""
    with session_scope(live_server.app) as session:
        tags = {}
        for slug, label in [("paid-work", "Getting a paid job"), ("cooking", "Learning to cook")]:
            tag = session.scalars(select(OutcomeTag).where(OutcomeTag.slug == slug)).first()
            if tag is None:
                tag = OutcomeTag(slug=slug, label=label)
                session.add(tag)
            tags[slug] = tag
        person = session.scalars(
            select(PersonProfile).where(PersonProfile.user_id == person_user_id)
        ).one()
        person.outcome_tags = [tags["cooking"]]
        session.commit()


def test_provider_publishes_changes_places_and_withdraws(page, live_server, make_live_user, axe):
    provider_user = make_live_user(Role.provider, display_name="Harbour team")
    add_tags(live_server, make_live_user(Role.person).id)

    sign_in(page, provider_user.email)
    page.wait_for_url("**/provider/")
    assert page.get_by_role("heading", level=1).inner_text() == "Your services"
    axe(page)

    # The organisation's details.
    page.get_by_role("link", name="Organisation").click()
    page.wait_for_url("**/provider/organisation")
    axe(page)
    page.get_by_label("What your organisation does").fill("Workshops and training by the sea.")
    page.get_by_label("Email address for people to write to").fill("hello@harbour.example.org")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your organisation's details are saved")).to_be_visible()

    # A new service, one question a page: a mistake is shown beside its field and in the
    # summary; every page, the check page too, is axe-clean.
    page.get_by_role("link", name="Your services").click()
    page.get_by_role("button", name="Add a service").click()
    page.wait_for_url("**/provider/offers/new")
    axe(page)
    page.get_by_role("button", name="Start now").click()
    page.wait_for_url("**/name")
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a name for the service")
    axe(page)
    page.get_by_label("Name of the service").fill("Cafe skills")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("What people do there").fill("Learn to make coffee and serve.")
    page.get_by_role("button", name="Continue").click()
    axe(page)
    page.get_by_label("Training").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Getting a paid job").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Price of one place").fill("12.345")
    page.get_by_role("button", name="Continue").click()
    assert (
        page.locator("#price-error")
        .inner_text()
        .endswith("Enter the price in pounds and pence, like 45 or 12.50")
    )
    axe(page)
    page.get_by_label("Price of one place").fill("45.50")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Number of places").fill("-1")
    page.get_by_role("button", name="Continue").click()
    assert "0 or more" in page.locator("#capacity-error").inner_text()
    page.get_by_label("Number of places").fill("6")
    page.get_by_role("button", name="Continue").click()
    # Areas, address, who, when, access, languages: each page, as it comes.
    for _ in range(6):
        axe(page)
        page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/check")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your answers")
    axe(page)
    # Change the price from the check page, and come back to it.
    page.get_by_role("link", name="Change price of one place").click()
    page.get_by_label("Price of one place").fill("45.50")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/check")
    page.get_by_role("button", name="Save as a draft").click()
    page.wait_for_url(re.compile(r".*/provider/offers/\d+$"))
    expect(page.get_by_text("is saved as a draft")).to_be_visible()
    axe(page)

    page.get_by_role("button", name="Publish this service").click()
    expect(page.get_by_text("People can now see it")).to_be_visible()
    offers = page.request.get("/api/v1/offers?q=Cafe").json()["items"]
    assert [(o["name"], o["price_pence"]) for o in offers] == [("Cafe skills", 4550)]

    # Change the number of places.
    page.get_by_role("link", name="Change the number of places").click()
    axe(page)
    page.get_by_label("How many places are there?").fill("3")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/provider/")
    expect(page.get_by_text("now has 3 places")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Cafe skills")
    assert "£45.50" in row.inner_text() and "Published" in row.inner_text()

    # Demand, placements and feedback.
    page.get_by_role("link", name="Demand").click()
    page.wait_for_url("**/provider/demand")
    unmet = page.get_by_role("row").filter(has_text="Learning to cook")
    assert "north" in unmet.inner_text()
    axe(page)
    page.get_by_role("link", name="Placements").click()
    expect(page.get_by_text("write to the council")).to_be_visible()
    axe(page)
    page.get_by_role("link", name="Feedback").click()
    expect(page.get_by_text("Nobody has rated your services yet")).to_be_visible()
    axe(page)

    # Withdraw it: people cannot see it any more.
    page.get_by_role("link", name="Your services").click()
    page.get_by_role("link", name="Cafe skills", exact=True).click()
    page.get_by_role("button", name="Withdraw this service").click()
    expect(page.get_by_text("People cannot see it now")).to_be_visible()
    assert page.request.get("/api/v1/offers?q=Cafe").json()["items"] == []
    assert page.console_errors == []
