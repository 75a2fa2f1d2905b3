"""The Open Referral feed against the profile's own OpenAPI document, with schemathesis.

The document is the profile's (``web/api/openreferral/profile/openapi.json``), corrected in
memory for its two known faults (``corrected_openapi``: ``"type": "time"`` read as an
``HH:MM`` string; ``/service_at_locations/{id}`` answering ``service_at_location.json``), with
its schema references read from our copies rather than the web. Valid requests must get 200
with a body the document accepts; any request, valid or not, never a 5xx, and every error is
``{code, status, message, errors}``. Bounded to a few examples per operation and mode.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import hypothesis
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import CouncilTaxonomy
from models.people import AgeBand
from tests import factories
from web.api.openreferral.routes import PROFILE, corrected_openapi
from web.services.openreferral import (
    COUNCIL_TAXONOMY,
    COUNCIL_TERM,
    SERVICE,
    SERVICE_AT_LOCATION,
    record_id,
)
from web.services.openreferral_taxonomies import load_taxonomies

MAX_EXAMPLES = 10
ERROR_KEYS = {"code", "status", "message", "errors"}
REMOTE = "https://raw.githubusercontent.com/openreferral/uk-profile/main/schema/"
# Parameters the profile types as any text that the feed reads in one form only (a UK
# postcode; whole metres from a postcode the feed knows), refusing others with a 422 naming
# them: valid requests leave them out. tests/web/test_openreferral_feed.py tests them.
REFUSED = {"postcode", "proximity"}


def _inline(node: Any) -> Any:
    """``node`` with every reference to one of the profile's schema files replaced by the file."""
    if isinstance(node, list):
        return [_inline(item) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#"):
        name = ref.removeprefix(REMOTE)
        loaded = json.loads((PROFILE / name).read_text("utf-8"))
        for key in ("$id", "$schema"):
            loaded.pop(key, None)
        return _inline(loaded)
    return {key: _inline(value) for key, value in node.items()}


def _document() -> dict[str, Any]:
    document = _inline(copy.deepcopy(corrected_openapi()))
    document["servers"] = [{"url": "/openreferral/westmere"}]
    return document  # type: ignore[no-any-return]


@pytest.fixture
def feed(db_session: Session) -> dict[str, str]:
    council = factories.CouncilFactory(slug="westmere")
    provider = factories.ProviderFactory(council=council, website="https://harbour-café.example")
    tag = factories.OutcomeTagFactory()
    offer = factories.OfferFactory(
        provider=provider,
        outcome_tags=[tag],
        latitude=50.2,
        longitude=-5.0,
        min_age_band=AgeBand.age_18_24,
        schedule={"mon": ["morning"], "thu": ["evening"]},
    )
    factories.OfferFactory(provider=provider, area=None, location=None, price_pence=0)
    db_session.flush()
    # The council's own taxonomy, a tree of two terms, one of them on the offer.
    [own] = load_taxonomies(db_session, council, {
        "id": "9b3c6d1e-0000-4000-8000-00000000000a", "name": "Westmere headings",
        "description": "The council's own.", "uri": "https://westmere.example.gov.uk/headings",
        "version": "1",
        "taxonomy_terms": [
            {"id": "9b3c6d1e-0000-4000-8000-0000000000b1", "name": "Food", "term": "food"},
            {"id": "9b3c6d1e-0000-4000-8000-0000000000b2", "name": "Cooking", "term": "cook",
             "parent_id": "9b3c6d1e-0000-4000-8000-0000000000b1"},
        ],
    })  # fmt: skip
    assert own.result == "created"
    db_session.flush()
    taxonomy = council_taxonomy(db_session, council.id)
    offer.council_terms = [taxonomy.terms[1]]
    db_session.flush()
    return {
        "/services/{id}": record_id(SERVICE, offer.id),
        "/service_at_locations/{id}": record_id(SERVICE_AT_LOCATION, offer.id),
        "/taxonomies/{id}": record_id(COUNCIL_TAXONOMY, taxonomy.id),
        "/taxonomy_terms/{id}": record_id(COUNCIL_TERM, taxonomy.terms[1].id),
    }


def council_taxonomy(session: Session, council_id: int) -> CouncilTaxonomy:
    return session.scalars(
        select(CouncilTaxonomy).where(CouncilTaxonomy.council_id == council_id)
    ).one()


def _check(strategy: Any, mode: GenerationMode, label: str) -> None:
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.generate],
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        if mode is GenerationMode.POSITIVE:
            for name in REFUSED:
                (case.query or {}).pop(name, None)
        response = case.call()
        where = f"{label} {mode.value} query={case.query!r} path={case.path_parameters!r}"
        assert response.status_code < 500, where
        assert response.headers.get("access-control-allow-origin") == ["*"], where
        if response.status_code >= 400:
            body = response.json()
            assert set(body) == ERROR_KEYS and body["code"] == response.status_code, where
        if mode is GenerationMode.POSITIVE and response.status_code == 200:
            # The body is what the profile's document says this operation answers.
            case.operation.validate_response(response)

    run()


def test_the_profiles_openapi_document_against_the_feed(app: Flask, feed: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_dict(_document())
    schema.app = app
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 9
    for operation in operations:
        fixed = {"id": feed[operation.path]} if operation.path in feed else {}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
            try:
                _check(strategy, mode, operation.label)
            except hypothesis.errors.Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (AssertionError, hypothesis.errors.HypothesisException) as error:
                failures.append(f"{operation.label} {mode.value}: {error}")
    # Unknown ids, generated freely, are 404 in one shape (checked above as errors).
    assert not failures, "\n\n".join(failures)
