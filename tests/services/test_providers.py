"""Providers: the organisation profile, demand, unmet aspirations, placements and feedback."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AllocationStatus, AuditEvent, OfferStatus, RoundStatus
from tests import factories
from web.services import providers
from web.services.errors import InvalidInput, NotAllowed, NotFound


@pytest.fixture
def org(db_session: Session):  # type: ignore[no-untyped-def]
    council = factories.CouncilFactory(areas=["north", "south", "east"])
    provider = factories.ProviderFactory(council=council, areas_served=["north", "east"])
    member = factories.ProviderMemberFactory(provider=provider).user
    return council, provider, member


def test_provider_for_finds_the_users_organisation(db_session, org) -> None:
    _, provider, member = org
    assert providers.provider_for(db_session, member) is provider
    with pytest.raises(NotFound):
        providers.provider_for(db_session, factories.ProviderUserFactory())


def test_profile_update_checks_fields_and_is_audited(db_session, org) -> None:
    _, provider, member = org
    with pytest.raises(InvalidInput) as caught:
        providers.update_profile(
            db_session,
            member,
            provider,
            {
                "name": "",
                "description": "We run workshops.",
                "website": "not a web address",
                "email": "nope",
                "phone": "call us",
                "registered_identifier": "",
                "areas_served": ["north", "the moon"],
            },
        )
    assert set(caught.value.errors) == {"name", "website", "email", "phone", "areas_served"}
    providers.update_profile(
        db_session,
        member,
        provider,
        {"website": "https://new.example.org", "areas_served": ["south", "north"]},
        partial=True,
    )
    assert provider.website == "https://new.example.org"
    assert provider.areas_served == ["north", "south"]  # in the council's order
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "provider.updated")
    ).one()
    assert event.details == {"changed": ["areas_served", "website"]}


def test_only_members_can_change_the_profile(db_session, org) -> None:
    _, provider, _ = org
    outsider = factories.ProviderMemberFactory().user
    with pytest.raises(NotAllowed):
        providers.update_profile(db_session, outsider, provider, {"name": "Mine"}, partial=True)


def test_demand_counts_choices_first_choices_and_places(db_session, org) -> None:
    council, provider, member = org
    round_ = factories.RoundFactory(council=council)
    popular = factories.RoundOfferFactory(
        round=round_, offer=factories.OfferFactory(provider=provider, title="A"), places=1
    ).offer
    quiet = factories.RoundOfferFactory(
        round=round_, offer=factories.OfferFactory(provider=provider, title="B"), places=5
    ).offer
    outside = factories.OfferFactory(provider=provider, title="C")
    factories.OfferFactory(provider=provider, title="D", status=OfferStatus.draft)
    for rank in (1, 1, 2):
        factories.ChoiceFactory(round=round_, offer=popular, rank=rank)
    factories.ChoiceFactory(round=round_, offer=quiet, rank=3)
    view = providers.demand(db_session, member, provider)
    assert view.round is round_
    rows = {d.offer.title: d for d in view.offers}
    assert set(rows) == {"A", "B", "C"}
    assert (rows["A"].chosen_by, rows["A"].first_choices, rows["A"].places) == (3, 2, 1)
    assert rows["A"].oversubscribed
    assert (rows["B"].chosen_by, rows["B"].first_choices, rows["B"].places) == (1, 0, 5)
    assert not rows["B"].oversubscribed
    assert rows["C"].offer is outside and not rows["C"].in_round


def test_unmet_aspirations_are_wishes_no_published_offer_meets_in_that_area(
    db_session, org
) -> None:
    council, provider, member = org
    cooking = factories.OutcomeTagFactory(slug="cooking", label="Cooking")
    dance = factories.OutcomeTagFactory(slug="dance", label="Dancing")
    online = factories.OutcomeTagFactory(slug="coding", label="Coding")
    for area, tags in [
        ("north", [cooking, dance, online]),
        ("north", [cooking]),
        ("east", [dance]),
        ("south", [cooking]),  # not an area this provider serves
    ]:
        factories.PersonProfileFactory(user__council=council, area=area, outcome_tags=tags)
    # Dancing is offered in the north only; coding online (no area) for everyone.
    other = factories.ProviderFactory(council=council)
    factories.OfferFactory(provider=other, area="north", outcome_tags=[dance])
    factories.OfferFactory(provider=other, area=None, location="Online", outcome_tags=[online])
    factories.OfferFactory(
        provider=other, area="north", outcome_tags=[cooking], status=OfferStatus.withdrawn
    )
    gaps = providers.unmet_aspirations(db_session, provider)
    assert [(g.tag.slug, g.area, g.people) for g in gaps] == [
        ("cooking", "north", 2),
        ("dance", "east", 1),
    ]
    assert providers.demand(db_session, member, provider).unmet == gaps


def test_placements_show_own_published_places_with_names_only(db_session, org) -> None:
    council, provider, member = org
    offer = factories.OfferFactory(provider=provider, title="Pottery")
    run = factories.SolverRunFactory(
        round=factories.RoundFactory(council=council, status=RoundStatus.published)
    )
    run.round.published_run_id = run.id
    person = factories.PersonProfileFactory(user__council=council, display_name="Ann Lee")
    mine = factories.AllocationFactory(run=run, offer=offer, person=person)
    factories.AllocationFactory(run=run, offer=offer, status=AllocationStatus.declined)
    factories.AllocationFactory(run=run)  # another provider's place
    unpublished = factories.SolverRunFactory(round=factories.RoundFactory(council=council))
    factories.AllocationFactory(run=unpublished, offer=offer)
    db_session.flush()
    rows = providers.placements(db_session, member, provider)
    assert [(p.id, p.person_name, p.offer.title) for p in rows] == [(mine.id, "Ann Lee", "Pottery")]
    assert not hasattr(rows[0], "person")  # no route from a placement to the person's record


def test_feedback_averages_ratings_per_offer(db_session, org) -> None:
    _, provider, member = org
    offer = factories.OfferFactory(provider=provider, title="Pottery")
    factories.FeedbackFactory(offer=offer, rating=5, comment="Lovely")
    factories.FeedbackFactory(offer=offer, rating=2, comment=None)
    factories.FeedbackFactory(rating=1)  # someone else's offer
    [item] = providers.feedback(db_session, member, provider)
    assert item.offer is offer
    assert (item.rating_count, item.rating_average) == (2, 3.5)
    assert [c.comment for c in item.comments] == ["Lovely"]


def test_public_providers_have_a_published_offer(db_session, org) -> None:
    council, provider, _ = org
    hidden = factories.ProviderFactory(council=council)
    factories.OfferFactory(provider=hidden, status=OfferStatus.draft)
    factories.OfferFactory(provider=provider)
    listed = providers.public_providers(db_session, council=council.slug)
    assert listed == [provider]
    assert providers.public_providers(db_session, council=council.slug, area="south") == []
    with pytest.raises(NotFound):
        providers.public_provider(db_session, hidden.id)
