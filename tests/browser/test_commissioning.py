"""A whole commissioning round in headless Chromium, with axe-core on every main page.

The commissioner creates a round, sets its places, sets one budget by hand and imports the
rest from a CSV file, sets the policy with an equity rule and opens the round; two people rank
offers; the commissioner closes the round and runs the allocation (a worker beside the server
does the work while the page reloads itself), reads the results and their charts, and
publishes; a person accepts their place and the money moves; the council takes away the
other person's place, with a reason.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import (
    Budget,
    Commitment,
    Council,
    Offer,
    OfferCategory,
    OfferStatus,
    Provider,
    Role,
    Round,
    RoundStatus,
)
from models.base import utcnow
from tests.browser.conftest import LIVE_PASSWORD, LiveServer, live_totp
from web.db import session_scope
from web.worker import run_worker

pytestmark = pytest.mark.browser


@pytest.fixture
def worker(live_server: LiveServer) -> Iterator[None]:
    """The embedded job worker, beside the live server, on its database."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_worker,
        args=(live_server.app.config["DATABASE_URL"],),
        kwargs={"stop": stop, "poll_interval_s": 0.2, "worker_id": "browser-test-worker"},
        name="test-worker",
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=60)


def add_offers(live_server: LiveServer) -> dict[str, int]:
    with session_scope(live_server.app) as s:
        council = s.scalars(select(Council).where(Council.slug == "riverford")).one()
        provider = Provider(
            council=council, name="Riverside Arts", slug="riverside-arts", areas_served=["north"]
        )
        offers = {
            "Pottery club": Offer(
                provider=provider,
                title="Pottery club",
                description="Make pots and cups with a small, friendly group.",
                category=OfferCategory.creative,
                price_pence=10_000,
                capacity=1,
                area=None,
                location="Online",
                status=OfferStatus.published,
                published_at=utcnow(),
            ),
            "Cooking together": Offer(
                provider=provider,
                title="Cooking together",
                description="Learn to cook simple meals, then eat them together.",
                category=OfferCategory.social,
                price_pence=8_000,
                capacity=2,
                area=None,
                location="Online",
                status=OfferStatus.published,
                published_at=utcnow(),
            ),
        }
        s.add_all(offers.values())
        s.commit()
        return {title: offer.id for title, offer in offers.items()}


def sign_in(page: Any, email: str, totp: str | None = None) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(LIVE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if totp is not None:
        page.wait_for_url("**/sign-in/code")
        page.get_by_label("Code from your authenticator app").fill(totp)
        page.get_by_role("button", name="Continue").click()


def choose(page: Any, offer_ids: list[int]) -> None:
    for offer_id in offer_ids:
        page.goto(f"/person/services/{offer_id}")
        page.get_by_role("button", name="Add to my choices").click()
    page.goto("/person/choices")


def test_a_whole_round(
    page: Any, chromium: Any, live_server: LiveServer, make_live_user: Any, axe: Any, worker: None
) -> None:
    commissioner = make_live_user(Role.commissioner, "Ruth Okonjo")
    ann = make_live_user(Role.person, "Ann Lee")
    bob = make_live_user(Role.person, "Bob Hart")
    offers = add_offers(live_server)

    sign_in(page, commissioner.email, live_totp(commissioner))
    page.wait_for_url("**/commissioner/")
    axe(page)

    # Create a round, with one mistake first.
    page.get_by_role("button", name="Create a round").click()
    page.get_by_label("Pot (the most the round can spend)").fill("lots")
    page.get_by_role("button", name="Create the round").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    expect(page).to_have_title(re.compile(r"^Error: "))
    axe(page)
    page.get_by_label("Name of the round").fill("Spring 2027")
    page.get_by_label("Pot (the most the round can spend)").fill("1,000")
    page.get_by_role("button", name="Create the round").click()

    # Places.
    page.wait_for_url("**/places")
    axe(page)
    page.get_by_label("Places for Pottery club").fill("1")
    page.get_by_label("Places for Cooking together").fill("1")
    page.get_by_role("button", name="Save places").click()
    expect(page.get_by_text("Places are saved.")).to_be_visible()
    round_url = page.url

    # Budgets: Ann by hand, Bob from a CSV file (after a file with a wrong row).
    page.get_by_role("link", name="Budgets").click()
    page.get_by_label("Person").select_option(label=f"Ann Lee ({ann.email})")
    page.get_by_label("Budget for this round").fill("150")
    page.get_by_role("button", name="Save the budget").click()
    expect(page.get_by_text("The budget is saved.")).to_be_visible()
    axe(page)
    page.get_by_role("link", name="Import many budgets from a CSV file").click()
    axe(page)
    wrong = f"email,amount\n{bob.email},120\nnobody@example.org,50\n"
    page.get_by_label("CSV file").set_input_files(
        {"name": "budgets.csv", "mimeType": "text/csv", "buffer": wrong.encode()}
    )
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_text("No one in your council signs in with this email")).to_be_visible()
    expect(page.get_by_role("button", name="Import 2 budgets")).to_have_count(0)
    axe(page)
    right = f"email,amount\n{bob.email},120\n"
    page.get_by_label("CSV file").set_input_files(
        {"name": "budgets.csv", "mimeType": "text/csv", "buffer": right.encode()}
    )
    page.get_by_role("button", name="Check the file").click()
    page.get_by_role("button", name="Import 1 budget", exact=True).click()
    expect(page.get_by_text("1 budget was imported.")).to_be_visible()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(2)

    # Policy: welfare with an equity rule on area.
    page.get_by_role("link", name="Policy").click()
    page.get_by_label("Most good overall (welfare)").check()
    page.get_by_label("Time limit for the search").fill("5")
    page.get_by_label("Kind of rule").select_option("coverage_floor")
    page.get_by_label("About which groups").select_option("area")
    page.get_by_label("Share or gap").fill("50")
    page.get_by_role("button", name="Add the rule").click()
    expect(page.get_by_text("The rule is added.")).to_be_visible()
    expect(page.get_by_text("Every area group gets at least 50% placed")).to_be_visible()
    axe(page)

    # Open the round.
    page.goto(round_url.replace("/places", ""))
    page.get_by_role("button", name="Open the round for choices").click()
    expect(page.get_by_text("A message cannot be taken back once it is sent.")).to_be_visible()
    axe(page)
    page.get_by_role("button", name="Yes, open the round").click()
    expect(page.get_by_text("The round is open. People can now choose.")).to_be_visible()
    axe(page)

    # Two people choose: both want pottery first.
    for person, ranked in (
        (ann, [offers["Pottery club"], offers["Cooking together"]]),
        (bob, [offers["Pottery club"], offers["Cooking together"]]),
    ):
        context = chromium.new_context(base_url=live_server.url, locale="en-GB")
        person_page = context.new_page()
        try:
            sign_in(person_page, person.email)
            person_page.wait_for_url("**/person/")
            choose(person_page, ranked)
            expect(person_page.get_by_text("Pottery club").first).to_be_visible()
        finally:
            context.close()

    # Close, then run the allocation: the page reloads itself until the worker is done.
    page.reload()
    page.get_by_role("button", name="Close the round for choices").click()
    expect(page.get_by_role("heading", name="Are you sure you want to close")).to_be_visible()
    axe(page)
    page.get_by_role("button", name="Yes, close the round").click()
    expect(page.get_by_text("The round is closed for choices.")).to_be_visible()
    page.get_by_label("Name for this run (optional)").fill("First try")
    page.get_by_role("button", name="Run the allocation").click()
    expect(page.get_by_text("The allocation run has started.")).to_be_visible()
    expect(page.get_by_text("2 of 2 people get a place")).to_be_visible(timeout=90_000)
    axe(page)

    # Results: every chart is an image with a name, each beside its table.
    charts = page.locator("svg.app-chart[role=img]")
    assert charts.count() >= 6
    for i in range(charts.count()):
        labelled_by = charts.nth(i).get_attribute("aria-labelledby") or ""
        assert labelled_by and all(
            page.locator(f"#{ref}").count() == 1 for ref in labelled_by.split()
        )
    expect(page.get_by_role("img", name="Share of people placed by area")).to_be_visible()
    # One table per person attribute: area and need level (these people gave no age band).
    expect(page.get_by_role("table").filter(has_text="Share placed")).to_have_count(2)
    expect(page.get_by_role("link", name="Download the input (instance JSON)")).to_be_visible()

    # Each person's case: find Ann by name and see her place and choices, then come back.
    run_url = page.url
    page.get_by_role("link", name="Find a person and see why they got their place").click()
    page.get_by_label("Name or reference").fill("Ann")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name="Ann Lee", exact=True).click()
    expect(page.locator("#place")).to_contain_text("their choice number")
    expect(page.get_by_text("Got this place")).to_be_visible()
    axe(page)
    page.goto(run_url)

    page.get_by_role("button", name="Publish this allocation").click()
    expect(page.get_by_role("heading", name="Are you sure you want to publish")).to_be_visible()
    axe(page)
    page.get_by_role("button", name="Yes, publish it").click()
    expect(page.get_by_text("Published. 2 people have been offered a place.")).to_be_visible()
    with session_scope(live_server.app) as s:
        assert s.scalars(select(Round.status)).all() == [RoundStatus.published]

    # Ann accepts her place; the money moves from her budget to the provider.
    context = chromium.new_context(base_url=live_server.url, locale="en-GB")
    person_page = context.new_page()
    try:
        sign_in(person_page, ann.email)
        person_page.wait_for_url("**/person/")
        person_page.goto("/person/place")
        axe(person_page)
        person_page.get_by_role("link", name="Say yes or no").first.click()
        person_page.get_by_label("Yes, I want this place").check()
        person_page.get_by_role("button", name="Send my answer").click()
        expect(person_page.get_by_text("You said yes. The place is yours.")).to_be_visible()
        axe(person_page)
    finally:
        context.close()

    with session_scope(live_server.app) as s:
        commitment = s.scalars(select(Commitment)).one()
        budget = s.get(Budget, commitment.budget_id)
        assert budget is not None and budget.committed_pence == commitment.amount_pence

    page.get_by_role("link", name="See where the money went").click()
    expect(page.get_by_text("committed to providers")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Riverside Arts")).to_have_count(1)
    axe(page)

    # The council takes away the place still waiting for an answer, with a reason.
    page.get_by_role("link", name="Places held").click()
    expect(page.get_by_role("heading", name="Places people hold")).to_be_visible()
    axe(page)
    page.get_by_role("row").filter(has_text="Offered, no answer yet").get_by_role(
        "link", name=re.compile("Move or take away")
    ).click()
    axe(page)
    page.get_by_role("button", name="Continue").click()
    unchosen = page.get_by_text("Choose a service to move this place to, or take it away")
    expect(unchosen.first).to_be_visible()
    axe(page)
    page.get_by_label("Take the place away").check()
    page.get_by_label("Why?").fill("The provider has to close this group.")
    page.get_by_role("button", name="Continue").click()
    question = re.compile("Are you sure you want to take away")
    expect(page.get_by_role("heading", name=question)).to_be_visible()
    axe(page)
    page.get_by_role("button", name="Yes, take the place away").click()
    expect(page.get_by_text(re.compile("place is taken away"))).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Offered, no answer yet")).to_have_count(0)
    assert page.console_errors == []
