"""The provider journey through the test client: profile, offers, capacity, demand, placements."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEvent, Offer, OfferStatus, Provider, Role, RoundStatus, User
from tests import factories
from tests.web.conftest import csrf_token
from tests.web.offer_form_steps import add_offer, change_offer, start_offer


@pytest.fixture
def provider_user(db_session: Session, make_user: Callable[..., User]) -> User:
    council = factories.CouncilFactory(areas=["north", "south", "east"])
    user = make_user(Role.provider, council=council)
    provider = user.provider_memberships[0].provider
    provider.areas_served = ["north", "east"]
    factories.OutcomeTagFactory(slug="paid-work", label="Getting a paid job")
    db_session.flush()
    return user


def my_provider(user: User) -> Provider:
    return user.provider_memberships[0].provider


OFFER_FORM = {
    "title": "Cafe training",
    "description": "Learn to run a cafe counter.",
    "category": "training",
    "tags": ["paid-work"],
    "price": "45.50",
    "capacity": "8",
    "area": "north",
    "on_mon": ["morning"],
}


def test_create_publish_capacity_and_withdraw(
    app: Flask, db_session: Session, login, provider_user: User
) -> None:
    client = app.test_client()
    login(client, provider_user)
    assert client.get("/provider/offers/new").status_code == 200
    response = add_offer(client, OFFER_FORM)
    assert response.status_code == 302
    offer = db_session.scalars(
        select(Offer).where(Offer.provider_id == my_provider(provider_user).id)
    ).one()
    assert (offer.price_pence, offer.capacity, offer.status) == (4550, 8, OfferStatus.draft)
    assert offer.schedule == {"mon": ["morning"]}

    edit = client.get(f"/provider/offers/{offer.id}")
    assert "Publish this service" in edit.get_data(as_text=True)
    client.post(
        f"/provider/offers/{offer.id}/status",
        data={"csrf_token": csrf_token(edit), "action": "publish"},
    )
    db_session.refresh(offer)
    assert offer.status == OfferStatus.published

    page = client.get(f"/provider/offers/{offer.id}/capacity")
    response = client.post(
        f"/provider/offers/{offer.id}/capacity",
        data={"csrf_token": csrf_token(page), "capacity": "12"},
    )
    assert response.status_code == 302
    db_session.refresh(offer)
    assert offer.capacity == 12

    # A detail edit keeps the places (they have their own page) and changes the price.
    edit = client.get(f"/provider/offers/{offer.id}")
    change_offer(client, offer.id, "price", {"price": "50", "capacity": "1"})
    db_session.refresh(offer)
    assert (offer.price_pence, offer.capacity) == (5000, 12)

    client.post(
        f"/provider/offers/{offer.id}/status",
        data={"csrf_token": csrf_token(edit), "action": "withdraw"},
    )
    db_session.refresh(offer)
    assert offer.status == OfferStatus.withdrawn
    actions = list(
        db_session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "offer", AuditEvent.object_id == str(offer.id))
            .order_by(AuditEvent.id)
        )
    )
    assert actions == [
        "offer.created",
        "offer.published",
        "offer.capacity_changed",
        "offer.updated",
        "offer.withdrawn",
    ]


def test_offer_form_errors_appear_beside_each_field(
    app: Flask, db_session: Session, login, provider_user: User
) -> None:
    client = app.test_client()
    login(client, provider_user)
    base = start_offer(client).rsplit("/", 1)[0]
    bad = {"name": {"title": ""}, "price": {"price": "4.555"}, "places": {"capacity": "-2"},
           "type": {"category": "x"}}  # fmt: skip
    for slug, data in bad.items():
        page = client.get(f"{base}/{slug}")
        response = client.post(f"{base}/{slug}", data={"csrf_token": csrf_token(page), **data})
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert html.count('class="govuk-error-message"') == 1, slug
        [field] = data
        assert f'href="#{field}"' in html
        if slug == "price":
            assert "Enter the price in pounds and pence" in html
            assert 'value="4.555"' in html  # what was typed is kept
        if slug == "places":
            assert "The number of places must be 0 or more" in html
    assert db_session.scalars(select(Offer)).first() is None


def test_another_providers_offer_answers_404(
    app: Flask, db_session: Session, login, provider_user: User
) -> None:
    elsewhere = factories.OfferFactory(title="Not yours")
    client = app.test_client()
    login(client, provider_user)
    assert client.get(f"/provider/offers/{elsewhere.id}").status_code == 404
    assert client.get(f"/provider/offers/{elsewhere.id}/capacity").status_code == 404
    page = client.get("/provider/")
    response = client.post(
        f"/provider/offers/{elsewhere.id}/status",
        data={"csrf_token": csrf_token(page), "action": "withdraw"},
    )
    assert response.status_code == 404
    db_session.refresh(elsewhere)
    assert elsewhere.status == OfferStatus.published
    assert "Not yours" not in page.get_data(as_text=True)


def test_profile_page_saves_and_shows_errors(
    app: Flask, db_session: Session, login, provider_user: User
) -> None:
    client = app.test_client()
    login(client, provider_user)
    page = client.get("/provider/organisation")
    form = {
        "csrf_token": csrf_token(page),
        "name": "Harbour Works",
        "description": "Workshops by the sea.",
        "website": "ftp://nope",
        "email": "hello@harbour.example.org",
        "phone": "",
        "registered_identifier": "CIC 123",
        "areas_served": ["south"],
    }
    response = client.post("/provider/organisation", data=form)
    assert response.status_code == 200
    assert "Enter a web address starting with https://" in response.get_data(as_text=True)
    form["website"] = "https://harbour.example.org"
    assert client.post("/provider/organisation", data=form).status_code == 302
    provider = my_provider(provider_user)
    db_session.refresh(provider)
    assert provider.areas_served == ["south"]
    assert provider.registered_identifier == "CIC 123"


def test_demand_placements_and_feedback_pages(
    app: Flask, db_session: Session, login, provider_user: User
) -> None:
    provider = my_provider(provider_user)
    council = provider.council
    round_ = factories.RoundFactory(council=council, name="Spring round")
    offer = factories.RoundOfferFactory(
        round=round_, offer=factories.OfferFactory(provider=provider, title="Pottery"), places=1
    ).offer
    factories.ChoiceFactory(round=round_, offer=offer, rank=1)
    factories.ChoiceFactory(round=round_, offer=offer, rank=2)
    wish = factories.OutcomeTagFactory(slug="baking", label="Baking bread")
    factories.PersonProfileFactory(user__council=council, area="north", outcome_tags=[wish])
    run = factories.SolverRunFactory(
        round=factories.RoundFactory(council=council, status=RoundStatus.published)
    )
    run.round.published_run_id = run.id
    person = factories.PersonProfileFactory(
        user__council=council, display_name="Ann Lee", assessed_needs="Secret needs"
    )
    factories.AllocationFactory(run=run, offer=offer, person=person)
    factories.FeedbackFactory(offer=offer, rating=5, comment="Lovely teacher")
    db_session.flush()

    client = app.test_client()
    login(client, provider_user)
    html = client.get("/provider/demand").get_data(as_text=True)
    assert "Spring round" in html and "More people than places" in html
    assert "Baking bread" in html
    html = client.get("/provider/placements").get_data(as_text=True)
    assert "Ann Lee" in html and "Pottery" in html
    assert "Secret needs" not in html and person.user.email not in html
    html = client.get("/provider/feedback").get_data(as_text=True)
    assert "Lovely teacher" in html and "5.0 out of 5" in html


def test_provider_pages_are_for_providers_only(app: Flask, login, make_user) -> None:
    client = app.test_client()
    login(client, make_user(Role.person))
    assert client.get("/provider/").status_code == 403
    anonymous = app.test_client()
    assert anonymous.get("/provider/demand").status_code == 302


def test_places_people_hold_stop_a_cut_and_a_withdrawal_on_the_pages(
    app: Flask, db_session: Session, login, provider_user: User
) -> None:
    offer = factories.OfferFactory(provider=my_provider(provider_user), capacity=6)
    factories.RoundOfferFactory(
        round=factories.RoundFactory(
            council=my_provider(provider_user).council,
            status=RoundStatus.published,
            name="Spring 2027",
        ),
        offer=offer,
        places=6,
        places_taken=4,
    )
    db_session.flush()
    client = app.test_client()
    login(client, provider_user)
    url = f"/provider/offers/{offer.id}/capacity"
    page = client.get(url)
    assert "the council must move those people first" in page.get_data(as_text=True)
    cut = client.post(url, data={"csrf_token": csrf_token(page), "capacity": "0"})
    assert cut.status_code == 200  # the form again, with the reason beside the field
    html = cut.get_data(as_text=True)
    assert 'id="capacity-error"' in html
    assert "4 places are offered to or taken by people in Spring 2027" in html
    edit = client.get(f"/provider/offers/{offer.id}")
    withdrawn = client.post(
        f"/provider/offers/{offer.id}/status",
        data={"csrf_token": csrf_token(edit), "action": "withdraw"},
        follow_redirects=True,
    )
    assert "Ask the council to move them first." in withdrawn.get_data(as_text=True)
    db_session.refresh(offer)
    assert (offer.status, offer.capacity) == (OfferStatus.published, 6)


def _schedule_form(**changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "often": "weekly",
        "days": ["tue"],
        "opens_at": "10am",
        "closes_at": "12pm",
        "start-day": "5",
        "start-month": "1",
        "start-year": "2027",
    }
    form.update(changes)
    return form


def test_when_does_it_run_adds_and_takes_off_rfc5545_rules(
    app: Flask, db_session: Session, login, provider_user: User
) -> None:
    offer = factories.OfferFactory(provider=my_provider(provider_user), schedule={})
    db_session.flush()
    client = app.test_client()
    login(client, provider_user)
    page = client.get(f"/provider/offers/{offer.id}/schedule")
    assert page.status_code == 200
    assert "When does it run?" in page.get_data(as_text=True)
    response = client.post(
        f"/provider/offers/{offer.id}/schedule",
        data={"csrf_token": csrf_token(page), **_schedule_form(not_on="12/01/2027")},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/provider/offers/{offer.id}/schedule")
    db_session.refresh(offer)
    assert offer.schedule_rules == [
        {
            "rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU",
            "dtstart": "2027-01-05",
            "opens_at": "10:00",
            "closes_at": "12:00",
            "exdates": ["2027-01-12"],
        }
    ]
    assert offer.schedule == {"tue": ["morning"]}
    shown = client.get(f"/provider/offers/{offer.id}/schedule").get_data(as_text=True)
    assert "Every Tuesday, 10am to 12 noon, from 5 January 2027. Not on 12 January 2027" in shown

    # The same time said again is kept once.
    client.post(
        f"/provider/offers/{offer.id}/schedule",
        data={"csrf_token": csrf_token(shown), **_schedule_form(not_on="12/01/2027")},
    )
    db_session.refresh(offer)
    assert len(offer.schedule_rules) == 1

    monthly = _schedule_form(often="monthly_day", week="1", weekday="mon", days=[])
    client.post(
        f"/provider/offers/{offer.id}/schedule", data={"csrf_token": csrf_token(shown), **monthly}
    )
    db_session.refresh(offer)
    assert [r["rrule"] for r in offer.schedule_rules][1] == "FREQ=MONTHLY;INTERVAL=1;BYDAY=1MO"
    assert offer.schedule == {"mon": ["morning"], "tue": ["morning"]}

    from web.services.recurrence import rule_key

    key = rule_key(offer.schedule_rules[0])
    removed = client.post(
        f"/provider/offers/{offer.id}/schedule/{key}/remove",
        data={"csrf_token": csrf_token(shown)},
    )
    assert removed.status_code == 302
    db_session.refresh(offer)
    assert [r["rrule"] for r in offer.schedule_rules] == ["FREQ=MONTHLY;INTERVAL=1;BYDAY=1MO"]
    again = client.post(
        f"/provider/offers/{offer.id}/schedule/{key}/remove",
        data={"csrf_token": csrf_token(shown)},
        follow_redirects=True,
    )
    assert "taken off already" in again.get_data(as_text=True)
    actions = list(
        db_session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "offer", AuditEvent.object_id == str(offer.id))
            .order_by(AuditEvent.id)
        )
    )
    assert actions == ["offer.schedule_added", "offer.schedule_added", "offer.schedule_removed"]


def test_when_does_it_run_shows_each_error_beside_its_field(
    app: Flask, db_session: Session, login, provider_user: User
) -> None:
    offer = factories.OfferFactory(provider=my_provider(provider_user), schedule={})
    db_session.flush()
    client = app.test_client()
    login(client, provider_user)
    page = client.get(f"/provider/offers/{offer.id}/schedule")
    bad = _schedule_form(
        days=[], closes_at="9am", **{"end-day": "1", "end-month": "1", "end-year": "2027"}
    )
    response = client.post(
        f"/provider/offers/{offer.id}/schedule", data={"csrf_token": csrf_token(page), **bad}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Error:" in html
    assert "Choose the days it runs" in html
    assert "The time it ends must be after the time it starts" in html
    assert "The last date must be the same as or after the first date" in html
    assert 'href="#end-day"' in html
    db_session.refresh(offer)
    assert offer.schedule_rules == []


def test_another_providers_schedule_page_is_not_found(
    app: Flask, db_session: Session, login, provider_user: User
) -> None:
    other = factories.OfferFactory()
    db_session.flush()
    client = app.test_client()
    login(client, provider_user)
    assert client.get(f"/provider/offers/{other.id}/schedule").status_code == 404
