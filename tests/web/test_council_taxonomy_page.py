"""The commissioner's page for the council's own service types (Open Referral taxonomies):
see what is published, publish a file, replace it; a wrong file is explained beside the file
field and changes nothing."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import CouncilTaxonomy, CouncilTaxonomyTerm, Role, User
from tests import factories
from tests.web.conftest import csrf_token
from web.services.openreferral_taxonomies import problem_place

URL = "/commissioner/taxonomies"
_FORM_TOKEN = re.compile(r'name="form_token"[^>]*value="([^"]+)"')


def _document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": "transport",
        "name": "Westmere transport",
        "description": "How people get to a service.",
        "version": "2026-1",
        "taxonomy_terms": [
            {"id": "bus", "name": "By bus", "description": "On a bus route.", "term": "bus"},
            {"id": "train", "name": "By train", "description": "Near a station.", "term": "train"},
            {
                "id": "dial",
                "name": "Dial-a-ride",
                "description": "The council's minibus.",
                "term": "dial-a-ride",
                "parent_id": "bus",
            },
        ],
    }
    document.update(changes)
    return document


def _post(client: FlaskClient, content: bytes | None, name: str = "types.json") -> Any:
    page = client.get(URL)
    fields: dict[str, Any] = {"csrf_token": csrf_token(page)}
    if token := _FORM_TOKEN.search(page.get_data(as_text=True)):
        fields["form_token"] = token.group(1)
    if content is not None:
        fields["file"] = (io.BytesIO(content), name)
    return client.post(URL, data=fields, content_type="multipart/form-data")


def _bytes(document: Any) -> bytes:
    return json.dumps(document).encode()


@pytest.fixture
def commissioner(make_user: Callable[..., User]) -> User:
    return make_user(Role.commissioner)


@pytest.fixture
def client(app: Flask, login: Callable, commissioner: User) -> FlaskClient:
    client = app.test_client()
    login(client, commissioner)
    return client


def _terms(db_session: Session) -> list[str]:
    return list(db_session.scalars(select(CouncilTaxonomyTerm.code).order_by("position")))


def test_publish_see_and_replace(
    client: FlaskClient, commissioner: User, db_session: Session
) -> None:
    empty = client.get(URL).get_data(as_text=True)
    assert "You do not publish any service types of your own yet." in empty

    done = _post(client, _bytes(_document()))
    assert done.status_code == 303 and done.headers["Location"].endswith(URL)
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Westmere transport is published: 3 terms added." in page
    assert "By bus" in page and "Dial-a-ride" in page and "3 terms" in page
    # Dial-a-ride sits under By bus: a list inside its item.
    assert re.search(r"By bus</strong>.*?<ul[^>]*>\s*<li><strong>Dial-a-ride", page, re.S)
    taxonomy = db_session.scalars(select(CouncilTaxonomy)).one()
    assert taxonomy.council_id == commissioner.council_id
    assert _terms(db_session) == ["bus", "train", "dial-a-ride"]

    # The same file again changes nothing, and says so.
    again = client.get(_post(client, _bytes(_document())).headers["Location"])
    assert "Westmere transport was already the same, so nothing changed." in again.get_data(
        as_text=True
    )

    # A file without a term takes it away, off the services that had it too.
    provider = factories.ProviderFactory(council_id=commissioner.council_id)
    offer = factories.OfferFactory(provider=provider)
    offer.council_terms = list(
        db_session.scalars(select(CouncilTaxonomyTerm).where(CouncilTaxonomyTerm.code == "train"))
    )
    db_session.flush()
    assert "1 service" in client.get(URL).get_data(as_text=True)
    fewer = _document()
    fewer["taxonomy_terms"] = [t for t in fewer["taxonomy_terms"] if t["id"] != "train"]
    page = client.get(_post(client, _bytes(fewer)).headers["Location"]).get_data(as_text=True)
    # Dial-a-ride moved up one place in the list: that is a change too.
    assert "Westmere transport is updated: 1 term changed and 1 term taken away." in page
    assert "By train" not in page
    db_session.expire_all()
    assert _terms(db_session) == ["bus", "dial-a-ride"]
    assert offer.council_terms == []


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "Choose a taxonomy file to publish"),
        (b"{oops", "The file is not JSON"),
        (b"[]", "The file has 1 problem, so nothing changed"),
    ],
)
def test_a_file_that_cannot_be_read_is_named_beside_the_field(
    client: FlaskClient, db_session: Session, content: bytes | None, words: str
) -> None:
    answer = _post(client, content)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "<title>Error: Your council's own service types - " in text
    assert words in text and "There is a problem" in text
    assert 'id="file-error"' in text and 'href="#file"' in text
    assert db_session.scalar(select(func.count()).select_from(CouncilTaxonomy)) == 0


def test_each_problem_is_listed_with_its_place_and_nothing_changes(
    client: FlaskClient, db_session: Session
) -> None:
    assert _post(client, _bytes(_document())).status_code == 303
    broken = _document(name="Westmere transport, again")
    broken["taxonomy_terms"][1]["name"] = ""
    broken["taxonomy_terms"][2]["parent_id"] = "nowhere"

    answer = _post(client, _bytes(broken))

    text = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "The file has 2 problems, so nothing changed" in text
    assert "Term 2, its name: Give the name: it is needed." in text
    assert "Term 3, its parent_id: The parent must be another term of the same taxonomy." in text
    assert 'aria-describedby="file-hint file-error file-problems"' in text
    db_session.expire_all()
    assert db_session.scalars(select(CouncilTaxonomy.name)).one() == "Westmere transport"
    assert _terms(db_session) == ["bus", "train", "dial-a-ride"]


def test_problem_places_in_words() -> None:
    assert problem_place("[1].taxonomy_terms[2].name") == "Taxonomy 2, term 3, its name"
    assert problem_place("taxonomy_terms") == "Its terms"
    assert problem_place("taxonomy") == "The file"
    assert problem_place("[0].name") == "Taxonomy 1, its name"


def test_only_commissioners_see_the_page(
    app: Flask, login: Callable, make_user: Callable[..., User]
) -> None:
    for role in (Role.person, Role.provider, Role.advocate):
        client = app.test_client()
        login(client, make_user(role))
        assert client.get(URL).status_code == 403, role
    assert app.test_client().get(URL).status_code == 302  # to sign in


def test_another_councils_taxonomy_is_not_shown(client: FlaskClient, db_session: Session) -> None:
    factories.CouncilTaxonomyFactory(name="Eastholm bus routes")
    db_session.flush()
    assert "Eastholm bus routes" not in client.get(URL).get_data(as_text=True)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("Bus\\ud800 routes", "Name has a character that cannot be kept"),
        ("Bus\\u0000 routes", "Name has a character that cannot be kept"),
        ("x" * 201, "Its name: The name must be 200 characters or fewer."),
    ],
    ids=["lone surrogate", "NUL", "too long"],
)
def test_text_that_cannot_be_stored_is_a_problem_not_a_crash(
    client: FlaskClient, db_session: Session, name: str, words: str
) -> None:
    content = _bytes(_document()).replace(b'"Westmere transport"', f'"{name}"'.encode())
    answer = _post(client, content)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400, text[:300]
    assert words in text
    assert db_session.scalar(select(func.count()).select_from(CouncilTaxonomy)) == 0


def test_terms_are_counted_from_1_in_every_problem(client: FlaskClient) -> None:
    twice = _document()
    twice["taxonomy_terms"][2]["id"] = "bus"  # the third term has the first one's id
    text = _post(client, _bytes(twice)).get_data(as_text=True)
    assert "Term 3, its id: Term 1 has this id too." in text


def test_a_repeated_id_among_many_taxonomies_is_named(
    client: FlaskClient, db_session: Session
) -> None:
    many = [_document(id=f"t{n}", name=f"Types {n}", taxonomy_terms=[]) for n in range(3000)]
    many.append(_document(id="t7", name="Types again", taxonomy_terms=[]))
    answer = _post(client, _bytes(many))
    assert answer.status_code == 400
    assert "Taxonomy 3001, its name: Another taxonomy in the file has this name or id." in (
        answer.get_data(as_text=True)
    )
