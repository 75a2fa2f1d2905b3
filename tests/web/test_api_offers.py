"""Public reads: ``/api/v1/offers`` and ``/api/v1/providers``; the OpenAPI document."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from models import OfferCategory, OfferStatus
from tests import factories
from tests.web.api_helpers import assert_error, call


def test_offers_list_only_published_with_filters_and_pages(app: Flask, db_session: Session) -> None:
    council = factories.CouncilFactory(slug="westmere")
    provider = factories.ProviderFactory(council=council, name="Harbour Works")
    tag = factories.OutcomeTagFactory(slug="paid-work", label="Getting a paid job")
    alpha = factories.OfferFactory(
        provider=provider, title="Alpha", outcome_tags=[tag], price_pence=4550, area="east"
    )
    factories.OfferFactory(provider=provider, title="Beta", category=OfferCategory.training)
    factories.OfferFactory(provider=provider, title="Draft", status=OfferStatus.draft)
    factories.OfferFactory(title="Elsewhere")  # another council
    client = app.test_client()

    body = client.get("/api/v1/offers?council=westmere").get_json()
    assert [o["name"] for o in body["items"]] == ["Alpha", "Beta"]
    assert (body["total"], body["page"], body["pages"]) == (2, 1, 1)
    first = body["items"][0]
    assert first["id"] == alpha.id
    assert first["price_pence"] == 4550 and first["currency"] == "GBP"
    assert first["organization"] == {
        "id": provider.id,
        "name": "Harbour Works",
        "url": provider.website,
    }
    assert first["outcome_tags"] == [{"slug": "paid-work", "label": "Getting a paid job"}]
    assert first["status"] == "published"

    def names(query: str) -> list[str]:
        response = client.get(f"/api/v1/offers?council=westmere&{query}")
        assert response.status_code == 200, response.get_json()
        return [o["name"] for o in response.get_json()["items"]]

    assert names("tag=paid-work") == ["Alpha"]
    assert names("category=training") == ["Beta"]
    assert names("area=east") == ["Alpha"]
    assert names("q=bet") == ["Beta"]
    assert names("max_price_pence=5000") == ["Alpha"]
    assert names(f"provider_id={provider.id}&per_page=1&page=2") == ["Beta"]

    assert client.get(f"/api/v1/offers/{alpha.id}").get_json()["name"] == "Alpha"


def test_unpublished_and_missing_offers_answer_404(app: Flask, db_session: Session) -> None:
    draft = factories.OfferFactory(status=OfferStatus.draft)
    withdrawn = factories.OfferFactory(status=OfferStatus.withdrawn)
    client = app.test_client()
    for offer_id in (draft.id, withdrawn.id, 999_999):
        assert_error(client.get(f"/api/v1/offers/{offer_id}"), 404)


def test_bad_filters_are_refused_in_the_error_shape(app: Flask, db_session: Session) -> None:
    client = app.test_client()
    body = assert_error(client.get("/api/v1/offers?colour=blue"), 422)
    assert body["errors"] == {"colour": ["Unknown field."]}
    assert "per_page" in assert_error(client.get("/api/v1/offers?per_page=0"), 422)["errors"]
    assert "category" in assert_error(client.get("/api/v1/offers?category=magic"), 422)["errors"]
    assert_error(client.get("/api/v1/providers?colour=blue"), 422)


def test_providers_with_published_offers(app: Flask, db_session: Session) -> None:
    council = factories.CouncilFactory(slug="eastvale")
    shown = factories.ProviderFactory(
        council=council, name="Shown", areas_served=["north"], registered_identifier="CIC1"
    )
    factories.OfferFactory(provider=shown)
    hidden = factories.ProviderFactory(council=council, name="Hidden")
    factories.OfferFactory(provider=hidden, status=OfferStatus.draft)
    client = app.test_client()
    body = client.get("/api/v1/providers?council=eastvale").get_json()
    assert [p["name"] for p in body] == ["Shown"]
    assert body[0]["legal_identifier"] == "CIC1"
    assert body[0]["areas_served"] == ["north"]
    assert client.get("/api/v1/providers?council=eastvale&area=south").get_json() == []
    assert client.get(f"/api/v1/providers/{shown.id}").get_json()["id"] == shown.id
    assert_error(client.get(f"/api/v1/providers/{hidden.id}"), 404)


def test_openapi_and_docs_list_every_operation(app: Flask) -> None:
    client = app.test_client()
    spec = client.get("/api/v1/openapi.json").get_json()
    operations = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method != "parameters"
    }
    expected = {
        ("GET", "/api/v1/offers"),
        ("GET", "/api/v1/offers/{offer_id}"),
        ("GET", "/api/v1/providers"),
        ("GET", "/api/v1/providers/{provider_id}"),
        ("GET", "/api/v1/me/profile"),
        ("PATCH", "/api/v1/me/profile"),
        ("GET", "/api/v1/me/choices"),
        ("PUT", "/api/v1/me/choices"),
        ("GET", "/api/v1/consents"),
        ("POST", "/api/v1/consents"),
        ("GET", "/api/v1/consents/{consent_id}"),
        ("PATCH", "/api/v1/consents/{consent_id}"),
        ("GET", "/api/v1/provider/offers"),
        ("POST", "/api/v1/provider/offers"),
        ("GET", "/api/v1/provider/offers/{offer_id}"),
        ("PATCH", "/api/v1/provider/offers/{offer_id}"),
        ("PUT", "/api/v1/provider/offers/{offer_id}/capacity"),
    }
    assert expected <= operations
    # One success code per operation.
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            successes = [code for code in op["responses"] if code.startswith("2")]
            assert len(successes) == 1, (method, path, successes)
    docs = client.get("/api/v1/docs").get_data(as_text=True)
    for _, path in expected:
        assert path in docs


def test_post_without_the_header_is_refused(app: Flask, db_session: Session) -> None:
    client = app.test_client()
    response = client.post("/api/v1/consents", json={"who": "x@example.org"})
    assert response.status_code in (400, 401, 403)
    assert_error(response, response.status_code)
    assert_error(call(client, "POST", "/api/v1/consents", {"who": "x"}), 401)
