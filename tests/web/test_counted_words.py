"""Defect 8 of issue 11: "1 places". Every count on a page goes through one helper,
``web.services.words.count`` (the ``count`` filter in templates)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from web.services.words import count, plural

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
#: A number drawn straight before a counted noun, or an "s" added by hand.
_BARE_COUNT = re.compile(
    r"}}\s*(places|people|persons|services|offers|days|choices|numbers|budgets|rows|minutes"
    r"|hours|ideas|rounds|months|stars)\b|'s' if|\"s\" if"
)
#: Files another change is editing now (helper R's offer pages); they are fixed with it.
PENDING = {"person/offer.html", "provider/offer_form.html"}


@pytest.mark.parametrize(
    ("n", "noun", "words"),
    [
        (1, "place", "1 place"),
        (0, "place", "0 places"),
        (2, "place", "2 places"),
        (1, "person", "1 person"),
        (3, "person", "3 people"),
        (1_200, "person", "1,200 people"),
        (2, "place is", "2 places are"),
        (1, "place is", "1 place is"),
        (2, "person has", "2 people have"),
        (4, "day left", "4 days left"),
        (2, "box", "2 boxes"),
    ],
)
def test_count_says_the_number_and_the_noun_in_agreement(n: int, noun: str, words: str) -> None:
    assert count(n, noun) == words


def test_a_plural_the_rule_gets_wrong_can_be_given() -> None:
    assert count(2, "more service fits", "more services fit") == "2 more services fit"
    assert count(1, "more service fits", "more services fit") == "1 more service fits"
    assert plural("child") == "children"


def test_templates_count_through_the_filter(app: Flask) -> None:
    with app.app_context():
        shown = app.jinja_env.from_string(
            "{{ 1 | count('place') }}; {{ 2 | count('place') }}; {{ 1 | count('person') }}"
        ).render()
    assert shown == "1 place; 2 places; 1 person"


def test_no_template_counts_by_hand() -> None:
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = path.relative_to(TEMPLATES).as_posix()
        if name in PENDING:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _BARE_COUNT.search(line):
                found.append(f"{name}:{number}: {line.strip()[:90]}")
    assert not found, "\n".join(found)
