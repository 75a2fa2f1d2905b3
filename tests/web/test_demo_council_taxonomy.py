"""The demo council publishes a taxonomy of its own, whose terms tag its offers by type, and
its Open Referral feed lists it and finds services by it (answers checked against the
profile's schemas, as in ``test_openreferral_feed``)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Offer, OfferStatus
from tests.web.test_openreferral_feed import get_page, get_record
from web.services.demo import COUNCIL_TAXONOMY, COUNCIL_TERM_FOR, build_demo


@pytest.fixture
def client(app: Flask, db_session: Session) -> FlaskClient:
    build_demo(db_session, persons=10)
    db_session.flush()
    return app.test_client()


def _own(client: FlaskClient) -> dict[str, Any]:
    taxonomies = get_page(client, "taxonomies")["contents"]
    own = [t for t in taxonomies if t["name"] == "Westmere support types"]
    assert len(own) == 1, [t["name"] for t in taxonomies]
    return get_record(client, "taxonomies", own[0]["id"])


def test_the_feed_lists_the_councils_taxonomy_as_a_tree(client: FlaskClient) -> None:
    record = _own(client)
    assert record["uri"] == COUNCIL_TAXONOMY["uri"]
    terms = {t["term"]: t for t in record["taxonomy_terms"]}
    assert len(terms) == len(COUNCIL_TAXONOMY["taxonomy_terms"])  # type: ignore[arg-type]
    assert terms["day-opportunities"]["parent_id"] == terms["community-life"]["id"]
    assert terms["help-to-find-work"]["parent_id"] == terms["work-and-learning"]["id"]
    assert "parent_id" not in terms["support-at-home"]


def test_offers_carry_its_terms_and_are_found_by_them(
    client: FlaskClient, db_session: Session
) -> None:
    terms = {t["term"]: t for t in _own(client)["taxonomy_terms"]}
    published = list(db_session.scalars(select(Offer).where(Offer.status == OfferStatus.published)))
    for code in sorted(set(COUNCIL_TERM_FOR.values())):
        expected = sum(1 for o in published if COUNCIL_TERM_FOR.get(o.category) == code)
        assert expected > 0, code
        found = get_page(client, "services", f"?taxonomy_term_id={terms[code]['id']}&per_page=100")
        assert found["total_items"] == expected, code
        first = get_record(client, "services", found["contents"][0]["id"])
        assert code in [a["taxonomy_term"]["term"] for a in first["attributes"]]
    # "Some offers": the creative ones are not tagged with any of its terms.
    tagged = get_page(client, "services", f"?taxonomy_id={terms['support-at-home']['taxonomy_id']}")
    assert 0 < tagged["total_items"] < len(published)
    assert any(not o.council_terms for o in published)
