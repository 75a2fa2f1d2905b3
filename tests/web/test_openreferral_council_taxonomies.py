"""A council's own taxonomies in its Open Referral feed: loaded from a taxonomy file, listed
with their terms beside the national ones, used to tag offers, and searched by.

Every answer is validated against the profile's schemas (``uri`` and ``term_uri`` are
``format: uri``), as in ``test_openreferral_feed``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from models import Council, CouncilTaxonomy, CouncilTaxonomyTerm
from models.db import make_session_factory
from models.keys import use_keys
from tests import factories
from tests.web.api_helpers import assert_error
from tests.web.test_openreferral_feed import BASE, get_page, get_record
from web.cli import main
from web.services import offers
from web.services.errors import InvalidInput
from web.services.openreferral_taxonomies import load_taxonomies

TRANSPORT = "9b3c6d1e-0000-4000-8000-00000000000a"
BUS, TRAIN, DIAL = (f"9b3c6d1e-0000-4000-8000-0000000000{n}" for n in ("b1", "b2", "b3"))


def _document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": TRANSPORT,
        "name": "Westmere transport",
        "description": "How people get to a service.",
        "uri": "https://westmere.example.gov.uk/taxonomies/transport",
        "version": "2026-1",
        "taxonomy_terms": [
            {"id": BUS, "name": "By bus", "description": "On a bus route.", "term": "bus"},
            {"id": TRAIN, "name": "By train", "description": "Near a station.", "term": "train"},
            {
                "id": DIAL,
                "name": "Dial-a-ride",
                "description": "The council's minibus.",
                "term": "dial-a-ride",
                "parent_id": BUS,
                "term_uri": "https://westmere.example.gov.uk/transport/dial-a-ride",
            },
        ],
    }
    document.update(changes)
    return document


@pytest.fixture
def world(db_session: Session) -> dict[str, Any]:
    council = factories.CouncilFactory(slug="westmere", areas=["north"])
    provider = factories.ProviderFactory(council=council, areas_served=["north"])
    member = factories.ProviderMemberFactory(provider=provider).user
    offer = factories.OfferFactory(provider=provider, title="Alpha kitchen", area="north")
    factories.OfferFactory(provider=provider, title="Beta training", area="north")
    other = factories.CouncilFactory(slug="eastholm")
    db_session.flush()
    changes = load_taxonomies(db_session, council, _document())
    db_session.flush()
    return {
        "council": council,
        "other": other,
        "provider": provider,
        "member": member,
        "offer": offer,
        "changes": changes,
    }


def _terms(client: FlaskClient) -> dict[str, dict[str, Any]]:
    return {t["term"]: t for t in get_page(client, "taxonomy_terms", "?per_page=100")["contents"]}


def test_the_council_taxonomy_is_listed_with_its_terms(
    client: FlaskClient, world: dict[str, Any]
) -> None:
    assert [c.line() for c in world["changes"]] == [
        "created taxonomy 'Westmere transport': 3 terms added, 0 changed, 0 removed"
    ]
    taxonomies = get_page(client, "taxonomies")["contents"]
    names = [t["name"] for t in taxonomies]
    assert names == [
        "Tapestry service types",
        "Tapestry outcomes",
        "Tapestry need levels",
        "Westmere transport",
    ]
    own = taxonomies[-1]
    assert own["uri"] == "https://westmere.example.gov.uk/taxonomies/transport"
    assert own["version"] == "2026-1"
    # A national taxonomy's uri is its own record in this feed.
    assert taxonomies[0]["uri"] == f"http://localhost{BASE}/taxonomies/{taxonomies[0]['id']}"

    record = get_record(client, "taxonomies", own["id"])
    terms = record["taxonomy_terms"]
    assert [t["name"] for t in terms] == ["By bus", "By train", "Dial-a-ride"]
    assert {t["taxonomy_id"] for t in terms} == {own["id"]}
    assert terms[2]["parent_id"] == terms[0]["id"]
    assert terms[2]["term_uri"] == "https://westmere.example.gov.uk/transport/dial-a-ride"
    assert terms[0]["term_uri"] == f"http://localhost{BASE}/taxonomy_terms/{terms[0]['id']}"
    # Each term is also a record of its own, and in the list of every term.
    assert get_record(client, "taxonomy_terms", terms[1]["id"]) == terms[1]
    assert _terms(client)["train"] == terms[1]


def test_a_national_taxonomy_lists_its_terms(client: FlaskClient, world: dict[str, Any]) -> None:
    types = get_page(client, "taxonomies")["contents"][0]
    record = get_record(client, "taxonomies", types["id"])
    assert [t["term"] for t in record["taxonomy_terms"]][:2] == ["employment", "training"]
    for term in record["taxonomy_terms"]:
        assert term["taxonomy_id"] == types["id"]
        assert term["term_uri"] == f"http://localhost{BASE}/taxonomy_terms/{term['id']}"


def test_another_council_does_not_publish_it(client: FlaskClient, world: dict[str, Any]) -> None:
    own = get_page(client, "taxonomies")["contents"][-1]
    bus = _terms(client)["bus"]
    other = "/openreferral/eastholm"
    for path in (f"{other}/taxonomies/{own['id']}", f"{other}/taxonomy_terms/{bus['id']}"):
        response = client.get(path)
        assert_error(response, 404)
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    names = [t["name"] for t in client.get(f"{other}/taxonomies").get_json()["contents"]]
    assert "Westmere transport" not in names


def test_offers_tagged_with_its_terms_carry_and_are_found_by_them(
    client: FlaskClient, db_session: Session, world: dict[str, Any]
) -> None:
    terms = _terms(client)
    offer = world["offer"]
    offers.update_offer(
        db_session,
        world["member"],
        world["provider"],
        offer.id,
        {"council_terms": [terms["dial-a-ride"]["id"], terms["bus"]["id"]]},
        partial=True,
    )
    db_session.flush()  # the factory's offers are published
    service = get_record(client, "services", _service_id(client, "Alpha kitchen"))
    tagged = [a["taxonomy_term"]["term"] for a in service["attributes"]]
    assert tagged[-2:] == ["bus", "dial-a-ride"]

    def names(query: str) -> list[str]:
        return [s["name"] for s in get_page(client, "services", query)["contents"]]

    assert names(f"?taxonomy_term_id={terms['bus']['id']}") == ["Alpha kitchen"]
    assert names(f"?taxonomy_term_id={terms['train']['id']}") == []
    assert names(f"?taxonomy_id={terms['bus']['taxonomy_id']}") == ["Alpha kitchen"]


def _service_id(client: FlaskClient, name: str) -> str:
    page = get_page(client, "services", "?per_page=100")["contents"]
    return next(s["id"] for s in page if s["name"] == name)


def test_an_offer_cannot_take_another_councils_term(
    db_session: Session, world: dict[str, Any]
) -> None:
    load_taxonomies(db_session, world["other"], _document(name="Eastholm transport"))
    db_session.flush()
    theirs = db_session.scalar(
        select(CouncilTaxonomyTerm)
        .join(CouncilTaxonomy)
        .where(CouncilTaxonomy.council_id == world["other"].id)
    )
    assert theirs is not None
    from web.services.openreferral import COUNCIL_TERM, record_id

    for given in ([record_id(COUNCIL_TERM, theirs.id)], ["nonsense"], "bus"):
        with pytest.raises(InvalidInput) as raised:
            offers.update_offer(
                db_session,
                world["member"],
                world["provider"],
                world["offer"].id,
                {"council_terms": given},
                partial=True,
            )
        assert set(raised.value.errors) == {"council_terms"}
    assert world["offer"].council_terms == []


def test_loading_again_changes_nothing_then_follows_the_file(
    client: FlaskClient, db_session: Session, world: dict[str, Any]
) -> None:
    council = world["council"]
    again = load_taxonomies(db_session, council, _document())
    assert [c.line() for c in again] == [
        "unchanged taxonomy 'Westmere transport': 0 terms added, 0 changed, 0 removed"
    ]
    bus_id = _terms(client)["bus"]["id"]
    offers.update_offer(
        db_session,
        world["member"],
        world["provider"],
        world["offer"].id,
        {"council_terms": [_terms(client)["train"]["id"]]},
        partial=True,
    )
    # The council renames "bus" (same id: same record), swaps two codes, drops the train.
    changed = _document()
    changed["taxonomy_terms"] = [
        {"id": BUS, "name": "By coach", "description": "Coaches.", "term": "dial-a-ride"},
        {"id": DIAL, "name": "Dial-a-ride", "description": "Minibus.", "term": "bus"},
    ]
    result = load_taxonomies(db_session, council, changed)
    db_session.flush()
    assert [c.line() for c in result] == [
        "updated taxonomy 'Westmere transport': 0 terms added, 2 changed, 1 removed"
    ]
    terms = _terms(client)
    assert terms["dial-a-ride"]["id"] == bus_id
    assert terms["dial-a-ride"]["name"] == "By coach"
    assert "parent_id" not in terms["bus"]
    assert "train" not in terms
    db_session.refresh(world["offer"])
    assert world["offer"].council_terms == []  # its term was taken out


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "Tapestry outcomes"}, "name"),
        ({"uri": "not a web address"}, "uri"),
        ({"uri": "ftp://example.org/x"}, "uri"),
        ({"taxonomy_terms": "bus"}, "taxonomy_terms"),
        ({"taxonomy_terms": [{"id": BUS, "name": 7}]}, "taxonomy_terms[0].name"),
        (
            {"taxonomy_terms": [{"id": BUS, "name": "A"}, {"id": BUS, "name": "B"}]},
            "taxonomy_terms[1].id",
        ),  # fmt: skip
        (
            {"taxonomy_terms": [{"id": BUS, "name": "A", "parent_id": TRAIN}]},
            "taxonomy_terms[0].parent_id",
        ),  # fmt: skip
        (
            {
                "taxonomy_terms": [
                    {"id": BUS, "name": "A", "parent_id": DIAL},
                    {"id": DIAL, "name": "B", "parent_id": BUS},
                ]
            },
            "taxonomy_terms",
        ),  # fmt: skip
        (
            {"taxonomy_terms": [{"id": BUS, "name": "A", "term_uri": "a b"}]},
            "taxonomy_terms[0].term_uri",
        ),  # fmt: skip
    ],
)
def test_a_wrong_file_names_the_field_and_changes_nothing(
    db_session: Session, world: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    before = db_session.scalar(select(func.count()).select_from(CouncilTaxonomyTerm))
    with pytest.raises(InvalidInput) as raised:
        load_taxonomies(db_session, world["council"], _document(**change))
    assert field in raised.value.errors, raised.value.errors
    assert db_session.scalar(select(func.count()).select_from(CouncilTaxonomyTerm)) == before


def test_the_command_loads_a_file_and_refuses_a_wrong_one(
    fresh_database_url: str, fresh_engine: Engine, tmp_path: Path
) -> None:
    with make_session_factory(fresh_engine).begin() as session:
        session.add(Council(name="Eastholm", slug="eastholm", areas=["north"]))
    good = tmp_path / "transport.json"
    good.write_text(json.dumps({"contents": [_document()]}), "utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_document(name="", uri="nowhere")), "utf-8")

    def run(path: Path, slug: str = "eastholm") -> Any:
        try:
            return CliRunner().invoke(
                main,
                ["openreferral", "taxonomy", str(path), "--council", slug],
                env={"TAPESTRY_DATABASE_URL": fresh_database_url},
            )
        finally:
            use_keys(None)

    first = run(good)
    assert first.exit_code == 0, first.output
    assert first.stdout == (
        "created taxonomy 'Westmere transport': 3 terms added, 0 changed, 0 removed\n"
    )
    assert run(good).stdout.startswith("unchanged taxonomy")
    wrong = run(bad)
    assert wrong.exit_code == 2
    assert wrong.stderr.splitlines() == [
        f"tapestry: {bad}: name: Give the name: it is needed",
        f"tapestry: {bad}: uri: The uri must be a whole web address in plain letters, like "
        "https://example.org/taxonomy",
    ]
    assert run(good, "nowhere").exit_code == 2
    with make_session_factory(fresh_engine)() as session:
        assert session.scalar(select(func.count()).select_from(CouncilTaxonomyTerm)) == 3


def test_an_import_tags_offers_with_the_councils_own_terms(
    client: FlaskClient, db_session: Session, world: dict[str, Any]
) -> None:
    from web.services.openreferral_import import import_services

    terms = _terms(client)
    offers.update_offer(
        db_session,
        world["member"],
        world["provider"],
        world["offer"].id,
        {"council_terms": [terms["train"]["id"]]},
        partial=True,
    )
    db_session.flush()
    document = get_record(client, "services", _service_id(client, "Alpha kitchen"))
    # Another council with the same taxonomy (its own ids): matched by taxonomy and code.
    other = world["other"]
    load_taxonomies(db_session, other, _document(id=BUS, taxonomy_terms=[
        {"id": TRAIN, "name": "Train", "term": "bus"},
        {"id": DIAL, "name": "Rail", "term": "train"},
    ]))  # fmt: skip
    db_session.flush()
    report = import_services(db_session, other, [document])
    [offer_record] = [r for r in report.records if r.kind.value == "service"]
    assert offer_record.result == "created", offer_record
    assert not any("left out" in n for n in offer_record.notes), offer_record.notes
    copy = db_session.scalars(
        select(CouncilTaxonomyTerm)
        .join(CouncilTaxonomy)
        .where(CouncilTaxonomy.council_id == other.id)
    ).all()
    from models import Offer, SourceRecord

    source = db_session.scalars(
        select(SourceRecord).where(
            SourceRecord.council_id == other.id, SourceRecord.offer_id.is_not(None)
        )
    ).one()
    imported = db_session.get(Offer, source.offer_id)
    assert imported is not None
    assert [t.name for t in imported.council_terms] == ["Rail"]
    assert {t.name for t in copy} == {"Train", "Rail"}
    # Imported again: unchanged, terms and all.
    again = import_services(db_session, other, [document])
    assert [r.result for r in again.records if r.kind.value == "service"] == ["unchanged"]
    # A council without that taxonomy leaves the term out, and says so.
    third = factories.CouncilFactory(slug="thirdham", areas=["north"])
    db_session.flush()
    left = import_services(db_session, third, [document])
    [record] = [r for r in left.records if r.kind.value == "service"]
    assert any(
        "1 taxonomy terms that Tapestry does not use were left out" in n for n in record.notes
    )
