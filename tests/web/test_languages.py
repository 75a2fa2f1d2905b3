"""Issue 13: the site in Welsh, chosen by the person; ``lang`` right on every page."""

from __future__ import annotations

import html as html_lib
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models.accounts import User
from web.i18n import COOKIE


def _text(client: FlaskClient, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    return html_lib.unescape(page.get_data(as_text=True))


def test_pages_are_english_with_lang_en_by_default(client: FlaskClient) -> None:
    shown = _text(client, "/")
    assert '<html lang="en"' in shown
    assert "Skip to main content" in shown
    # The switch names each language in itself; English is the current one, Welsh a link.
    assert '<span aria-current="true" lang="en">English</span>' in shown
    assert 'hreflang="cy" lang="cy" rel="alternate">Cymraeg</a>' in shown


def test_a_lang_query_shows_welsh_and_is_remembered(client: FlaskClient) -> None:
    page = client.get("/?lang=cy")
    shown = html_lib.unescape(page.get_data(as_text=True))
    assert '<html lang="cy"' in shown and "Neidio i’r prif gynnwys" in shown
    assert f"{COOKIE}=cy" in page.headers["Set-Cookie"]
    # The next page, without the query, is still Welsh.
    assert '<html lang="cy"' in _text(client, "/accessibility")
    assert '<html lang="en"' in _text(client, "/?lang=en")


def test_an_unknown_language_is_english(client: FlaskClient) -> None:
    assert '<html lang="en"' in _text(client, "/?lang=xx")
    assert client.get("/language/xx?next=/").status_code == 302
    assert '<html lang="en"' in _text(client, "/")


def test_the_switch_goes_back_to_the_page_and_never_elsewhere(client: FlaskClient) -> None:
    page = client.get("/language/cy?next=/accessibility")
    assert page.status_code == 302 and page.headers["Location"] == "/accessibility"
    assert '<html lang="cy"' in _text(client, "/accessibility")
    for elsewhere in ("https://evil.example/", "//evil.example/", "/\\evil.example", "evil"):
        answer = client.get("/language/en", query_string={"next": elsewhere})
        assert answer.headers["Location"] == "/", elsewhere


def test_the_switch_link_brings_back_the_same_page_and_query(client: FlaskClient) -> None:
    shown = _text(client, "/accessibility?x=1")
    assert "/language/cy?next=/accessibility?x%3D1" in shown or (
        "/language/cy?next=/accessibility%3Fx%3D1" in shown
    )


def test_an_accounts_choice_is_saved_and_used_everywhere(
    app: Flask,
    login: Callable,
    make_user: Callable[..., User],
    db_session: Session,
) -> None:
    amina = make_user(display_name="Amina")
    client = app.test_client()
    login(client, amina)
    assert client.get("/language/cy?next=/person/").status_code == 302
    db_session.refresh(amina)
    assert amina.language == "cy"
    # Another browser, with no cookie: the account's choice still holds.
    other = app.test_client()
    login(other, amina)
    shown = _text(other, "/person/place")
    assert '<html lang="cy"' in shown and "Allgofnodi" in shown
    # The account's choice comes before a cookie or a query left from signed-out pages.
    assert '<html lang="cy"' in _text(other, "/person/place?lang=en")


def test_the_person_reads_their_place_and_home_page_in_welsh(
    app: Flask, login: Callable, db_session: Session, session_factory: Callable
) -> None:
    from sqlalchemy import select

    from models import Allocation
    from tests import factories
    from tests.services.commissioning_world import make_round, solved_run
    from web.services import allocations

    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    db_session.flush()
    held = set(db_session.scalars(select(Allocation.person_id)))
    name, person = next((n, p) for n, p in world.people.items() if p.id not in held)
    person.user.language = "cy"
    db_session.flush()
    own = app.test_client()
    login(own, person.user)
    home = _text(own, "/person/")
    assert '<html lang="cy"' in home and f"Helo, {name}" in home and "Fy lle" in home
    place = _text(own, "/person/place")
    assert "Chawsoch chi ddim lle y tro hwn." in place and "Rhestrau aros" in place
    assert "You did not get" not in place and "Waiting lists" not in place
    # An advocate acting for them, in Welsh, reads about the person by name.
    advocate = factories.AdvocateFactory(council=world.council)
    advocate.language = "cy"
    factories.ConsentFactory(person=person, advocate=advocate, can_submit=True)
    db_session.flush()
    helper = app.test_client()
    login(helper, advocate)
    from tests.web.conftest import csrf_token

    token = csrf_token(helper.get("/advocate/"))
    helper.post(f"/advocate/act/{person.id}", data={"csrf_token": token})
    theirs = _text(helper, "/advocate/acting/place")
    assert f"Chafodd {name} ddim lle y tro hwn." in theirs
    assert f"Rydych chi’n gweithredu ar ran {name}" in theirs
