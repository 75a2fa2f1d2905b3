"""The provider's offer form, one question per page, with a check-your-answers page.

Each question posts, then redirects to the next; answers live in the server-side draft (the
pages carry no hidden copies); back links go to the previous question; Change links on the
check page come back to it; errors sit beside their field with a summary; the offer is made
once, however often the last form is sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Offer, OfferDraft, OfferStatus, Provider, Role, User
from tests import factories
from tests.web.conftest import csrf_token, form_token
from tests.web.offer_form_steps import add_offer, change_offer, post_page, start_offer
from web.services.offer_drafts import QUESTIONS
from web.services.openreferral_taxonomies import load_taxonomies

FORM = {
    "title": "Cafe training",
    "description": "Learn to run a cafe counter.",
    "category": "training",
    "tags": ["paid-work"],
    "price": "45.50",
    "capacity": "8",
    "area": "north",
    "other_areas": ["east"],
    "postcode": "ex1 1aa",
    "town": "Westmere",
    "min_age_band": "18-24",
    "on_mon": ["morning"],
    "languages": "Polish, BSL",
    "contact_name": "Sam",
}


@pytest.fixture
def provider_user(db_session: Session, make_user: Callable[..., User]) -> User:
    council = factories.CouncilFactory(areas=["north", "south", "east"])
    user = make_user(Role.provider, council=council)
    provider = user.provider_memberships[0].provider
    provider.areas_served = ["north", "east"]
    factories.OutcomeTagFactory(slug="paid-work", label="Getting a paid job")
    db_session.flush()
    return user


@pytest.fixture
def client(app: Flask, login, provider_user: User) -> FlaskClient:
    client = app.test_client()
    login(client, provider_user)
    return client


def _provider(user: User) -> Provider:
    return user.provider_memberships[0].provider


def _offers(db_session: Session, user: User) -> list[Offer]:
    return list(db_session.scalars(select(Offer).where(Offer.provider_id == _provider(user).id)))


def test_every_question_then_check_then_one_offer(
    client: FlaskClient, db_session: Session, provider_user: User
) -> None:
    saved = add_offer(client, FORM)
    assert saved.status_code == 302
    [offer] = _offers(db_session, provider_user)
    assert saved.headers["Location"].endswith(f"/provider/offers/{offer.id}")
    assert (offer.title, offer.price_pence, offer.capacity) == ("Cafe training", 4550, 8)
    assert (offer.area, offer.other_areas, offer.postcode) == ("north", ["east"], "EX1 1AA")
    assert (offer.status, offer.schedule) == (OfferStatus.draft, {"mon": ["morning"]})
    assert offer.languages == ["Polish", "BSL"] and [t.slug for t in offer.outcome_tags] == [
        "paid-work"
    ]
    # The draft is gone once the offer is made from it.
    assert db_session.scalar(select(func.count()).select_from(OfferDraft)) == 0
    page = client.get(f"/provider/offers/{offer.id}").get_data(as_text=True)
    assert "Getting a paid job" in page and "Main area: north" in page
    assert "It has 8 places." in page


def test_answers_are_kept_on_the_server_not_in_the_page(
    client: FlaskClient, db_session: Session
) -> None:
    first = start_offer(client)
    assert post_page(client, first, {"title": "Cafe training"}).status_code == 302
    draft = db_session.scalars(select(OfferDraft)).one()
    db_session.refresh(draft)
    assert draft.answers == {"title": "Cafe training"}
    second = client.get(first.replace("/name", "/description")).get_data(as_text=True)
    # No hidden field but the two tokens: earlier answers are not carried by the form.
    hidden = re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"', second)
    assert set(hidden) == {"csrf_token", "form_token"}  # (the sign-out form has them too)
    assert "Cafe training" not in second
    # Going back shows the answer given.
    assert 'value="Cafe training"' in client.get(first).get_data(as_text=True)


def test_back_links_go_to_the_question_before(client: FlaskClient) -> None:
    first = start_offer(client)
    base = first.rsplit("/", 1)[0]
    slugs = [q.slug for q in QUESTIONS]
    assert 'href="/provider/offers/new"' in client.get(first).get_data(as_text=True)
    for before, slug in zip(slugs, slugs[1:], strict=False):
        html = client.get(f"{base}/{slug}").get_data(as_text=True)
        assert f'href="{base}/{before}" class="govuk-back-link"' in html or (
            f'class="govuk-back-link" href="{base}/{before}"' in html
        ), slug


def test_an_error_sits_beside_its_field_and_the_draft_keeps_the_old_answer(
    client: FlaskClient, db_session: Session
) -> None:
    first = start_offer(client)
    base = first.rsplit("/", 1)[0]
    post_page(client, f"{base}/price", {"price": "12"})
    wrong = post_page(client, f"{base}/price", {"price": "4.555"})
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 200
    assert "<title>Error: " in html
    assert 'href="#price"' in html and 'id="price-error"' in html
    assert 'value="4.555"' in html  # what was typed is shown again
    draft = db_session.scalars(select(OfferDraft)).one()
    db_session.refresh(draft)
    assert draft.answers == {"price": "12"}


def test_change_links_on_the_check_page_come_back_to_it(
    client: FlaskClient, db_session: Session, provider_user: User
) -> None:
    first = start_offer(client)
    base = first.rsplit("/", 1)[0]
    url = first
    while not url.endswith("/check"):
        data = {k: v for k, v in FORM.items() if not k.startswith("on_")}
        url = post_page(client, url, data).headers["Location"]
    check = client.get(url).get_data(as_text=True)
    assert "Check your answers" in check and "£45.50" in check
    change = f"{base}/price?change=1"
    assert f'href="{change}"' in check
    assert f'href="{url}"' in client.get(change).get_data(as_text=True)  # back to the check
    changed = post_page(client, change, {"price": "50"})
    assert changed.headers["Location"].endswith("/check")
    assert "£50" in client.get(url).get_data(as_text=True)
    assert _offers(db_session, provider_user) == []  # nothing is made until it is saved


def test_saving_twice_makes_one_offer(
    client: FlaskClient, db_session: Session, provider_user: User
) -> None:
    url = start_offer(client)
    while not url.endswith("/check"):
        url = post_page(client, url, FORM).headers["Location"]
    page = client.get(url)
    tokens = {"csrf_token": csrf_token(page), "form_token": form_token(page)}
    assert client.post(url, data=tokens).status_code == 302
    again = client.post(url, data=tokens)
    assert again.status_code in {302, 303, 404}
    assert len(_offers(db_session, provider_user)) == 1


def test_a_question_skipped_by_address_is_asked_before_saving(
    client: FlaskClient, db_session: Session, provider_user: User
) -> None:
    base = start_offer(client).rsplit("/", 1)[0]
    post_page(client, f"{base}/name", {"title": "Only a name"})
    check = client.get(f"{base}/check").get_data(as_text=True)
    assert "Questions still to answer" in check
    assert "Save as a draft" not in check
    refused = client.post(f"{base}/check", data={"csrf_token": csrf_token(check)})
    assert "What happens at the service?" in refused.get_data(as_text=True)
    assert _offers(db_session, provider_user) == []


def test_another_persons_draft_is_not_found(
    app: Flask, db_session: Session, login, make_user: Callable[..., User], client: FlaskClient
) -> None:
    first = start_offer(client)
    stranger = make_user(Role.provider)
    other = app.test_client()
    login(other, stranger)
    assert other.get(first).status_code == 404
    assert other.get(first.rsplit("/", 1)[0] + "/check").status_code == 404
    assert client.get(first.rsplit("/", 1)[0] + "/nonsense").status_code == 404


def test_an_offer_is_changed_one_question_at_a_time(
    client: FlaskClient, db_session: Session, provider_user: User
) -> None:
    add_offer(client, FORM)
    [offer] = _offers(db_session, provider_user)
    page = client.get(f"/provider/offers/{offer.id}").get_data(as_text=True)
    for slug in ("name", "price", "areas", "who", "languages"):
        assert f'href="/provider/offers/{offer.id}/change/{slug}"' in page
    # Places and times have pages of their own.
    assert f'href="/provider/offers/{offer.id}/capacity"' in page
    assert f'href="/provider/offers/{offer.id}/schedule"' in page
    assert client.get(f"/provider/offers/{offer.id}/change/places").status_code == 404
    saved = change_offer(client, offer.id, "price", {"price": "50"})
    assert saved.status_code == 302
    db_session.refresh(offer)
    assert (offer.price_pence, offer.capacity) == (5000, 8)
    wrong = change_offer(client, offer.id, "name", {"title": ""})
    assert 'id="title-error"' in wrong.get_data(as_text=True)
    db_session.refresh(offer)
    assert offer.title == "Cafe training"


def test_the_councils_own_terms_are_offered_and_saved(
    client: FlaskClient, db_session: Session, provider_user: User
) -> None:
    council = _provider(provider_user).council
    load_taxonomies(
        db_session,
        council,
        {
            "id": "9b3c6d1e-0000-4000-8000-00000000000a",
            "name": "Local headings",
            "description": "The council's headings.",
            "taxonomy_terms": [
                {"id": "9b3c6d1e-0000-4000-8000-0000000000b1", "name": "Cooking", "term": "cook"}
            ],
        },
    )
    db_session.flush()
    add_offer(client, FORM)
    [offer] = _offers(db_session, provider_user)
    url = f"/provider/offers/{offer.id}/change/helps-with"
    page = client.get(url).get_data(as_text=True)
    assert "Local headings: Cooking" in page
    term = re.search(r'name="council_terms" type="checkbox" value="([^"]+)"', page)
    assert term is not None
    change_offer(client, offer.id, "helps-with", {"tags": [], "council_terms": [term.group(1)]})
    db_session.refresh(offer)
    assert [t.name for t in offer.council_terms] == ["Cooking"] and offer.outcome_tags == []


def test_an_unfinished_service_can_be_picked_up_again(client: FlaskClient) -> None:
    first = start_offer(client)
    post_page(client, first, {"title": "Cafe training"})
    start = client.get("/provider/offers/new").get_data(as_text=True)
    assert "Services you have not finished adding" in start
    description = first.replace("/name", "/description")
    assert f'href="{description}">Go on with Cafe training</a>' in start


def test_an_offer_with_days_alone_says_when_it_runs(
    client: FlaskClient, db_session: Session, provider_user: User
) -> None:
    offer = factories.OfferFactory(
        provider=_provider(provider_user), schedule={"tue": ["morning"]}, schedule_rules=[]
    )
    db_session.flush()
    page = client.get(f"/provider/offers/{offer.id}").get_data(as_text=True)
    assert "Every Tuesday" in page, page
