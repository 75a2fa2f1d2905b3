"""Issue 13: the person's, the advocate's and the account pages in Welsh, with their flash
messages and form errors; the language row of the account page (post, redirect, get)."""

from __future__ import annotations

import html as html_lib
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models.accounts import User
from tests.web.conftest import csrf_token, form_token


def _text(client: FlaskClient, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    return html_lib.unescape(page.get_data(as_text=True))


def _tokens(client: FlaskClient, url: str) -> dict[str, str]:
    page = client.get(url)
    return {"csrf_token": csrf_token(page), "form_token": form_token(page)}


def _welsh_person(
    app: Flask, login: Callable, make_user: Callable[..., User], db_session: Session
) -> FlaskClient:
    amina = make_user(display_name="Amina")
    amina.language = "cy"
    db_session.flush()
    client = app.test_client()
    login(client, amina)
    return client


def test_every_person_page_reads_in_welsh(
    app: Flask, login: Callable, make_user: Callable[..., User], db_session: Session
) -> None:
    client = _welsh_person(app, login, make_user, db_session)
    wanted = {
        "/person/about-me": ("Beth mae’r cyngor wedi’i nodi", "Pryd rydw i’n rhydd", "Dydd Llun"),
        "/person/matches": ("Yn cyfateb i chi",),
        "/person/services": ("Pob gwasanaeth", "Geiriau chwilio", "Unrhyw fath"),
        "/person/ideas": ("Syniadau am wasanaethau newydd",),
        "/person/ideas/new": ("Awgrymu gwasanaeth newydd", "Enw byr i’ch syniad"),
        "/person/who-can-help-me": ("Pwy all fy helpu", "Eich cyfeirnod yw"),
        "/person/changes-made-for-you": ("Newidiadau a wnaed ar eich rhan",),
        "/person/my-data/": ("Fy nata", "Lawrlwytho fy nata"),
        "/account": ("Eich cyfrif", "Sut rydyn ni’n rhoi gwybod i chi", "Iaith"),
        "/account/notifications": ("Drwy e-bost", "Peidiwch â rhoi gwybod i mi"),
        "/account/sessions": ("Ble rydych chi wedi mewngofnodi", "Y ddyfais hon"),
        "/account/password": ("Newid eich cyfrinair", "Cyfrinair presennol"),
    }
    for url, phrases in wanted.items():
        shown = _text(client, url)
        assert '<html lang="cy"' in shown, url
        for phrase in phrases:
            assert phrase in shown, (url, phrase)


def test_form_errors_and_flash_messages_are_welsh(
    app: Flask, login: Callable, make_user: Callable[..., User], db_session: Session
) -> None:
    client = _welsh_person(app, login, make_user, db_session)
    token = _tokens(client, "/person/about-me")
    wrong = client.post(
        "/person/about-me",
        data={**token, "aspirations_text": "", "max_travel_miles": "lots",
              "postcode": "not a postcode"},
    )  # fmt: skip
    shown = html_lib.unescape(wrong.get_data(as_text=True))
    assert wrong.status_code == 400
    assert "Mae problem" in shown
    assert "Rhaid i ba mor bell gallwch chi deithio fod yn nifer cyfan o filltiroedd" in shown
    assert "Rhowch god post go iawn, fel EX1 1AA" in shown
    token = _tokens(client, "/person/about-me")
    saved = client.post("/person/about-me", data={**token, "aspirations_text": "Canu mewn côr"})
    assert saved.status_code == 302
    assert "Rydyn ni wedi cadw eich newidiadau." in _text(client, saved.headers["Location"])
    # A WTForms form: its labels and its messages.
    token = _tokens(client, "/account/password")
    empty = client.post("/account/password", data=token)
    shown = html_lib.unescape(empty.get_data(as_text=True))
    assert "Rhowch eich cyfrinair presennol" in shown and "Rhowch gyfrinair newydd" in shown


def test_the_sign_in_page_and_its_errors_follow_the_cookie(client: FlaskClient) -> None:
    shown = _text(client, "/sign-in?lang=cy")
    assert "Mewngofnodi" in shown and "Cyfeiriad e-bost" in shown
    token = _tokens(client, "/sign-in")
    wrong = client.post("/sign-in", data=token)
    shown = html_lib.unescape(wrong.get_data(as_text=True))
    assert "Rhowch eich cyfeiriad e-bost" in shown and "Rhowch eich cyfrinair" in shown


def test_the_language_row_posts_redirects_and_is_kept(
    app: Flask, login: Callable, make_user: Callable[..., User], db_session: Session
) -> None:
    amina = make_user(display_name="Amina")
    client = app.test_client()
    login(client, amina)
    page = _text(client, "/account/language")
    assert "Which language do you want?" in page and 'lang="cy"' in page
    token = _tokens(client, "/account/language")
    bad = client.post("/account/language", data={**token, "language": "xx"})
    shown = html_lib.unescape(bad.get_data(as_text=True))
    assert bad.status_code == 400
    assert "There is a problem" in shown and "Choose English or Cymraeg" in shown
    db_session.refresh(amina)
    assert amina.language in (None, "en")
    token = _tokens(client, "/account/language")
    chosen = client.post("/account/language", data={**token, "language": "cy"})
    assert chosen.status_code == 302 and chosen.headers["Location"].endswith("/account")
    db_session.refresh(amina)
    assert amina.language == "cy"
    after = _text(client, "/account")
    assert '<html lang="cy"' in after
    assert "Wedi’i gadw. Bydd eich tudalennau a’ch negeseuon yn Cymraeg." in after
    # Back to English the same way.
    token = _tokens(client, "/account/language")
    client.post("/account/language", data={**token, "language": "en"})
    assert '<html lang="en"' in _text(client, "/account")


def test_an_advocate_reads_their_pages_in_welsh(
    app: Flask, login: Callable, db_session: Session
) -> None:
    from tests import factories

    advocate = factories.AdvocateFactory()
    advocate.language = "cy"
    db_session.flush()
    client = app.test_client()
    login(client, advocate)
    shown = _text(client, "/advocate/")
    assert "Eich llwyth achosion" in shown and "Does neb wedi dweud ie eto." in shown
    ask = _text(client, "/advocate/ask")
    assert "Gofyn am gael helpu rhywun" in ask and "Anfon y cais" in ask
    token = _tokens(client, "/advocate/ask")
    wrong = client.post("/advocate/ask", data={**token, "who": ""})
    shown = html_lib.unescape(wrong.get_data(as_text=True))
    assert "Rhowch gyfeiriad e-bost neu gyfeirnod y person" in shown


def test_a_service_and_why_it_matches_read_in_welsh(
    app: Flask, db_session: Session, login: Callable, client: FlaskClient
) -> None:
    from tests.services.person_world import make_world

    world = make_world()
    cafe = world.offers["cafe"]
    cafe.schedule_rules = [
        {
            "rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
            "dtstart": "2027-01-05",
            "opens_at": "10:00",
            "closes_at": "13:30",
            "exdates": [],
        }
    ]
    world.user.language = "cy"
    db_session.flush()
    login(client, world.user)
    shown = _text(client, f"/person/services/{cafe.id}")
    assert "Bob pythefnos, dydd Mawrth, 10yb tan 1:30yh, o 5 Ionawr 2027." in shown
    assert "Sut mae’n cyfateb i chi" in shown and "o’ch cyllideb" in shown
    for english in ("It costs", "It runs", "It happens", "Every other", "Tuesday"):
        assert english not in shown, english
    matches = _text(client, "/person/matches")
    assert "Mae’n costio" in matches and "It costs" not in matches


def test_the_start_cookies_and_my_data_pages_in_welsh(
    app: Flask, login: Callable, make_user: Callable[..., User], db_session: Session
) -> None:
    visitor = app.test_client()
    start = _text(visitor, "/?lang=cy")
    assert "Dewiswch y cymorth sy’n iawn i chi" in start and "Mewngofnodi" in start
    cookies = _text(visitor, "/cookies")
    assert "Cwcis hanfodol" in cookies and "tapestry_lang" in cookies
    assert "Mae’n cofio’r iaith a ddewisoch chi" in cookies
    client = _welsh_person(app, login, make_user, db_session)
    copy = _text(client, "/person/my-data/read")
    assert "Eich data" in copy and "Eich cyfrif" in copy and "Cyfeiriad e-bost" in copy
    assert " am " in copy  # "3 Rhagfyr 2026 am 14:05"
    assert "Your account" not in copy and "Email address" not in copy
