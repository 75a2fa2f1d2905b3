"""The market position statement in headless Chromium, on the Westmere demo: found from the
start page, read as charts and tables, downloaded as CSV, with axe-core finding nothing."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer
from web.db import session_scope
from web.services.demo import build_demo

pytestmark = pytest.mark.browser


def test_anyone_reads_the_market_position_statement(
    page: Any, live_server: LiveServer, axe: Any
) -> None:
    with session_scope(live_server.app) as s:
        build_demo(s, persons=80)
        s.commit()

    page.goto("/")
    page.get_by_role("link", name="market position statement").click()
    page.wait_for_url("**/market")
    assert axe(page) == []  # not even a moderate or minor problem
    page.get_by_role("link", name="Westmere").first.click()
    page.wait_for_url("**/market/westmere")
    expect(page.get_by_role("heading", level=1)).to_have_text("Market position statement")
    assert axe(page) == []  # not even a moderate or minor problem

    # Each chart has a name a screen reader reads, and a table beside it with the figures.
    charts = page.get_by_role("img")
    assert charts.count() >= 5
    expect(page.get_by_role("img", name="Average price per place, by kind of service and area"))
    demand = page.get_by_role("table", name="Demand in each round, by kind of service and area")
    expect(demand).to_be_visible()
    expect(demand.get_by_role("columnheader", name="Left without a place")).to_be_visible()
    # Small groups are hidden, and the page says why.
    expect(page.locator("#privacy")).to_contain_text("fewer than 10 people")
    expect(demand.get_by_text("hidden").first).to_be_visible()

    # The contents list jumps to a section; the table downloads as CSV.
    page.get_by_role("link", name="Waiting lists and free places").click()
    expect(page.locator("#waiting")).to_be_in_viewport()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the waiting lists table (CSV)").click()
    assert download.value.suggested_filename == "westmere-market-waiting.csv"
    with open(download.value.path(), encoding="utf-8") as csv_file:
        header = csv_file.readline().strip()
    assert header.startswith("round_id,round,category,category_label,area,places")
    assert page.console_errors == []
