"""Issue 13: the person's journey once in Welsh, in headless Chromium on the Westmere demo.

Sam chooses Cymraeg on the account's Language page (a form that posts, redirects and gets),
then goes through the journey in Welsh with axe on every page: the home page, About me (a
mistake shown in Welsh, then saved), Matched for you (adds a choice), All services (a search
and a service's page), My choices (moves one), My place (says yes), Ideas (suggests one), Who
can help me and My data. Every page says ``lang="cy"`` and shows none of the English it
replaced.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer
from tests.browser.test_person_journey import offer_sam_a_place, sign_in
from web.db import session_scope
from web.services.demo import build_demo

pytestmark = pytest.mark.browser

#: The English each Welsh page must not show (menu, buttons and the words around the data).
ENGLISH = ("Sign out", "Matched for you", "My choices", "There is a problem", "Add to my choices")


def check_welsh(page: Any, axe: Any) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    text = page.locator("main").inner_text() + page.locator("header").inner_text()
    for english in ENGLISH:
        assert english not in text, (page.url, english)
    axe(page)


def test_person_journey_in_welsh(page: Any, live_server: LiveServer, axe: Any) -> None:
    with session_scope(live_server.app) as s:
        build_demo(s, persons=40)
        s.commit()
    new_place = offer_sam_a_place(live_server)
    sign_in(page)

    # The account's Language row: its own page, a form, then back to the account in Welsh.
    page.goto("/account")
    page.get_by_role("link", name=re.compile("^Change\\s+the language")).click()
    page.wait_for_url("**/account/language")
    axe(page)
    page.get_by_label("Cymraeg").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/account")
    expect(
        page.get_by_text("Wedi’i gadw. Bydd eich tudalennau a’ch negeseuon yn Cymraeg.")
    ).to_be_visible()
    check_welsh(page, axe)

    page.goto("/person/")
    assert page.get_by_role("heading", level=1).inner_text() == "Helo, Sam Taylor"
    expect(page.get_by_text("Gallwch ddewis gwasanaethau yn Spring 2027")).to_be_visible()
    check_welsh(page, axe)

    # About me: the mistake in Welsh, beside the field and at the top; then saved.
    page.get_by_role("link", name="Amdanaf i").first.click()
    page.wait_for_url("**/person/about-me")
    check_welsh(page, axe)
    page.get_by_label("Pa mor bell galla i deithio").fill("very far")
    page.get_by_role("button", name="Cadw").click()
    expect(page).to_have_title(re.compile("^Gwall: Amdanaf i"))
    summary = page.locator(".govuk-error-summary")
    expect(summary.get_by_text("Mae problem")).to_be_visible()
    expect(summary.get_by_role("link", name=re.compile("^Rhaid i ba mor bell"))).to_be_visible()
    check_welsh(page, axe)
    page.get_by_label("Pa mor bell galla i deithio").fill("15")
    page.get_by_role("button", name="Cadw").click()
    expect(page.get_by_text("Rydyn ni wedi cadw eich newidiadau.")).to_be_visible()

    # Matched for you: the reasons in Welsh; add the best match to the choices.
    page.get_by_role("link", name="Yn cyfateb i chi").first.click()
    page.wait_for_url("**/person/matches")
    check_welsh(page, axe)
    first = page.locator(".app-offer").first
    assert "Mae’n costio" in first.inner_text()
    first.get_by_role("button", name=re.compile("^Ychwanegu at fy newisiadau")).click()
    page.wait_for_url("**/person/choices")
    expect(page.get_by_text("Rydyn ni wedi’i ychwanegu at eich dewisiadau.")).to_be_visible()
    check_welsh(page, axe)

    # All services: a search, then a service's own page, added from there.
    page.get_by_role("link", name="Pob gwasanaeth").first.click()
    page.get_by_label("Geiriau chwilio").fill("choir")
    page.get_by_role("button", name="Chwilio").click()
    page.wait_for_url("**/person/services?*q=choir*")
    check_welsh(page, axe)
    page.get_by_role("link", name="Community choir").first.click()
    check_welsh(page, axe)
    expect(page.get_by_role("heading", name="Am y gwasanaeth hwn")).to_be_visible()
    page.get_by_role("button", name="Ychwanegu at fy newisiadau").click()
    page.wait_for_url("**/person/choices")

    # My choices: move the choir up.
    check_welsh(page, axe)
    page.get_by_role("button", name=re.compile(r"^Symud i fyny\s*: Community choir")).click()
    expect(page.get_by_text("Rydyn ni wedi newid trefn eich dewisiadau.")).to_be_visible()

    # My place: say yes to the place offered (a mistake first).
    page.get_by_role("link", name="Fy lle").first.click()
    page.wait_for_url("**/person/place")
    check_welsh(page, axe)
    page.get_by_role(
        "link", name=re.compile(rf"^Dweud ie neu na\s+i {re.escape(new_place)}")
    ).click()
    check_welsh(page, axe)
    page.get_by_role("button", name="Anfon fy ateb").click()
    expect(page).to_have_title(re.compile("^Gwall: "))
    expect(page.locator("#answer-error")).to_contain_text("Dewiswch ie neu na")
    page.get_by_label("Ydw, rydw i eisiau’r lle hwn").check()
    page.get_by_role("button", name="Anfon fy ateb").click()
    page.wait_for_url("**/person/place")
    expect(page.get_by_text("Dywedoch chi ie. Eich lle chi yw e.")).to_be_visible()

    # Ideas: suggest one, a mistake first.
    page.get_by_role("link", name="Syniadau").first.click()
    page.wait_for_url("**/person/ideas")
    check_welsh(page, axe)
    page.get_by_role("link", name="Awgrymu gwasanaeth newydd").click()
    page.get_by_role("button", name="Anfon fy syniad").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Rhowch enw byr i’ch syniad")
    check_welsh(page, axe)
    page.get_by_label("Enw byr i’ch syniad").fill("Noson garioci")
    page.get_by_label("Dywedwch wrthym amdano").fill("Canu gyda’n gilydd ar nos Wener.")
    page.get_by_role("button", name="Anfon fy syniad").click()
    expect(page.get_by_text("Rydyn ni wedi rhannu eich syniad gyda’r cyngor.")).to_be_visible()

    # Who can help me, and My data.
    page.goto("/person/who-can-help-me")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pwy all fy helpu")
    check_welsh(page, axe)
    page.goto("/person/my-data/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Fy nata")
    check_welsh(page, axe)

    assert page.console_errors == []
