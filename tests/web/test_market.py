"""The market position statement's pages, CSV files and JSON: public, cacheable, private."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from models import Role, User
from models.people import person_outcome_tags
from tests.services.test_market import make_world
from web.services import market


def test_the_list_of_councils_links_each_statement(
    client: FlaskClient, db_session: Session
) -> None:
    make_world(db_session)
    page = client.get("/market")
    assert page.status_code == 200
    assert 'href="/market/riverford"' in page.text
    assert 'href="/market"' in client.get("/").text  # the start page links to them


def test_the_statement_page_shows_charts_tables_and_downloads(
    client: FlaskClient, db_session: Session
) -> None:
    world = make_world(db_session)
    for person in world.people[:12]:
        db_session.execute(
            person_outcome_tags.insert().values(person_id=person.id, tag_id=world.tag.id)
        )
    page = client.get("/market/riverford")
    assert page.status_code == 200
    text = page.text
    assert world.council.name in text
    for section in ("demand", "waiting", "unmet", "prices"):
        assert f'id="{section}"' in text
        assert f'href="/market/riverford/{section}.csv"' in text
    assert text.count('role="img"') == 5  # every chart has an accessible name
    assert "<table" in text and "hidden</td>" in text
    assert "fewer than 10 people" in text
    assert 'href="/api/v1/market/riverford"' in text
    assert "£200.01" in text  # prices are shown in pounds


def test_anonymous_answers_are_cached_publicly_and_revalidated(
    client: FlaskClient, db_session: Session
) -> None:
    make_world(db_session)
    for url in ("/market/riverford", "/market/riverford/demand.csv", "/api/v1/market/riverford"):
        first = client.get(url)
        assert first.headers["Cache-Control"] == "public, max-age=300", url
        etag = first.headers["ETag"]
        again = client.get(url)
        assert again.headers["ETag"] == etag, f"{url} is not the same twice"
        unchanged = client.get(url, headers={"If-None-Match": etag})
        assert unchanged.status_code == 304, url
    assert "Cookie" in client.get("/market/riverford").headers["Vary"]


def test_a_signed_in_page_is_not_cached(
    client: FlaskClient,
    db_session: Session,
    make_user: Callable[..., User],
    login: Callable[..., TestResponse],
) -> None:
    make_world(db_session)
    login(client, make_user(Role.person))
    page = client.get("/market/riverford")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    # The files hold nothing about who asks, so they stay public.
    assert client.get("/market/riverford/demand.csv").headers["Cache-Control"].startswith("public")


def test_each_table_downloads_as_csv(client: FlaskClient, db_session: Session) -> None:
    make_world(db_session)
    for name, columns in (
        ("demand", market.DEMAND_COLUMNS),
        ("waiting", market.WAITING_COLUMNS),
        ("unmet", market.UNMET_COLUMNS),
        ("prices", market.PRICE_COLUMNS),
    ):
        response = client.get(f"/market/riverford/{name}.csv")
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert f"riverford-market-{name}.csv" in response.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows[0] == [c.name for c in columns]
    demand = client.get("/market/riverford/demand.csv").text
    assert market.HIDDEN_CSV in demand


def test_the_json_version(client: FlaskClient, db_session: Session) -> None:
    world = make_world(db_session)
    body = client.get("/api/v1/market/riverford").json
    assert body["council"] == {"name": world.council.name, "slug": "riverford"}
    assert body["threshold"] == 10
    assert [r["name"] for r in body["rounds"]] == ["Spring"]
    [art] = [
        r for r in body["tables"]["demand"] if (r["category"], r["area"]) == ("creative", "north")
    ]
    assert art["people_who_chose"] == 25
    assert art["left_without_a_place"] is None
    assert body["hidden"] == sum(
        v is None for rows in body["tables"].values() for r in rows for v in r.values()
    )
    assert set(body["tables"]) == {"demand", "waiting", "unmet", "prices"}


def test_the_json_version_is_in_the_openapi_document(app: Flask) -> None:
    spec = app.test_client().get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/market/{council_slug}"]["get"]
    assert set(operation["responses"]) >= {"200", "404"}
    row = spec["components"]["schemas"]["MarketDemandRow"]
    assert row["properties"]["left_without_a_place"]["nullable"] is True
    assert "nullable" not in row["properties"]["round"]


def test_unknown_councils_and_tables_are_404(client: FlaskClient, db_session: Session) -> None:
    make_world(db_session)
    assert client.get("/market/nowhere").status_code == 404
    assert client.get("/market/riverford/people.csv").status_code == 404
    answer = client.get("/api/v1/market/nowhere")
    assert answer.status_code == 404
    assert set(answer.json) == {"code", "status", "message", "errors"}
    assert answer.headers["Cache-Control"] == "no-store"


def test_the_demo_statement(app: Flask, db_session: Session) -> None:
    """The demo council's statement draws, with every count of people 0, 10 or more."""
    from web.services.demo import build_demo

    build_demo(db_session, persons=60)
    db_session.flush()
    client = app.test_client()
    slug = market.councils_with_statements(db_session)[0].slug
    assert client.get(f"/market/{slug}").status_code == 200
    body = client.get(f"/api/v1/market/{slug}").json
    assert body["rounds"]
    for name, rows in body["tables"].items():
        counts = {
            "demand": ("people_who_chose", "first_choices", "got_a_place"),
            "waiting": ("places_taken", "people_waiting"),
            "unmet": ("people_who_want_it", "have_a_place", "not_met"),
            "prices": (),
        }[name]
        for row in rows:
            for field in counts:
                assert row[field] in (None, 0) or row[field] >= 10, (name, row)


def test_the_open_referral_feed_links_the_statement(
    client: FlaskClient, db_session: Session
) -> None:
    make_world(db_session)
    root = client.get("/openreferral/riverford/")
    assert root.status_code == 200
    assert root.headers["Link"] == (
        '<http://localhost/market/riverford>; rel="related"; title="Market position statement"'
    )
    assert set(root.json) == {"version", "profile", "openapi_url"}
