"""A person's postcode on "About me": tidied, checked, and turned into a point for distances."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEvent, OfferStatus
from tests import factories
from tests.services.person_world import World, make_world
from web.services.catalogue import matched_for_you
from web.services.errors import InvalidInput
from web.services.profiles import update_about_me


def change(session: Session, w: World, postcode: str | None) -> None:
    update_about_me(
        session,
        w.user,
        w.person,
        aspirations_text="I want a job in a children's nursery.",
        tag_slugs=["work-with-children"],
        max_travel_km="8",
        availability={"mon": ["morning"]},
        postcode=postcode,
    )


def located(w: World, postcode: str, lat: float, lon: float, **kw: object) -> None:
    provider = factories.ProviderFactory(council=w.council)
    factories.OfferFactory(provider=provider, postcode=postcode, latitude=lat, longitude=lon, **kw)


def test_a_postcode_typed_any_way_is_kept_tidy_with_the_point_of_services_there(
    db_session: Session,
) -> None:
    w = make_world()
    located(w, "NT1 4AA", 52.61, -1.21)
    located(w, "NT1 4AA", 52.63, -1.23)
    change(db_session, w, "  nt1   4aa ")
    assert w.person.postcode == "NT1 4AA"
    assert w.person.latitude == pytest.approx(52.62)
    assert w.person.longitude == pytest.approx(-1.22)


def test_a_postcode_no_service_has_takes_the_middle_of_its_district(db_session: Session) -> None:
    w = make_world()
    located(w, "NT1 4AA", 52.60, -1.20)
    located(w, "NT1 9ZZ", 52.64, -1.24)
    located(w, "NT12 1AB", 53.00, -2.00)  # another district, though it starts the same
    located(w, "NT1 5QQ", 51.0, -3.0, status=OfferStatus.draft)  # not published: not used
    change(db_session, w, "NT1 7BD")
    assert (w.person.latitude, w.person.longitude) == (
        pytest.approx(52.62),
        pytest.approx(-1.22),
    )


def test_an_unknown_district_keeps_the_postcode_and_matches_by_area(db_session: Session) -> None:
    w = make_world()
    change(db_session, w, "ZE2 9QX")
    assert w.person.postcode == "ZE2 9QX"
    assert (w.person.latitude, w.person.longitude) == (None, None)
    view = matched_for_you(db_session, w.user, w.person)
    nursery = next(item for item in view.items if item.offer is w.offers["nursery"])
    assert "It is in Northtown, where you live." in [r.text for r in nursery.match.reasons]


def test_a_malformed_postcode_is_named_and_nothing_changes(db_session: Session) -> None:
    w = make_world()
    before = (w.person.postcode, w.person.latitude, w.person.aspirations_text)
    for typed in ("EX1", "12345", "EX1 1AAA", "E X 1 1AA!"):
        with pytest.raises(InvalidInput) as caught:
            change(db_session, w, typed)
        assert caught.value.errors == {"postcode": "Enter a real postcode, like EX1 1AA"}
        assert (w.person.postcode, w.person.latitude, w.person.aspirations_text) == before


def test_blank_takes_the_postcode_and_point_away_and_none_leaves_them(
    db_session: Session,
) -> None:
    w = make_world()
    located(w, "NT1 4AA", 52.61, -1.21)
    change(db_session, w, "NT1 4AA")
    change(db_session, w, None)
    assert (w.person.postcode, w.person.latitude) == ("NT1 4AA", pytest.approx(52.61))
    change(db_session, w, "   ")
    assert (w.person.postcode, w.person.latitude, w.person.longitude) == (None, None, None)


def test_the_audit_trail_says_the_postcode_changed_but_not_what_it_is(
    db_session: Session,
) -> None:
    w = make_world()
    change(db_session, w, "NT1 4AA")
    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "profile.updated")
    ).all()
    assert "postcode" in events[-1].details["changed"]
    assert "NT1" not in str(events[-1].details)


def test_distance_from_the_postcode_is_said_in_miles(db_session: Session) -> None:
    w = make_world()
    # The nursery is at 52.643, -1.20 (person_world); a service at the person's postcode
    # 4.8 km south of it puts the person about 3 miles away.
    located(w, "NT1 4AA", 52.600, -1.20)
    change(db_session, w, "NT1 4AA")
    view = matched_for_you(db_session, w.user, w.person)
    nursery = next(item for item in view.items if item.offer is w.offers["nursery"])
    assert "It is in Northtown, about 3 miles away." in [r.text for r in nursery.match.reasons]
