"""Publication, accepting and declining places, re-offers by each mechanism, statements."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import (
    Allocation,
    AllocationStatus,
    AuditEvent,
    Budget,
    Commitment,
    Offer,
    OfferStatus,
    RoundOffer,
    RoundStatus,
)
from tests import factories
from tests.services.commissioning_world import CommissioningWorld, make_round, solved_run
from web.services import allocation_runs as runs
from web.services import allocations, offers
from web.services.errors import Conflict, InvalidInput, NotAllowed


def places(world: CommissioningWorld) -> dict[str, tuple[int, int]]:
    world.session.expire_all()
    return {
        name: (ro.places_taken, ro.places)
        for name in world.offers
        for ro in [
            world.session.scalars(
                select(RoundOffer).where(
                    RoundOffer.round_id == world.round.id,
                    RoundOffer.offer_id == world.offers[name].id,
                )
            ).one()
        ]
    }


def held(world: CommissioningWorld) -> dict[str, str]:
    """Who holds (offered or accepted) which offer."""
    names = {o.id: n for n, o in world.offers.items()}
    rows = world.session.scalars(
        select(Allocation).where(
            Allocation.round_id == world.round.id,
            Allocation.status.in_((AllocationStatus.offered, AllocationStatus.accepted)),
        )
    )
    return {world.by_person_id(a.person_id): names[a.offer_id] for a in rows}


def allocation_of(world: CommissioningWorld, name: str) -> Allocation:
    return world.session.scalars(
        select(Allocation).where(
            Allocation.person_id == world.people[name].id,
            Allocation.status == AllocationStatus.offered,
        )
    ).one()


def check_books(world: CommissioningWorld) -> None:
    """Places taken equal places held, and committed money equals live commitments."""
    session = world.session
    session.expire_all()
    for ro in session.scalars(select(RoundOffer).where(RoundOffer.round_id == world.round.id)):
        holding = session.scalar(
            select(func.count()).where(
                Allocation.round_id == world.round.id,
                Allocation.offer_id == ro.offer_id,
                Allocation.status.in_((AllocationStatus.offered, AllocationStatus.accepted)),
            )
        )
        assert ro.places_taken == holding <= ro.places
    for budget in session.scalars(select(Budget).where(Budget.round_id == world.round.id)):
        live = session.scalar(
            select(func.coalesce(func.sum(Commitment.amount_pence), 0)).where(
                Commitment.budget_id == budget.id, Commitment.released_at.is_(None)
            )
        )
        assert budget.committed_pence == live <= budget.amount_pence


def test_publish_offers_every_placement_and_takes_its_place(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = make_round(db_session)
    run = solved_run(world, session_factory)
    made = allocations.publish_run(db_session, world.commissioner, world.round, run)
    assert len(made) == 5
    assert world.round.status == RoundStatus.published
    assert world.round.published_run_id == run.id
    assert places(world) == {"art": (2, 2), "cafe": (1, 1), "garden": (2, 2)}
    assert all(a.status == AllocationStatus.offered and a.explanation for a in made)
    with pytest.raises(Conflict):
        allocations.publish_run(db_session, world.commissioner, world.round, run)
    check_books(world)


def test_a_run_that_overspends_the_pot_is_published_only_with_a_reason(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = make_round(db_session, pot_pence=30_000)  # stable: the pot is not enforced
    run = solved_run(world, session_factory)
    breaches = allocations.run_breaches(run)
    assert breaches == ["It spends £510, which is £210 more than the £300 pot."]
    with pytest.raises(InvalidInput) as refused:
        allocations.publish_run(db_session, world.commissioner, world.round, run)
    assert "It spends £510" in refused.value.errors["override_reason"]
    with pytest.raises(InvalidInput):
        allocations.publish_run(
            db_session, world.commissioner, world.round, run, override_reason="  \n "
        )
    with pytest.raises(InvalidInput) as too_long:
        allocations.publish_run(
            db_session, world.commissioner, world.round, run, override_reason="x" * 2001
        )
    assert "2,000 characters" in too_long.value.errors["override_reason"]
    db_session.expire_all()
    assert world.round.status == RoundStatus.allocated  # still waiting to be published
    assert db_session.scalar(select(func.count()).select_from(Allocation)) == 0

    allocations.publish_run(
        db_session,
        world.commissioner,
        world.round,
        run,
        override_reason="The council agreed  extra money on 1 December.",
    )
    assert world.round.status == RoundStatus.published
    assert world.round.override_reason == "The council agreed extra money on 1 December."
    assert world.round.override_breaches == breaches
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "round.publish")).one()
    assert event.actor_user_id == world.commissioner.id
    assert event.details["override_reason"] == world.round.override_reason
    assert event.details["breaches"] == breaches
    check_books(world)


def test_a_run_that_keeps_its_limits_needs_no_reason_and_keeps_none(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = make_round(db_session, pot_pence=60_000)
    run = solved_run(world, session_factory)
    assert allocations.run_breaches(run) == []
    allocations.publish_run(
        db_session, world.commissioner, world.round, run, override_reason="Not needed"
    )
    assert world.round.override_reason is None and world.round.override_breaches is None


def test_accept_commits_money_to_the_provider(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    ada = world.people["Ada"]
    place = allocation_of(world, "Ada")
    allocations.accept_place(db_session, ada.user, ada, place.id)
    assert place.status == AllocationStatus.accepted
    budget = db_session.scalars(select(Budget).where(Budget.person_id == ada.id)).one()
    assert budget.committed_pence == 15_000
    assert place.commitment is not None
    assert place.commitment.provider_id == world.offers["cafe"].provider_id
    with pytest.raises(Conflict):
        allocations.accept_place(db_session, ada.user, ada, place.id)
    with pytest.raises(Conflict):
        allocations.decline_place(db_session, ada.user, ada, place.id)
    statement = allocations.person_statement(db_session, ada.user, ada, world.round)
    assert statement.spent_pence == 15_000
    lines = allocations.provider_statement(db_session, world.offers["cafe"].provider_id)
    assert [(line.person_name, line.amount_pence) for line in lines] == [("Ada", 15_000)]
    csv_text = allocations.statement_csv(allocations.round_statement(db_session, world.round))
    cafe = world.offers["cafe"]
    assert csv_text.splitlines()[1].split(",")[1:] == [
        str(ada.id), "Ada", str(cafe.id), "Cafe", str(cafe.provider_id), "Green Hands", "150.00",
        "committed",
    ]  # fmt: skip
    check_books(world)


def test_a_place_on_a_withdrawn_or_full_service_cannot_be_accepted(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    ada = world.people["Ada"]
    cafe = world.offers["cafe"]
    # Only data from before withdrawals were guarded can look like this.
    cafe.status = OfferStatus.withdrawn
    db_session.flush()
    with pytest.raises(Conflict) as refused:
        allocations.accept_place(db_session, ada.user, ada, allocation_of(world, "Ada").id)
    assert "withdrawn by its provider" in refused.value.message
    cafe.status = OfferStatus.published
    cafe.capacity = 0
    db_session.flush()
    with pytest.raises(Conflict) as full:
        allocations.accept_place(db_session, ada.user, ada, allocation_of(world, "Ada").id)
    assert "no place left" in full.value.message
    assert allocation_of(world, "Ada").status == AllocationStatus.offered
    budget = db_session.scalars(select(Budget).where(Budget.person_id == ada.id)).one()
    assert budget.committed_pence == 0
    check_books(world)


def test_a_run_with_a_service_withdrawn_since_cannot_be_published(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = make_round(db_session)
    run = solved_run(world, session_factory)
    provider = world.offers["cafe"].provider
    member = factories.ProviderMemberFactory(provider=provider).user
    offers.withdraw_offer(db_session, member, provider, world.offers["cafe"].id)
    with pytest.raises(Conflict) as refused:
        allocations.publish_run(db_session, world.commissioner, world.round, run)
    assert refused.value.message == (
        "Cafe in this run was withdrawn by its provider. Run the allocation again."
    )


def test_a_service_whose_places_people_hold_cannot_be_withdrawn(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    cafe = world.offers["cafe"]
    member = factories.ProviderMemberFactory(provider=cafe.provider).user
    with pytest.raises(Conflict) as refused:
        offers.withdraw_offer(db_session, member, cafe.provider, cafe.id)
    assert refused.value.message == (
        "1 place on this service is offered to or taken by people in Spring. "
        "Ask the council to move them first."
    )
    with pytest.raises(InvalidInput) as cut:
        offers.set_capacity(db_session, member, cafe.provider, cafe.id, 0)
    assert cut.value.errors["capacity"].startswith(
        "1 place is offered to or taken by people in Spring, so there must be at least 1."
    )
    db_session.expire_all()
    assert db_session.get(Offer, cafe.id).status == OfferStatus.published
    check_books(world)


def test_someone_else_cannot_accept_for_a_person(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    ben = world.people["Ben"]
    with pytest.raises(NotAllowed):
        allocations.accept_place(db_session, ben.user, world.people["Ada"], 1)


def test_stable_decline_goes_to_highest_priority_and_cascades(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    # Ada (need 8) has the cafe; Ben (need 2) wanted it first but got nothing: cafe -> Ben.
    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    assert held(world) == {
        "Ada": "cafe", "Cal": "art", "Dee": "art", "Eve": "garden", "Fay": "garden",
    }  # fmt: skip
    ada = world.people["Ada"]
    allocations.decline_place(db_session, ada.user, ada, allocation_of(world, "Ada").id)
    assert held(world) == {
        "Ben": "cafe", "Cal": "art", "Dee": "art", "Eve": "garden", "Fay": "garden",
    }  # fmt: skip
    check_books(world)
    # Dee declines art. Who wants art and is worse off? Ada declined the cafe and ranked art
    # second (need 8); Fay holds garden (her first choice), so she would not move.
    dee = world.people["Dee"]
    allocations.decline_place(db_session, dee.user, dee, allocation_of(world, "Dee").id)
    assert held(world)["Ada"] == "art"
    check_books(world)
    reoffer = allocation_of(world, "Ada")
    assert reoffer.explanation["source"] == "reoffer"
    actions = db_session.scalars(select(AuditEvent.action)).all()
    assert actions.count("allocation.reoffer") == 2


def test_stable_move_up_gives_back_the_old_place(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    people = {
        "Ada": ("north", 9, 30_000, ["cafe"]),
        "Ben": ("north", 5, 30_000, ["cafe", "art"]),
        "Cal": ("south", 1, 30_000, ["art"]),
    }
    offers = {"art": (1, 10_000), "cafe": (1, 15_000)}
    world = make_round(db_session, people=people, offers=offers)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    assert held(world) == {"Ada": "cafe", "Ben": "art"}
    ada = world.people["Ada"]
    allocations.decline_place(db_session, ada.user, ada, allocation_of(world, "Ada").id)
    # Ben moves up to the cafe, and the art place he gave back goes to Cal.
    assert held(world) == {"Ben": "cafe", "Cal": "art"}
    withdrawn = db_session.scalars(
        select(Allocation).where(Allocation.status == AllocationStatus.withdrawn)
    ).one()
    assert world.by_person_id(withdrawn.person_id) == "Ben"
    check_books(world)


def test_a_person_who_accepted_is_not_moved(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    people = {
        "Ada": ("north", 9, 30_000, ["cafe"]),
        "Ben": ("north", 5, 30_000, ["cafe", "art"]),
    }
    offers = {"art": (1, 10_000), "cafe": (1, 15_000)}
    world = make_round(db_session, people=people, offers=offers)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    ben = world.people["Ben"]
    allocations.accept_place(db_session, ben.user, ben, allocation_of(world, "Ben").id)
    ada = world.people["Ada"]
    allocations.decline_place(db_session, ada.user, ada, allocation_of(world, "Ada").id)
    assert held(world) == {"Ben": "art"}
    assert places(world) == {"art": (1, 1), "cafe": (0, 1)}
    check_books(world)


def test_welfare_decline_goes_to_the_biggest_gain_within_budget(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    people = {
        "Ada": ("north", 1, 30_000, ["cafe"]),
        "Ben": ("north", 9, 30_000, ["art", "cafe"]),  # cafe second: smaller gain
        "Cal": ("south", 1, 30_000, ["garden", "cafe"]),  # holds garden, cafe worth less
        "Dee": ("south", 1, 30_000, ["cafe"]),  # no place, cafe first: the biggest gain
        "Eve": ("south", 1, 10_000, ["cafe"]),  # cannot afford the cafe
    }
    offers = {"art": (1, 10_000), "cafe": (1, 15_000), "garden": (1, 8_000)}
    world = make_round(db_session, mechanism="welfare", people=people, offers=offers)
    run = solved_run(world, session_factory)
    assert run.status_of_result == "optimal"
    allocations.publish_run(db_session, world.commissioner, world.round, run)
    before = held(world)
    assert before["Cal"] == "garden" and before["Ben"] == "art"
    holder = next(n for n, o in before.items() if o == "cafe")
    assert holder in ("Ada", "Dee")
    person = world.people[holder]
    allocations.decline_place(db_session, person.user, person, allocation_of(world, holder).id)
    after = held(world)
    # The other of Ada and Dee gains 1000 (cafe first, no place); Ben would gain 800 - 1000 < 0
    # by swapping art, Cal less than garden; Eve cannot afford it.
    assert [n for n, o in after.items() if o == "cafe"] == [{"Ada": "Dee", "Dee": "Ada"}[holder]]
    check_books(world)


def test_explanations_are_the_engines(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    from engine.explain import explain
    from engine.explain_io import explanations_to_dict
    from engine.reader import read_instance

    world = make_round(db_session)
    run = solved_run(world, session_factory)
    made = allocations.publish_run(db_session, world.commissioner, world.round, run)
    instance = read_instance(run.instance_json)
    result = runs.result_from_dict(runs.run_result(run))
    engine_says = explanations_to_dict(explain(instance, result))
    stored = dict(run.analysis)
    assert stored.pop("explain_seconds") >= 0
    engine_says.pop("explain_seconds")
    assert stored == engine_says  # the run keeps the spec's whole document
    entries = {e["id"]: e for e in engine_says["persons"]}
    assert len(entries) == len(instance.persons)

    for allocation in made:
        entry = entries[runs.person_key(allocation.person_id)]
        assert allocation.explanation == entry
        assert entry["ranks_held"] == [allocation.rank]
    # Ada got her first choice: nothing above it to explain. Dee got art (first) too.
    ada = next(a for a in made if a.person_id == world.people["Ada"].id)
    assert ada.explanation["why_not"] == []
    ben = world.people["Ben"]  # no place: every offer he ranked is explained
    mine = allocations.my_places(db_session, ben.user, ben)
    assert mine.allocations == []
    assert mine.explanation == entries[runs.person_key(ben.id)]
    assert [r["offer"] for r in mine.explanation["why_not"]] == [
        f"o-{world.offers['cafe'].id}", f"o-{world.offers['garden'].id}",
    ]  # fmt: skip
    assert {r["code"] for r in mine.explanation["why_not"]} <= {
        "full_higher_priority", "over_budget", "no_places",
    }  # fmt: skip


def test_every_person_has_their_reason_once_published(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = make_round(db_session, mechanism="welfare")
    run = solved_run(world, session_factory)
    allocations.publish_run(db_session, world.commissioner, world.round, run)
    db_session.commit()
    for person in world.people.values():
        mine = allocations.my_places(db_session, person.user, person)
        assert mine.explanation is not None
        assert mine.explanation["id"] == runs.person_key(person.id)
        # Each reason is one of the spec's welfare codes (or one that comes before them).
        assert {w["code"] for w in mine.explanation["why_not"]} <= {
            "over_budget", "no_places", "tie", "capacity", "pot", "rule", "several_limits",
        }  # fmt: skip
