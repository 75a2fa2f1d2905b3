"""A round trip through two Tapestry sites: one council's feed, served by gunicorn on
127.0.0.1, is imported into another council; once published there, its feed gives the same
documents (apart from the ids, which name each site's own records one to one, and
``last_modified``, which is when each site last changed them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models import Offer, OfferCategory, OfferStatus
from models.base import utcnow
from models.people import AgeBand
from tests import factories
from tests.serving import serve
from tests.web.test_openreferral_feed import assert_valid
from web.services.openreferral_import import import_services, read_feed


def _source_site(engine: Engine, test_session: Session) -> None:
    """Westmere: a provider with two published offers and a draft."""
    with Session(engine) as session:
        factories.use_session(session)
        try:
            council = factories.CouncilFactory(slug="westmere", areas=["north", "east"])
            provider = factories.ProviderFactory(
                council=council,
                name="Harbour Café",
                website="https://harbour-café.example.org/menu",
                email="hello@harbour-café.example.org",
                areas_served=["east"],
            )
            tag = factories.OutcomeTagFactory(slug="paid-work", label="Getting a paid job")
            factories.OfferFactory(
                provider=provider,
                title="Alpha kitchen",
                outcome_tags=[tag],
                price_pence=4550,
                area="east",
                location=None,
                latitude=50.1,
                longitude=-4.2,
                min_age_band=AgeBand.age_18_24,
                max_age_band=AgeBand.age_35_49,
                min_need_level=2,
                max_need_level=4,
                address_line="12 Mill Lane",
                town="Westmere",
                postcode="TR1 1AA",
                languages=["Polish"],
                contact_name="Sam",
                schedule={"tue": ["morning", "afternoon"], "thu": ["evening"]},
                # Every other Tuesday with dates off, and the last Thursday of every month
                # until the summer: RFC 5545 rules the feed and the import must both keep.
                schedule_rules=[
                    {
                        "rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
                        "dtstart": "2027-01-05",
                        "opens_at": "10:00",
                        "closes_at": "13:30",
                        "exdates": ["2027-02-02", "2027-03-30"],
                    },
                    {
                        "rrule": "FREQ=MONTHLY;INTERVAL=1;BYDAY=-1TH;UNTIL=20270731",
                        "dtstart": "2027-01-01",
                        "opens_at": "18:00",
                        "closes_at": "20:00",
                        "exdates": [],
                    },
                ],
            )
            factories.OfferFactory(
                provider=provider,
                title="Beta training",
                category=OfferCategory.training,
                price_pence=0,
                area=None,
                location="The Old Mill",
                accessibility=None,
                schedule={"sat": ["evening"]},
                min_age_band=AgeBand.age_50_64,
            )
            factories.OfferFactory(provider=provider, title="Draft", status=OfferStatus.draft)
            session.commit()
        finally:
            factories.use_session(test_session)  # back to the test's own


def _same_apart_from_ids(a: Any, b: Any, ids: dict[str, str], where: str = "") -> None:
    """``a`` and ``b`` are equal, except that ids map one to one and ``last_modified``.

    A taxonomy's ``uri`` and a term's ``term_uri`` are addresses in each council's own feed,
    so they too map one to one."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), (where, sorted(set(a) ^ set(b)))
        for key in a:
            if key == "last_modified":
                continue
            if key in {"id", "uri", "term_uri"} or key.endswith("_id"):
                assert ids.setdefault(a[key], b[key]) == b[key], f"{where}.{key}"
                continue
            _same_apart_from_ids(a[key], b[key], ids, f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for n, (x, y) in enumerate(zip(a, b, strict=True)):
            _same_apart_from_ids(x, y, ids, f"{where}[{n}]")
    else:
        assert a == b, where


def test_export_import_into_another_council_export_again(
    app: Flask, db_session: Session, fresh_database_url: str, fresh_engine: Engine, tmp_path: Path
) -> None:
    _source_site(fresh_engine, db_session)
    fresh_engine.dispose()
    eastholm = factories.CouncilFactory(slug="eastholm", areas=["east", "south"])
    factories.OutcomeTagFactory(slug="paid-work", label="Getting a paid job")
    db_session.flush()

    with serve(fresh_database_url, tmp_path, workers=1, threads=2) as server:
        base = f"{server.url}/openreferral/westmere"
        exported = read_feed(base + "?per_page=1")  # one service a page: the pages are followed
        services = sorted(exported, key=lambda s: s["name"])
        status, body, _ = server.request("GET", "/openreferral/westmere/services")
        assert status == 200
        listing = json.loads(body)["contents"]

    assert [s["name"] for s in services] == ["Alpha kitchen", "Beta training"]
    report = import_services(db_session, eastholm, exported)
    assert [r.result for r in report.records] == ["created", "created", "created"]
    for offer in db_session.scalars(select(Offer)).all():
        if offer.provider.council_id == eastholm.id:
            offer.status, offer.published_at, offer.capacity = OfferStatus.published, utcnow(), 5
    db_session.flush()

    client = app.test_client()
    page = client.get("/openreferral/eastholm/services").get_json()
    ids: dict[str, str] = {}
    _same_apart_from_ids(listing, page["contents"], ids, "services")
    for service in services:
        again = client.get(f"/openreferral/eastholm/services/{ids[service['id']]}").get_json()
        assert_valid(again, "compiled/service.json")
        _same_apart_from_ids(service, again, ids, service["name"])
    assert len(set(ids.values())) == len(ids)  # one to one
    alpha = services[0]["schedules"]
    assert [(s["freq"], s["interval"], s.get("byday"), s.get("valid_to")) for s in alpha] == [
        ("WEEKLY", 2, "TU", None),
        ("MONTHLY", 1, "-1TH", "2027-07-31"),
    ]
    assert alpha[0]["notes"] == "EXDATE;VALUE=DATE:20270202,20270330"
    assert alpha[1]["description"] == (
        "On the last Thursday of every month, 6pm to 8pm, from 1 January 2027 to 31 July 2027."
    )
    copied = db_session.scalars(
        select(Offer).where(Offer.title == "Alpha kitchen", Offer.provider.has(council=eastholm))
    ).one()
    assert [r["rrule"] for r in copied.schedule_rules] == [
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
        "FREQ=MONTHLY;INTERVAL=1;BYDAY=-1TH;UNTIL=20270731",
    ]
    assert copied.schedule_rules[0]["exdates"] == ["2027-02-02", "2027-03-30"]

    # The same feed again: nothing changes, and nothing is copied.
    second = import_services(db_session, eastholm, exported)
    assert {r.result for r in second.records} == {"unchanged"}
