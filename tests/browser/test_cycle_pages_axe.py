"""axe on the places-cycle pages no other browser journey visits (issue 11, target "axe: 0
violations on every page the browser tests visit"): a provider's placements, one placement,
money by month, when an offer runs and the directory import; a commissioner's answers and
re-offers and the directory import. Each is drawn from a published round in the live site."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from models import Allocation
from tests import factories
from tests.browser.conftest import LiveServer
from tests.factories import DEFAULT_PASSWORD
from tests.services.commissioning_world import make_round, solved_run
from web.db import database, session_scope
from web.services import allocations

pytestmark = pytest.mark.browser


def _sign_in(page: Any, email: str, totp: str | None = None) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if totp is not None:
        page.wait_for_url("**/sign-in/code")
        page.get_by_label("Code from your authenticator app").fill(totp)
        page.get_by_role("button", name="Continue").click()


def _published_round(live_server: LiveServer) -> dict[str, Any]:
    with session_scope(live_server.app) as s:
        factories.use_session(s)
        try:
            world = make_round(s, pot_pence=100_000)
            world.commissioner.totp_secret = pyotp.random_base32()
            run = solved_run(world, database(live_server.app).session_factory)
            allocations.publish_run(s, world.commissioner, world.round, run)
            ada = world.people["Ada"]
            place = s.scalars(select(Allocation).where(Allocation.person_id == ada.id)).first()
            allocations.accept_place(s, ada.user, ada, place.id)
            staff = factories.ProviderUserFactory(council=world.council)
            factories.ProviderMemberFactory(provider=place.offer.provider, user=staff)
            s.commit()
            return {
                "commissioner": world.commissioner.email,
                "secret": world.commissioner.totp_secret,
                "staff": staff.email,
                "round": world.round.id,
                "place": place.id,
                "offer": place.offer_id,
            }
        finally:
            factories.use_session(None)


def test_the_cycle_pages_have_no_axe_violations(
    page: Any, chromium: Any, live_server: LiveServer, axe: Any
) -> None:
    made = _published_round(live_server)
    _sign_in(page, made["staff"])
    page.wait_for_url("**/provider/")
    for path in (
        "/provider/placements",
        f"/provider/placements/{made['place']}",
        "/provider/money",
        f"/provider/offers/{made['offer']}/schedule",
        "/provider/directory/import",
    ):
        page.goto(path)
        assert page.get_by_role("heading", level=1).count() == 1, path
        axe(page)
    # An error on the placement form is drawn beside its field, and is still axe clean.
    page.goto(f"/provider/placements/{made['place']}")
    page.get_by_role("button", name="I cannot take them").click()
    page.wait_for_selector(".govuk-error-summary")
    axe(page)

    commissioner = chromium.new_context(base_url=live_server.url, locale="en-GB")
    try:
        other = commissioner.new_page()
        _sign_in(other, made["commissioner"], pyotp.TOTP(made["secret"]).now())
        other.wait_for_url("**/commissioner/")
        for path in (
            f"/commissioner/rounds/{made['round']}/cycle",
            "/commissioner/directory/import",
        ):
            other.goto(path)
            assert other.get_by_role("heading", level=1).count() == 1, path
            axe(other)
    finally:
        commissioner.close()
