"""Issue 13, "checked, not hoped": every page of the person's journey is measured with a
readability formula, in Easy Read and plain, and fails above its grade.

The formula is Flesch-Kincaid's US school grade (textstat), on the words a reader sees in the
page's main part: each heading, paragraph, list item, label, button and table cell counts as
one sentence (a heading has no full stop, but it is read as one). Easy Read must be at or
below grade 3 (a reader of about eight), plain pages at or below grade 5 (about ten), in the
states a person meets most: a round open for choosing, then places shared with reasons why
not, waiting lists, an idea and someone asking to help. On Easy Read pages no sentence is
longer than 15 words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser

import pytest
import textstat
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models import RoundStatus
from tests import factories
from tests.services.commissioning_world import CommissioningWorld, make_round, solved_run
from web.services import allocations

EASY_READ_GRADE = 3.0
PLAIN_GRADE = 5.0

JOURNEY = [
    "/person/",
    "/person/about-me",
    "/person/matches",
    "/person/choices",
    "/person/place",
    "/person/ideas",
    "/person/ideas/new",
    "/person/services/{cafe}",
    "/person/who-can-help-me",
    "/person/my-data/",
]

#: Elements whose words make one sentence each.
_BLOCKS = {
    "h1", "h2", "h3", "h4", "p", "li", "label", "legend", "button", "th", "td", "dt", "dd",
    "a", "strong", "div", "summary", "caption",
}  # fmt: skip


class _MainText(HTMLParser):
    """The text of ``<main>``, one sentence per block, without scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.skip = 0
        self.sentences: list[str] = []
        self.current: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "main":
            self.depth += 1
        if tag in ("script", "style"):
            self.skip += 1
        if tag in _BLOCKS:
            self._end()

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self._end()
        if tag in ("script", "style"):
            self.skip -= 1
        if tag == "main":
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth and not self.skip:
            self.current.append(data)

    def _end(self) -> None:
        text = " ".join(" ".join(self.current).split())
        self.current = []
        if text:
            self.sentences.append(text if text[-1] in ".?!:" else text + ".")


def sentences(html: str) -> list[str]:
    parser = _MainText()
    parser.feed(html)
    parser.close()
    return parser.sentences


def main_text(html: str) -> str:
    return " ".join(sentences(html))


def grade(text: str) -> float:
    return float(textstat.flesch_kincaid_grade(text))


def test_the_formula_tells_easy_words_from_hard_ones() -> None:
    assert grade("You chose this. It is near your home. We will tell you soon.") <= 1
    hard = (
        "Allocations are determined through an optimisation procedure that maximises aggregate "
        "welfare subject to capacity, budgetary and distributional constraints."
    )
    assert grade(hard) > 12
    html = "<main><h1>My place</h1><p>You got a place.</p><script>x = 1</script></main><p>No</p>"
    assert main_text(html) == "My place. You got a place."


@pytest.fixture
def choosing(db_session: Session) -> CommissioningWorld:
    """The round open for choosing, Ben with two choices, an idea and a request to help."""
    world = make_round(db_session, status=RoundStatus.open)
    ben = world.people["Ben"]
    ben.aspirations_text = "I want to cook."
    factories.ProposalFactory(council=world.council, proposer=world.people["Ada"])
    factories.ConsentFactory(person=ben, status="requested", granted_at=None)
    db_session.flush()
    return world


@pytest.fixture
def shared(db_session: Session, session_factory: Callable[[], Session]) -> CommissioningWorld:
    """The round's places shared: Ben has none (and reasons why, and waiting lists)."""
    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    db_session.flush()
    return world


def _pages(
    client: FlaskClient, login: Callable[..., object], world: CommissioningWorld, easy: bool
) -> Iterator[tuple[str, str]]:
    ben = world.people["Ben"]
    ben.easy_read = easy
    world.session.flush()
    login(client, ben.user)
    for path in JOURNEY:
        url = path.format(cafe=world.offers["cafe"].id)
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert ('class="app-easy-read"' in html) is easy, url
        if easy:
            # One idea a line: no sentence on an Easy Read page is longer than 15 words.
            long = [
                part
                for block in sentences(html)
                for part in re.split(r"(?<=[.?!])\s+", block)
                if len(part.split()) > 15
            ]
            assert long == [], url
        yield url, main_text(html)


@pytest.mark.parametrize("state", ["choosing", "shared"])
@pytest.mark.parametrize(("easy", "most"), [(True, EASY_READ_GRADE), (False, PLAIN_GRADE)])
def test_every_journey_page_is_at_or_below_its_grade(
    client: FlaskClient,
    login: Callable[..., object],
    request: pytest.FixtureRequest,
    state: str,
    easy: bool,
    most: float,
) -> None:
    world = request.getfixturevalue(state)
    too_hard = {}
    for url, text in _pages(client, login, world, easy):
        assert len(text.split()) >= 10, url  # the page has words to measure
        measured = grade(text)
        if measured > most:
            too_hard[url] = measured
    assert too_hard == {}, f"grade above {most}: {too_hard}"


def test_every_other_person_page_is_at_or_below_the_plain_grade(
    client: FlaskClient,
    login: Callable[..., object],
    choosing: CommissioningWorld,
) -> None:
    """The person pages with no Easy Read template of their own are plain in both modes."""
    world = choosing
    ben = world.people["Ben"]
    login(client, ben.user)
    pages = [
        "/person/services",
        "/person/changes-made-for-you",
        "/person/my-data/read",
        "/person/easy-read",
    ]
    too_hard = {}
    for easy in (False, True):
        ben.easy_read = easy
        world.session.flush()
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, url
            measured = grade(main_text(response.get_data(as_text=True)))
            if measured > PLAIN_GRADE:
                too_hard[(url, easy)] = measured
    assert too_hard == {}, f"grade above {PLAIN_GRADE}: {too_hard}"


def test_a_place_to_say_yes_or_no_to_is_at_or_below_each_grade(
    client: FlaskClient, login: Callable[..., object], shared: CommissioningWorld
) -> None:
    offered = [
        allocation
        for person in shared.people.values()
        for allocation in allocations.my_places(shared.session, person.user, person).allocations
        if allocation.status == "offered"
    ]
    assert offered, "someone has a place to say yes or no to"
    place = offered[0]
    person = next(p for p in shared.people.values() if p.id == place.person_id)
    login(client, person.user)
    for url in (f"/person/place/{place.id}", "/person/place"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert grade(main_text(response.get_data(as_text=True))) <= PLAIN_GRADE, url
    # The same person's place, waiting for an answer, in Easy Read.
    person.easy_read = True
    shared.session.flush()
    html = client.get("/person/place").get_data(as_text=True)
    assert 'class="app-easy-read"' in html and "Answer by" in html
    assert grade(main_text(html)) <= EASY_READ_GRADE
    html = client.get(f"/person/place/{place.id}").get_data(as_text=True)
    assert 'class="app-easy-read"' in html and 'name="answer"' in html
    assert grade(main_text(html)) <= EASY_READ_GRADE
