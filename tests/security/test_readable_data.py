"""A person's data in plain English: a page and a printable document (defect 10)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask

from tests.security.world import World
from web.services.readable_data import money, plain_value


def test_the_readable_copy_says_what_we_keep_in_words(
    app: Flask, world: World, login: Callable[..., Any]
) -> None:
    client = app.test_client()
    login(client, world.users["person_a"])
    hub = client.get("/person/my-data/").get_data(as_text=True)
    assert "/person/my-data/read" in hub and "/person/my-data/print" in hub
    assert "/person/my-data/download" in hub  # the JSON is still beside it

    page = client.get("/person/my-data/read")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    for heading in ("Your account", "About you", "Your places", "Your ideas", "Who can help you"):
        assert f">{heading}</h2>" in html, heading
    assert "Aspiration-of-Ariadne: to bake bread" in html
    assert "Xylophone-Club" in html  # a service by its name, not its number
    assert "Proposal-of-Ariadne" in html
    # No raw tables: no audit hashes, no column names, no true or false.
    assert not re.search(r"\b[0-9a-f]{64}\b", html)
    for raw in ("person_profiles", "offer_id", "created_at", ">True<", ">False<"):
        assert raw not in html, raw
    assert "Bartholomew" not in html  # only this person's data

    printable = client.get("/person/my-data/print")
    assert printable.status_code == 200
    doc = printable.get_data(as_text=True)
    assert "css/my-data.css" in doc and "Print" in doc
    assert "govuk-template__header" not in doc  # a plain document, no site menus
    assert "Aspiration-of-Ariadne: to bake bread" in doc


def test_values_are_put_in_words() -> None:
    assert money(11000) == "£110"
    assert money(1234567) == "£12,345.67"
    assert plain_value("can_view", True, {}) == "Yes"
    assert plain_value("offer_id", 7, {"7": "Swimming"}) == "Swimming"
    assert plain_value("decided_at", "2026-12-03T14:05:00+00:00", {}) == "3 December 2026 at 14:05"
    assert plain_value("status", "not_placed", {}) == "not placed"


def test_the_readable_copy_is_for_the_person_signed_in_only(client: Any) -> None:
    for path in ("/person/my-data/read", "/person/my-data/print"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/sign-in" in answer.headers["Location"]
