"""The whole person journey in headless Chromium, on the Westmere demo, with axe-core checks.

Sam (the demo's person) signs in, changes "About me", looks at the offers matched for them,
searches, ranks choices with the buttons (no JavaScript needed), says yes to a place the council
offered, rates the place they had last time, suggests an idea and supports another.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import delete, select, update

from models import (
    Allocation,
    AllocationStatus,
    Budget,
    Choice,
    Offer,
    PersonProfile,
    Round,
    RoundOffer,
    RoundStatus,
    User,
)
from tests.browser.conftest import ACTION_TIMEOUT_MS, LiveServer
from web.db import session_scope
from web.services.demo import DEMO_PASSWORD, build_demo

pytestmark = pytest.mark.browser

SAM = "sam@westmere.example"


def offer_sam_a_place(live_server: LiveServer) -> str:
    """Offer Sam a place in the demo's published round, as publication would; its title."""
    with session_scope(live_server.app) as s:
        sam = s.scalars(select(PersonProfile).join(User, User.id == PersonProfile.user_id)
                        .where(User.email == SAM)).one()  # fmt: skip
        past = s.scalars(select(Round).where(Round.status == RoundStatus.published)).one()
        budget = s.scalars(
            select(Budget).where(Budget.round_id == past.id, Budget.person_id == sam.id)
        ).one()
        free = s.scalars(
            select(RoundOffer)
            .join(Offer, Offer.id == RoundOffer.offer_id)
            .where(
                RoundOffer.round_id == past.id,
                RoundOffer.places_taken < RoundOffer.places,
                Offer.price_pence <= budget.remaining_pence,
                Offer.title.like("%club%"),
            )
            .order_by(Offer.price_pence)
        ).first()
        assert free is not None
        s.execute(
            update(RoundOffer)
            .where(RoundOffer.id == free.id)
            .values(places_taken=RoundOffer.places_taken + 1)
        )
        s.add(
            Allocation(
                round_id=past.id,
                run_id=past.published_run_id,
                person_id=sam.id,
                offer_id=free.offer_id,
                rank=2,
                utility=80,
                price_pence=free.offer.price_pence,
                status=AllocationStatus.offered,
                explanation={
                    "summary": "A place came free and it was your choice number 2.",
                    "reasons": ["You could afford it and nobody ahead of you wanted it."],
                },
            )
        )
        title = free.offer.title
        s.commit()
        return title


def sign_in(page: Any) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(SAM)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/person/")


def test_person_journey(page: Any, live_server: LiveServer, axe: Any) -> None:
    with session_scope(live_server.app) as s:
        build_demo(s, persons=40)
        s.commit()
    new_place = offer_sam_a_place(live_server)

    sign_in(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Hello, Sam Taylor"
    expect(page.get_by_text("You can choose services in Spring 2027")).to_be_visible()
    axe(page)

    # About me: a mistake first, shown beside the field and at the top, then saved.
    page.get_by_role("link", name="About me").first.click()
    page.wait_for_url("**/person/about-me")
    axe(page)
    expect(page.get_by_text("Learning disability.")).to_be_visible()  # needs: read only
    page.get_by_label("How far I can travel").fill("very far")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_title(re.compile("^Error: About me"))
    summary = page.locator(".govuk-error-summary")
    expect(summary.get_by_role("link", name="How far you can travel must be")).to_be_visible()
    axe(page)
    page.get_by_label("How far I can travel").fill("15")
    page.get_by_label("Music and singing").check()
    page.get_by_label("What I want from life, in my own words").fill(
        "I want a job in a children's nursery. I also love singing."
    )
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("We have saved your changes.")).to_be_visible()
    expect(page.get_by_label("Music and singing")).to_be_checked()

    # Matched for you: the best match first, each with its reasons; add a nursery placement.
    page.get_by_role("link", name="Matched for you").first.click()
    page.wait_for_url("**/person/matches")
    axe(page)
    assert "This matches your wish" in page.locator(".app-offer").first.inner_text()
    nursery = page.locator(".app-offer").filter(has_text="Nursery assistant placement").first
    assert "This matches your wishes" in nursery.inner_text()
    nursery.get_by_role("button", name=re.compile("^Add to my choices")).click()
    page.wait_for_url("**/person/choices")
    expect(page.get_by_text("We have added it to your choices.")).to_be_visible()

    # Search every service with the GET form, open one, and add it.
    page.get_by_role("link", name="All services").first.click()
    page.get_by_label("Search words").fill("choir")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/person/services?*q=choir*")
    axe(page)
    page.get_by_role("link", name="Community choir").first.click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Community choir")
    axe(page)
    page.get_by_role("button", name="Add to my choices").click()
    page.wait_for_url("**/person/choices")

    # Rank: move the choir up to number 1, then remove the nursery placement.
    axe(page)
    choices = page.locator("li.app-offer")
    assert "Nursery assistant placement" in choices.nth(0).inner_text()
    page.get_by_role("button", name=re.compile(r"^Move up\s*: Community choir")).click()
    expect(page.get_by_text("We have changed the order of your choices.")).to_be_visible()
    assert "Community choir" in page.locator("li.app-offer").nth(0).inner_text()
    page.get_by_role("button", name=re.compile(r"^Remove\s*: Nursery assistant placement")).click()
    # The removal reloads the page: wait for the new list rather than reading the old one.
    expect(page.locator("li.app-offer")).to_have_count(1)

    # My place: say yes to the place offered, see why, and rate last time's place.
    page.get_by_role("link", name="My place").first.click()
    page.wait_for_url("**/person/place")
    axe(page)
    expect(page.get_by_text("A place came free and it was your choice number 2.")).to_be_visible()
    page.get_by_role(
        "link", name=re.compile(rf"^Say yes or no\s+to {re.escape(new_place)}")
    ).click()
    axe(page)
    page.get_by_role("button", name="Send my answer").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.locator("#answer-error")).to_be_visible()
    page.get_by_label("Yes, I want this place").check()
    page.get_by_role("button", name="Send my answer").click()
    page.wait_for_url("**/person/place")
    expect(page.get_by_text("You said yes. The place is yours.")).to_be_visible()
    page.get_by_role("link", name=re.compile(r"^Say how it went\s*: Travel training")).click()
    axe(page)
    page.get_by_label("5 - Really good").check()
    page.get_by_label("Tell us more (if you want to)").fill("I can get the bus on my own now.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Thank you. We have saved what you said.")).to_be_visible()

    # Ideas: suggest one (a mistake first), then support someone else's.
    page.get_by_role("link", name="Ideas").first.click()
    page.wait_for_url("**/person/ideas")
    axe(page)
    page.get_by_role("link", name="Suggest a new service").click()
    page.get_by_role("button", name="Send my idea").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    axe(page)
    page.get_by_label("A short name for your idea").fill("Karaoke night")
    page.get_by_label("Tell us about it").fill("Singing together on a Friday night.")
    page.get_by_role("button", name="Send my idea").click()
    expect(page.get_by_text("We have shared your idea with the council.")).to_be_visible()
    expect(page.get_by_role("heading", name="Karaoke night")).to_be_visible()
    page.get_by_role(
        "button", name=re.compile(r"^Support this idea\s*: Swimming club for adults")
    ).click()
    expect(page.get_by_text("You support this idea.")).to_be_visible()

    assert page.console_errors == []


def test_choosing_works_without_javascript(chromium: Any, live_server: LiveServer) -> None:
    with session_scope(live_server.app) as s:
        sam = s.scalars(select(User).where(User.email == SAM)).first()
        if sam is None:
            build_demo(s, persons=40)
        else:  # the journey above ran first on this server: start from no choices
            s.execute(delete(Choice).where(Choice.person_id == sam.person_profile.id))
        s.commit()
    context = chromium.new_context(
        base_url=live_server.url, locale="en-GB", java_script_enabled=False
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    try:
        sign_in(page)
        page.goto("/person/services?q=choir")
        page.get_by_role("button", name=re.compile(r"^Add to my choices")).first.click()
        page.wait_for_url("**/person/choices")
        page.goto("/person/services?q=nursery")
        page.get_by_role("button", name=re.compile(r"^Add to my choices")).first.click()
        page.wait_for_url("**/person/choices")
        titles = page.locator("li.app-offer h2 a")
        before = titles.all_inner_texts()
        assert len(before) == 2
        page.get_by_role("button", name=re.compile(r"^Move up")).first.click()
        expect(page.get_by_text("We have changed the order of your choices.")).to_be_visible()
        expect(titles).to_have_text(list(reversed(before)))
        page.get_by_role("button", name=re.compile(r"^Remove")).first.click()
        expect(page.get_by_text("We have removed it from your choices.")).to_be_visible()
    finally:
        context.close()
