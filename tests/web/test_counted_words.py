"""Defect 8 of issue 11: "1 places". Every count on a page goes through one helper,
``web.services.words.count`` (the ``count`` filter in templates)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from web.services.words import count, plural

WEB = Path(__file__).resolve().parents[2] / "web"
TEMPLATES = WEB / "templates"
_NOUNS = (
    r"(places|people|persons|services|offers|days|choices|numbers|budgets|rows|seconds|minutes"
    r"|hours|ideas|rounds|months|stars)\b"
)
#: A number drawn straight before a counted noun, an "s" added by hand, or a noun picked by
#: hand for one and for many (``'person' if n == 1 else 'people'``).
_BY_HAND = r"'s' if|\"s\" if|'\w+' if [\w.\[\]'\"]+ == 1 else '"
_BARE_COUNT = re.compile(r"}}\s*" + _NOUNS + "|" + _BY_HAND)
#: The same in a page's Python: an f-string's number straight before a plural noun.
_BARE_COUNT_PY = re.compile(r"\{[^{}]+\} " + _NOUNS + "|" + _BY_HAND)


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
        (30.0, "second", "30 seconds"),
        (1.0, "second", "1 second"),
        (2.5, "second", "2.5 seconds"),
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
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _BARE_COUNT.search(line):
                found.append(f"{name}:{number}: {line.strip()[:90]}")
    assert not found, "\n".join(found)


def test_no_page_counts_by_hand() -> None:
    """Flash messages and form errors made in the pages count through ``count`` too."""
    found = []
    for path in sorted((WEB / "pages").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _BARE_COUNT_PY.search(line):
                found.append(f"{path.relative_to(WEB)}:{number}: {line.strip()[:90]}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        "<p>It has {{ offer.capacity }} places.</p>",
        "{{ n }} {{ 'person' if n == 1 else 'people' }} rated it",
        "{{ n }} place{{ 's' if n != 1 }}",
    ],
)
def test_the_template_check_finds_a_count_by_hand(line: str) -> None:
    assert _BARE_COUNT.search(line)


def test_the_page_check_finds_a_count_by_hand() -> None:
    assert _BARE_COUNT_PY.search('flash(f"It now has {offer.capacity} places.")')
    assert not _BARE_COUNT_PY.search("flash(f\"It now has {count(offer.capacity, 'place')}.\")")
