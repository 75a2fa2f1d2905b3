"""The Westmere demo's places and times: people's postcodes, offers' RFC 5545 rules, distances."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Offer, OfferStatus, PersonProfile
from models.db import make_engine, make_session_factory, upgrade
from web.services.demo import DISTRICTS, build_demo
from web.services.matching import match_offers
from web.services.postcodes import normal_postcode
from web.services.profiles import facts_for, offer_facts
from web.services.recurrence import pattern_from_rules, rule_parts


@pytest.fixture(scope="module")
def s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        build_demo(session, persons=60)
        session.commit()
        yield session
    engine.dispose()


def test_every_person_has_a_tidy_postcode_in_their_areas_district(s: Session) -> None:
    people = list(s.scalars(select(PersonProfile)))
    assert len(people) == 60
    for person in people:
        assert person.postcode is not None and normal_postcode(person.postcode) == person.postcode
        assert person.postcode.split()[0] == DISTRICTS[str(person.area)]
        assert person.latitude is not None and person.longitude is not None
    assert len({p.postcode for p in people}) > 30


def test_offers_run_as_rfc_5545_rules_that_fit_their_days_and_parts(s: Session) -> None:
    offers = list(s.scalars(select(Offer)))
    for offer in offers:
        assert offer.schedule_rules
        assert pattern_from_rules(offer.schedule_rules) == offer.schedule
        assert all(rule["dtstart"] for rule in offer.schedule_rules)
    intervals = {rule_parts(r)["INTERVAL"] for o in offers for r in o.schedule_rules}
    assert intervals == {"1", "2"}  # some meet every other week


def test_people_are_told_how_far_away_and_whether_they_are_free(s: Session) -> None:
    person = s.scalars(select(PersonProfile).order_by(PersonProfile.id)).first()
    assert person is not None
    published = s.scalars(select(Offer).where(Offer.status == OfferStatus.published))
    matches = match_offers(facts_for(person, None), [offer_facts(o) for o in published])
    words = [r.text for m in matches for r in m.reasons]
    assert any(" miles away" in w or "less than a mile away" in w for w in words)
    assert any(w.startswith("It runs every") for w in words)
    assert any("You are busy on" in w or "You are free then." in w for w in words)
