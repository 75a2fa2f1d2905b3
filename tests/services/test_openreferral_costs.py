"""Cost options: the price per place is one cost option in the feed, and an import reads it
back to the penny."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema_rs
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Offer
from tests import factories
from web.api.openreferral.routes import PROFILE
from web.services import offers
from web.services.openreferral import SERVICE, get_service, record_id
from web.services.openreferral_import import import_services, services_in


@cache
def _validator() -> Any:
    def local(uri: str) -> Any:
        name = uri.rsplit("/schema/", 1)[-1] if "/schema/" in uri else uri.rsplit("/", 1)[-1]
        return json.loads((PROFILE / name).read_text("utf-8"))

    schema = json.loads((PROFILE / "compiled/service.json").read_text("utf-8"))
    return jsonschema_rs.validator_for(schema, validate_formats=True, retriever=local)


def _published(db_session: Session, price: str) -> Offer:
    council = factories.CouncilFactory(slug="westmere", areas=["north"])
    provider = factories.ProviderFactory(council=council, areas_served=["north"])
    member = factories.ProviderMemberFactory(provider=provider).user
    offer = offers.create_offer(
        db_session,
        member,
        provider,
        {
            "title": "Cafe training",
            "description": "Learn to run a cafe counter.",
            "category": "training",
            "price": price,
            "capacity": "8",
            "area": "north",
        },
    )
    offers.publish_offer(db_session, member, provider, offer.id)
    return offer


@pytest.mark.parametrize(
    ("price", "pence", "words"),
    [
        ("0", 0, "Free"),
        ("0.01", 1, "£0.01 a place"),
        ("45.50", 4550, "£45.50 a place"),
        ("19.99", 1999, "£19.99 a place"),
        ("1234.57", 123457, "£1,234.57 a place"),
    ],
)
def test_the_price_is_one_cost_option_and_an_import_reads_it_back(
    db_session: Session, price: str, pence: int, words: str
) -> None:
    offer = _published(db_session, price)
    document = get_service(
        db_session, offer.provider.council, record_id(SERVICE, offer.id), "https://feed.example"
    )
    errors = [f"{e.instance_path}: {e.message}" for e in _validator().iter_errors(document)]
    assert not errors
    [option] = document["cost_options"]
    assert option["amount"] * 100 == pytest.approx(pence)
    assert (option["amount_description"], option["currency"]) == (words, "GBP")
    assert option["service_id"] == document["id"]

    other = factories.CouncilFactory(slug="elsewhere", areas=["north"])
    report = import_services(db_session, other, services_in(document, "feed"))
    [service] = [r for r in report.records if r.kind.value == "service"]
    assert service.result == "created", service
    copy = db_session.scalars(select(Offer).where(Offer.id != offer.id)).one()
    assert copy.price_pence == pence
    # And out again: the same cost option, but for its own ids.
    copy.status = offer.status
    again = get_service(db_session, other, record_id(SERVICE, copy.id), "https://feed.example")[
        "cost_options"
    ]
    assert [{k: v for k, v in o.items() if not k.endswith("id")} for o in again] == [
        {k: v for k, v in option.items() if not k.endswith("id")}
    ]
