"""Defect 8 of issue 11: "Stop acting for…" was in a small serif font and "Sign out" was black.
Buttons drawn as links must look like the links beside them: the GOV.UK font, link blue."""

from __future__ import annotations

from typing import Any

import pytest

from models import Consent, ConsentStatus, PersonProfile
from models.accounts import Role
from models.base import utcnow
from tests.browser.conftest import LIVE_PASSWORD
from web.db import session_scope

pytestmark = pytest.mark.browser

LINK_BLUE = "rgb(26, 101, 166)"


def _style(page: Any, name: str) -> dict[str, str]:
    return page.get_by_role("button", name=name).evaluate(
        "b => { const s = getComputedStyle(b); "
        "return {font: s.fontFamily, size: s.fontSize, colour: s.color}; }"
    )


def test_sign_out_and_stop_acting_look_like_links(page, make_live_user, live_server) -> None:
    sam = make_live_user(Role.person, display_name="Sam Patel")
    priya = make_live_user(Role.advocate, display_name="Priya Shah")
    with session_scope(live_server.app) as session:
        profile = session.query(PersonProfile).filter_by(user_id=sam.id).one()
        session.add(Consent(person=profile, advocate_id=priya.id, status=ConsentStatus.granted,
                            can_view=True, granted_at=utcnow()))  # fmt: skip
        session.commit()
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(priya.email)
    page.get_by_label("Password", exact=True).fill(LIVE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/advocate/")
    menu_link = page.get_by_role("link", name="Your account").evaluate(
        "a => getComputedStyle(a).fontFamily"
    )
    sign_out = _style(page, "Sign out")
    assert sign_out["font"] == menu_link and "GDS Transport" in sign_out["font"]
    assert sign_out["colour"] == LINK_BLUE
    page.get_by_role("button", name="Act for Sam Patel").first.click()
    stop = _style(page, "Stop acting for Sam Patel")
    assert "GDS Transport" in stop["font"] and "serif" not in stop["font"].replace("sans-serif", "")
    assert stop["colour"] == LINK_BLUE
    body = page.locator(".app-acting-for p").evaluate("p => getComputedStyle(p).fontSize")
    assert stop["size"] == body  # not smaller than the words beside it
