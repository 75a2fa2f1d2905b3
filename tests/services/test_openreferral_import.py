"""Importing Open Referral UK documents: the profile's examples, second imports, refusals."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import AuditEvent, Offer, OfferCategory, OfferStatus, Provider
from models.openreferral import SourceKind, SourceRecord
from models.people import AgeBand
from tests import factories
from web.api.openreferral.routes import PROFILE
from web.services.openreferral_import import (
    SourceProblem,
    import_services,
    read_file,
    services_in,
)

EXAMPLES = PROFILE / "examples"


def _example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text("utf-8"))


def _service(service_id: str, name: str, org_id: str = "org-1", **extra: Any) -> dict[str, Any]:
    return {
        "id": service_id,
        "name": name,
        "description": f"{name}, every week.",
        "organization": {"id": org_id, "name": f"Organisation {org_id}", "description": "Ours."},
        "cost_options": [{"id": f"cost-{service_id}", "amount": 12.5}],
        **extra,
    }


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def council(db_session: Session) -> Any:
    return factories.CouncilFactory(slug="eastholm", areas=["north", "MyCity", "east"])


def test_the_profiles_full_service_becomes_a_draft_offer(db_session: Session, council: Any) -> None:
    report = import_services(db_session, council, services_in(_example("service_full.json"), "x"))

    assert [(r.kind, r.result) for r in report.records] == [
        (SourceKind.organization, "created"),
        (SourceKind.service, "created"),
    ]
    offer = db_session.scalars(select(Offer)).one()
    assert offer.title == "Community Counselling"
    assert offer.status == OfferStatus.draft
    assert offer.capacity == 0
    assert offer.price_pence == 3500
    assert offer.category == OfferCategory.social  # the example names no service type
    # TH,FR 10:00-18:00 overlaps the morning, the afternoon and the evening.
    assert offer.schedule == {
        "thu": ["morning", "afternoon", "evening"],
        "fri": ["morning", "afternoon", "evening"],
    }
    # Ages 12 to 100: every age band Tapestry has.
    assert (offer.min_age_band, offer.max_age_band) == (None, None)
    assert offer.location == "MyCity Civic Center"
    assert "induction loops" in (offer.accessibility or "")
    # The example's latitude is 100, not on the Earth: left out, and said so.
    assert offer.latitude is None and offer.longitude is None
    notes = " ".join(report.records[1].notes)
    assert "coordinates" in notes and "no places" in notes and "service type" in notes
    provider = db_session.get(Provider, offer.provider_id)
    assert provider is not None
    assert provider.name == "Example Organization Inc."
    assert provider.council_id == council.id
    assert provider.registered_identifier == "1234567"


def test_a_second_import_of_the_same_documents_changes_nothing(
    db_session: Session, council: Any
) -> None:
    services = services_in(_example("organization_full.json"), "x")
    import_services(db_session, council, copy.deepcopy(services))
    db_session.flush()
    counts = [_count(db_session, m) for m in (Provider, Offer, SourceRecord, AuditEvent)]
    changed_at = db_session.scalars(select(Offer.updated_at)).all()

    again = import_services(db_session, council, copy.deepcopy(services))

    assert {r.result for r in again.records} == {"unchanged"}
    assert [_count(db_session, m) for m in (Provider, Offer, SourceRecord, AuditEvent)] == counts
    assert db_session.scalars(select(Offer.updated_at)).all() == changed_at


def test_a_changed_service_is_updated_in_place(db_session: Session, council: Any) -> None:
    first = _service("s-1", "Gardening club", service_areas=[{"id": "a", "name": "North"}])
    import_services(db_session, council, [first])
    offer = db_session.scalars(select(Offer)).one()
    offer.capacity = 9  # the provider said how many places
    db_session.flush()

    changed = {**first, "name": "Gardening club and allotment", "minimum_age": 18}
    report = import_services(db_session, council, [changed])

    assert [r.result for r in report.records] == ["unchanged", "updated"]
    assert db_session.scalars(select(Offer)).one() is offer
    assert offer.title == "Gardening club and allotment"
    assert offer.min_age_band == AgeBand.age_18_24
    assert offer.area == "north"  # the council's spelling of its area
    assert offer.capacity == 9  # an import never touches places
    assert offer.status == OfferStatus.draft


def test_one_refused_service_refuses_its_whole_organisation(
    db_session: Session, council: Any
) -> None:
    good = _service("s-1", "Cooking together")
    bad = _service("s-2", "x" * 300)
    other = _service("s-3", "Walking group", org_id="org-2")

    report = import_services(db_session, council, [good, bad, other])

    results = {(r.kind.value, r.source_id): (r.result, r.reason) for r in report.records}
    assert results[("organization", "org-1")][0] == "refused"
    assert results[("service", "s-2")][0] == "refused"
    assert "title" in (results[("service", "s-2")][1] or "")
    assert results[("service", "s-1")] == (
        "refused",
        "not imported: another record of its organisation was refused",
    )
    assert results[("organization", "org-2")][0] == "created"
    assert results[("service", "s-3")][0] == "created"
    assert db_session.scalars(select(Offer.title)).all() == ["Walking group"]
    assert db_session.scalars(select(Provider.name)).all() == ["Organisation org-2"]
    assert _count(db_session, SourceRecord) == 2


def test_records_without_ids_organisations_or_with_repeated_ids_are_refused(
    db_session: Session, council: Any
) -> None:
    no_id = _service("", "Nameless id")
    no_org = {"id": "s-9", "name": "Alone"}
    twice = [_service("s-1", "One"), _service("s-1", "One again", org_id="org-1")]
    foreign = _service("s-5", "Paid in euros", org_id="org-5")
    foreign["cost_options"] = [{"id": "c", "amount": 10, "currency": "EUR"}]

    report = import_services(db_session, council, [no_id, no_org, *twice, foreign])

    reasons = {r.source_id: r.reason for r in report.refused if r.kind == SourceKind.service}
    assert reasons[""] == "the service has no id"
    assert "names no organisation" in (reasons["s-9"] or "")
    assert "another service of the feed" in (reasons["s-1"] or "")
    assert "EUR" in (reasons["s-5"] or "")
    assert _count(db_session, Offer) == 0
    assert _count(db_session, Provider) == 0


def test_taxonomy_terms_give_the_service_type_and_outcomes(
    db_session: Session, council: Any
) -> None:
    factories.OutcomeTagFactory(slug="paid-work", label="Getting a paid job")
    terms = [
        {"taxonomy_term": {"id": "t1", "name": "Employment", "code": "employment"}},
        {"taxonomy_term": {"id": "t2", "name": "Getting a paid job", "code": "paid-work"}},
        {"taxonomy_term": {"id": "t3", "name": "Something else", "code": "LGA-123"}},
    ]
    service = _service("s-1", "Job club", attributes=terms)
    service["schedules"] = [
        {"id": "x", "freq": "WEEKLY", "byday": "MO", "opens_at": "17:30", "closes_at": "20:00"},
        {"id": "y", "freq": "MONTHLY", "byday": "1TU", "opens_at": "10:00", "closes_at": "11:00"},
        {"id": "z", "freq": "DAILY", "opens_at": "10:00", "closes_at": "11:00"},
    ]

    report = import_services(db_session, council, [service])

    offer = db_session.scalars(select(Offer)).one()
    assert offer.category == OfferCategory.employment
    assert [t.slug for t in offer.outcome_tags] == ["paid-work"]
    assert offer.schedule == {"mon": ["evening"], "tue": ["morning"]}
    assert [r["rrule"] for r in offer.schedule_rules] == [
        "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO",
        "FREQ=MONTHLY;INTERVAL=1;BYDAY=1TU",
    ]
    notes = " ".join(report.records[1].notes)
    assert "1 taxonomy terms" in notes and "not weekly" in notes


def test_files_of_every_shape_the_profile_shows_are_read(tmp_path: Path) -> None:
    for name in ("service_full.json", "service_list.json", "organization_full.json"):
        path = tmp_path / name
        path.write_text(json.dumps(_example(name)), "utf-8")
        services = read_file(path)
        assert services and all(s["name"] == "Community Counselling" for s in services)
        assert all(s["organization"]["id"] for s in services)


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"{not json", "not JSON"), (b'{"hello": 1}', "holds no Open Referral services")],
)
def test_a_file_that_is_not_a_feed_is_named(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "feed.json"
    path.write_bytes(content)
    with pytest.raises(SourceProblem) as caught:
        read_file(path)
    assert words in caught.value.problems[0] and str(path) in caught.value.problems[0]


def test_addresses_languages_and_contacts_come_in(db_session: Session, council: Any) -> None:
    service = _service("s-1", "Polish cooking")
    service["service_at_locations"] = [
        {
            "id": "sal-1",
            "location": {
                "id": "loc-1",
                "name": "The Old Mill",
                "addresses": [
                    {
                        "id": "a-1",
                        "address_1": "12 Mill Lane",
                        "city": "Westmere",
                        "state_province": "",
                        "postal_code": "tr1 1aa",
                        "country": "GB",
                        "address_type": "physical",
                    }
                ],
            },
        }
    ]
    service["languages"] = [{"id": "l-1", "name": "Polish"}, {"id": "l-2"}]
    service["contacts"] = [{"id": "c-1", "name": "Sam"}]

    import_services(db_session, council, [service])

    offer = db_session.scalars(select(Offer)).one()
    assert (offer.location, offer.address_line, offer.town, offer.postcode) == (
        "The Old Mill",
        "12 Mill Lane",
        "Westmere",
        "TR1 1AA",
    )
    assert offer.languages == ["Polish"]  # a language with only an id says nothing
    assert offer.contact_name == "Sam"


def test_a_postcode_that_is_not_a_uk_one_is_left_out_and_said(
    db_session: Session, council: Any
) -> None:
    report = import_services(db_session, council, services_in(_example("service_full.json"), "x"))
    assert db_session.scalars(select(Offer.postcode)).one() is None
    assert "postcode 'ABC 1234' is not a UK one" in " ".join(report.records[1].notes)


def test_need_level_terms_give_the_range_of_need_levels(db_session: Session, council: Any) -> None:
    def levels(*numbers: int) -> list[dict[str, Any]]:
        return [{"taxonomy_term": {"id": f"n{n}", "code": f"need-level-{n}"}} for n in numbers]

    report = import_services(
        db_session,
        council,
        [
            _service("s-1", "Some support", attributes=levels(2, 3, 4)),
            _service("s-2", "From level 5", attributes=levels(5, 7, 8, 9, 10)),
        ],
    )
    offers = {o.title: o for o in db_session.scalars(select(Offer))}
    assert (offers["Some support"].min_need_level, offers["Some support"].max_need_level) == (2, 4)
    assert (offers["From level 5"].min_need_level, offers["From level 5"].max_need_level) == (
        5,
        None,
    )
    assert "gaps" in " ".join(report.records[2].notes)
    assert "taxonomy terms" not in " ".join(report.records[1].notes)
