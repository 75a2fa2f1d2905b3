"""A commissioner publishes the council's own service types from the dashboard, first with a
wrong file (each problem beside the file field), then a right one, and sees the tree; axe-core
checks each page. Everything works without JavaScript: the file is posted by the form."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from models import Role
from tests.browser.conftest import live_totp
from tests.browser.test_commissioning import sign_in

pytestmark = pytest.mark.browser

DOCUMENT = {
    "id": "riverford-support",
    "name": "Riverford support types",
    "description": "How Riverford lists its services.",
    "taxonomy_terms": [
        {"id": "out", "term": "getting-out", "name": "Getting out", "description": "Trips."},
        {"id": "bus", "term": "bus-buddies", "name": "Bus buddies", "parent_id": "out",
         "description": "Someone to travel with."},
    ],
}  # fmt: skip


def _file(document: Any) -> dict[str, Any]:
    return {
        "name": "support-types.json",
        "mimeType": "application/json",
        "buffer": json.dumps(document).encode(),
    }


def test_publish_the_councils_own_service_types(page: Any, make_live_user: Any, axe: Any) -> None:
    commissioner = make_live_user(Role.commissioner)
    sign_in(page, commissioner.email, live_totp(commissioner))
    page.wait_for_url("**/commissioner/")
    page.get_by_role("link", name=re.compile("Your council's own service types")).click()
    expect(
        page.get_by_text("You do not publish any service types of your own yet.")
    ).to_be_visible()
    axe(page)

    # A file with a mistake: nothing changes, and the problem is beside the field.
    wrong = json.loads(json.dumps(DOCUMENT))
    wrong["taxonomy_terms"][1]["parent_id"] = "nowhere"
    page.get_by_label("Taxonomy file").set_input_files(_file(wrong))
    page.get_by_role("button", name="Publish the file").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator(".govuk-error-summary")).to_contain_text("The file has 1 problem")
    expect(page.locator("#file-problems")).to_contain_text(
        "Term 2, its parent_id: The parent must be another term of the same taxonomy."
    )
    axe(page)

    # The right file: published, and shown as a tree.
    page.get_by_label("Taxonomy file").set_input_files(_file(DOCUMENT))
    page.get_by_role("button", name="Publish the file").click()
    expect(page.get_by_text("Riverford support types is published: 2 terms added.")).to_be_visible()
    expect(page.get_by_role("heading", name="Riverford support types")).to_be_visible()
    expect(page.locator("li li").get_by_text("Bus buddies")).to_be_visible()
    axe(page)
    assert not page.console_errors
