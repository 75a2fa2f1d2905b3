"""Publication, accepting and declining places, and the money that follows each choice.

Places. ``RoundOffer.places_taken`` counts the places *held*: offered (waiting for an answer)
or accepted. Publishing a run offers each of its placements and takes a place for it; a
declined or withdrawn offer gives its place back, and the place is offered to the next person
at once (:func:`offer_free_places`). Every change is a guarded update that checks its row
count, ``UPDATE round_offers SET places_taken = places_taken + 1 WHERE ... AND places_taken <
places``, and a CHECK constraint backs it up, so a place is never oversold.

Money. Accepting a place commits its price from the person's budget to the provider:
``UPDATE budgets SET committed_pence = committed_pence + :p WHERE id = :b AND committed_pence +
:p <= amount_pence`` (row count checked) and a :class:`~models.rounds.Commitment` row, so a
budget is never overspent.

Who gets a place that comes free (after a decline), by the round's mechanism:

* **stable** (deferred acceptance's priorities): among the people who ranked that offer, never
  had it, can afford it, and either hold no place or hold an *offered* (not yet accepted) place
  they ranked lower, the one with the highest priority: higher need, then lower lottery, then the
  smaller id. This is what deferred acceptance does when an offer gains a place: the best
  proposer it would have kept. A person who moves up gives their old place back, which is
  offered on by the same rule.
* **welfare**: among the same people, and with the round's pot still respected, the one whose
  utility rises most: their utility for the offer when they have room for another place, or its
  gain over the offered (not yet accepted) place of least utility they would give up. This is
  the run's own objective (total utility, the utilities of its stored instance), so the place
  goes where it adds the most. Ties go to the higher need, then the lower lottery, then the
  smaller id.

Each offer (at publication, re-offer or a council move) carries a deadline to answer,
``answer_by``: the round's ``answer_days`` from when it was made (:func:`answer_deadline`).

People who already accepted a place are not moved: they have decided and their money is
committed. Equity rules are not re-checked for a single place: offering it to someone who has
none only raises their group's coverage.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from models.accounts import User
from models.audit import append_event
from models.base import utcnow
from models.people import PersonProfile
from models.providers import Offer, OfferStatus, Provider, ProviderMember
from models.rounds import (
    Allocation,
    AllocationStatus,
    Budget,
    Commitment,
    Round,
    RoundOffer,
    RoundStatus,
    RunStatus,
    SolverRun,
)
from web.services import rule_checks
from web.services.acting import authorise, record
from web.services.allocation_runs import (
    key_id,
    offer_key,
    person_explanations,
    person_key,
)
from web.services.errors import Conflict, InvalidInput, NotFound
from web.services.notifications import (
    PLACE_OFFERED,
    PLACEMENT_TO_CONFIRM,
    WAITING_LIST_REACHED,
    notify,
)
from web.services.offers import lock_offer_for_a_place
from web.services.words import _

log = logging.getLogger(__name__)

HELD = (AllocationStatus.offered, AllocationStatus.accepted)
PLACED_STATUSES = ("optimal", "feasible", "stable")


# -- places -----------------------------------------------------------------------------------


def take_place(session: Session, round_id: int, offer_id: int) -> bool:
    """Take one place of an offer in a round, if one is left and the offer is still published
    (its row locked against a withdrawal meanwhile). True when taken."""
    if not lock_offer_for_a_place(session, offer_id):
        return False
    taken = session.execute(
        update(RoundOffer)
        .where(
            RoundOffer.round_id == round_id,
            RoundOffer.offer_id == offer_id,
            RoundOffer.places_taken < RoundOffer.places,
        )
        .values(places_taken=RoundOffer.places_taken + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    return taken == 1


def give_back_place(session: Session, round_id: int, offer_id: int) -> None:
    given = session.execute(
        update(RoundOffer)
        .where(
            RoundOffer.round_id == round_id,
            RoundOffer.offer_id == offer_id,
            RoundOffer.places_taken > 0,
        )
        .values(places_taken=RoundOffer.places_taken - 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if given != 1:
        raise Conflict("The places of this offer do not add up. Ask the council to check.")


def _set_status(
    session: Session, allocation: Allocation, to: AllocationStatus, actor: User | None
) -> bool:
    """Move an offered allocation on, only if it is still offered (guarded). True when moved."""
    values: dict[str, Any] = {"status": to, "decided_at": utcnow()}
    if actor is not None:
        values["decided_by_user_id"] = actor.id
        values["on_behalf_of_user_id"] = (
            allocation.person.user_id if actor.id != allocation.person.user_id else None
        )
    moved = session.execute(
        update(Allocation)
        .where(Allocation.id == allocation.id, Allocation.status == AllocationStatus.offered)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved == 1:
        session.refresh(allocation)
    return moved == 1


def tell_offered(session: Session, allocation: Allocation, event: str = PLACE_OFFERED) -> None:
    """Tell the person (and their advocates) of an offer and when to answer it by: once per
    allocation, in the caller's transaction."""
    person = session.get(PersonProfile, allocation.person_id)
    offer = session.get(Offer, allocation.offer_id)
    if person is None or offer is None:
        return
    notify(
        session,
        user_id=person.user_id,
        event=event,
        data={
            "offer_name": offer.title,
            "provider_name": offer.provider.name,
            "answer_by": allocation.answer_by.isoformat() if allocation.answer_by else None,
            "path": f"/person/place#place-{allocation.id}",
        },
        key=f"{event}:{allocation.id}",
    )


def answer_deadline(round_: Round, now: datetime | None = None) -> datetime:
    """When an offer of a place made ``now`` in ``round_`` must be answered by."""
    return (now or utcnow()) + timedelta(days=round_.answer_days or 7)


def _lock_round(session: Session, round_id: int) -> Round:
    """Serialise publication and re-offers of one round (PostgreSQL row lock; SQLite's single
    writer already does)."""
    round_ = session.scalars(
        select(Round).where(Round.id == round_id).with_for_update()
    ).one_or_none()
    if round_ is None:
        raise NotFound("There is no such round.")
    session.refresh(round_)
    return round_


# -- publication ------------------------------------------------------------------------------


#: The longest reason a commissioner may give for publishing a run that breaks the limits.
OVERRIDE_REASON_MAX_CHARS = 2000


def run_breaches(run: SolverRun) -> list[str]:
    """How the run's allocation breaks the pot or a rule it was given, in sentences (empty
    when it keeps them all), judged from the run's own stored instance and result."""
    if run.instance_json is None or run.result_json is None:
        return []
    return [
        b.message
        for b in rule_checks.breaches(json.loads(run.instance_json), json.loads(run.result_json))
    ]


def can_publish(round_: Round, run: SolverRun) -> bool:
    """Whether ``run`` could be published now (before asking "Are you sure?")."""
    return (
        run.round_id == round_.id
        and run.status == RunStatus.succeeded
        and run.status_of_result in PLACED_STATUSES
        and round_.status in (RoundStatus.closed, RoundStatus.allocated)
        and round_.published_run_id is None
    )


def publish_run(
    session: Session,
    actor: User,
    round_: Round,
    run: SolverRun,
    *,
    override_reason: str | None = None,
) -> list[Allocation]:
    """Make ``run`` the round's allocation: offer every placement in it, taking its place.

    A run that breaks the round's pot or a rule (:func:`run_breaches`; only a stable run can)
    is published only with ``override_reason``: why the commissioner publishes it anyway. The
    reason and the breaches are kept on the round and in the audit trail, and shown in red.
    Without one, :class:`InvalidInput` on ``override_reason`` lists what it breaks.

    Each allocation keeps its person's entry of the run's explanations document
    (``{"id", "ranks_held", "why_not"}``, exactly as :func:`engine.explain.explain` gave it), so
    the person's page, the commissioner's and the API say the same.
    """
    if run.round_id != round_.id:
        raise NotFound("There is no such run in this round.")
    if run.status != RunStatus.succeeded or run.status_of_result not in PLACED_STATUSES:
        raise Conflict("Only a finished run that found an allocation can be published.")
    breaches = run_breaches(run)
    reason = " ".join((override_reason or "").split())
    if breaches and not reason:
        raise InvalidInput(
            {
                "override_reason": "This allocation breaks the round's limits: "
                + " ".join(breaches)
                + " To publish it anyway, say why"
            }
        )
    if len(reason) > OVERRIDE_REASON_MAX_CHARS:
        raise InvalidInput(
            {"override_reason": f"Say why in {OVERRIDE_REASON_MAX_CHARS:,} characters or fewer"}
        )
    round_ = _lock_round(session, round_.id)
    if round_.status not in (RoundStatus.closed, RoundStatus.allocated):
        raise Conflict("This round is not ready to publish, or it is published already.")
    moved = session.execute(
        update(Round)
        .where(
            Round.id == round_.id,
            Round.status.in_((RoundStatus.closed, RoundStatus.allocated)),
            Round.published_run_id.is_(None),
        )
        .values(
            status=RoundStatus.published,
            published_run_id=run.id,
            published_at=utcnow(),
            override_reason=reason if breaches else None,
            override_breaches=breaches or None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise Conflict("Someone published this round meanwhile.")
    session.refresh(round_)

    result = json.loads(run.result_json or "{}")
    explanations = person_explanations(run)
    allocations: list[Allocation] = []
    answer_by = answer_deadline(round_)
    for assignment in result.get("assignments", []):
        offer_id = key_id(assignment["offer"])
        if not take_place(session, round_.id, offer_id):
            offer = session.get(Offer, offer_id)
            if offer is not None and offer.status != OfferStatus.published:
                raise Conflict(
                    f"{offer.title} in this run was withdrawn by its provider. "
                    "Run the allocation again."
                )
            raise Conflict("An offer in this run has fewer places now. Run the allocation again.")
        allocation = Allocation(
            round_id=round_.id,
            run_id=run.id,
            person_id=key_id(assignment["person"]),
            offer_id=offer_id,
            rank=assignment["rank"],
            utility=assignment["utility"],
            price_pence=round(assignment["price"] * 100),
            status=AllocationStatus.offered,
            explanation=explanations.get(assignment["person"]),
            answer_by=answer_by,
        )
        session.add(allocation)
        allocations.append(allocation)
    session.flush()
    for allocation in allocations:
        tell_offered(session, allocation)
    append_event(
        session,
        "round.publish",
        actor_user_id=actor.id,
        object_type="round",
        object_id=round_.id,
        details={
            "run_id": run.id,
            "placements": len(allocations),
            **({"override_reason": reason, "breaches": breaches} if breaches else {}),
        },
    )
    return allocations


def person_explanation(session: Session, round_: Round, person_id: int) -> dict[str, Any] | None:
    """The person's entry of the published run's explanations document (placed or not). None
    when the run has none for them: they chose nothing the round could offer, or the run was
    made before explanations were stored with it (the demo's history, say)."""
    run = round_.published_run
    if run is None:
        return None
    entry = person_explanations(run).get(person_key(person_id))
    if entry is not None:
        return entry
    first = session.scalars(
        select(Allocation)
        .where(Allocation.run_id == run.id, Allocation.person_id == person_id)
        .order_by(Allocation.id)
    ).first()
    return first.explanation if first is not None and first.explanation else None


# -- a person's places ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MyPlaces:
    round: Round | None
    allocations: list[Allocation]
    budget: Budget | None
    explanation: dict[str, Any] | None
    #: Places the person still holds from earlier published rounds (offered or accepted), so
    #: a new round's publication does not hide them. Newest round first.
    earlier: list[Allocation] = field(default_factory=list)

    @property
    def holds_a_place(self) -> bool:
        return any(a.status in HELD for a in self.allocations)

    @property
    def waiting_for_answer(self) -> list[Allocation]:
        return [a for a in [*self.allocations, *self.earlier] if a.status == "offered"]


def my_places(session: Session, actor: User, person: PersonProfile) -> MyPlaces:
    """The person's places in the latest published round they took part in, with the why."""
    authorise(session, actor, person, "view")
    round_ = session.scalars(
        select(Round)
        .join(Budget, Budget.round_id == Round.id)
        .where(Budget.person_id == person.id, Round.status == RoundStatus.published)
        .order_by(Round.published_at.desc().nulls_last(), Round.id.desc())
    ).first()
    if round_ is None:
        return MyPlaces(None, [], None, None)
    allocations = list(
        session.scalars(
            select(Allocation)
            .where(Allocation.round_id == round_.id, Allocation.person_id == person.id)
            .options(selectinload(Allocation.offer).selectinload(Offer.provider))
            .order_by(Allocation.id)
        )
    )
    budget = session.scalars(
        select(Budget).where(Budget.round_id == round_.id, Budget.person_id == person.id)
    ).first()
    earlier = list(
        session.scalars(
            select(Allocation)
            .join(Round, Round.id == Allocation.round_id)
            .where(
                Allocation.person_id == person.id,
                Allocation.round_id != round_.id,
                Allocation.status.in_(HELD),
                Round.status == RoundStatus.published,
            )
            .options(
                selectinload(Allocation.offer).selectinload(Offer.provider),
                selectinload(Allocation.round),
            )
            .order_by(Round.published_at.desc().nulls_last(), Round.id.desc(), Allocation.id)
        )
    )
    return MyPlaces(
        round_, allocations, budget, person_explanation(session, round_, person.id), earlier
    )


def _person_allocation(session: Session, person: PersonProfile, allocation_id: int) -> Allocation:
    allocation = session.get(Allocation, allocation_id)
    if allocation is None or allocation.person_id != person.id:
        raise NotFound(_("There is no such place."))
    if allocation.round.status != RoundStatus.published:
        raise Conflict(_("This round is not published."))
    return allocation


def check_may_decide(session: Session, actor: User, person: PersonProfile) -> None:
    """Raise :class:`NotAllowed` unless ``actor`` may accept or decline for ``person`` (before
    asking "Are you sure?", so no one is asked a question they may not answer)."""
    authorise(session, actor, person, "submit")


def commit_money(session: Session, budget_id: int, pence: int) -> bool:
    """Commit ``pence`` of the budget with one guarded ``UPDATE``: False, and nothing changed,
    when the budget has less than that left (so it is never overspent, even by several
    processes at once)."""
    committed = session.execute(
        update(Budget)
        .where(Budget.id == budget_id, Budget.committed_pence + pence <= Budget.amount_pence)
        .values(committed_pence=Budget.committed_pence + pence)
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(committed == 1)


def accept_place(
    session: Session, actor: User, person: PersonProfile, allocation_id: int
) -> Allocation:
    """Accept an offered place: commit its price from the person's budget to the provider."""
    authorise(session, actor, person, "submit")
    allocation = _person_allocation(session, person, allocation_id)
    if allocation.status == AllocationStatus.offered:
        _check_place_still_there(session, allocation)
    if not _set_status(session, allocation, AllocationStatus.accepted, actor):
        raise Conflict(_decided_message(allocation))
    budget = session.scalars(
        select(Budget).where(Budget.round_id == allocation.round_id, Budget.person_id == person.id)
    ).first()
    if budget is None:
        raise Conflict(_("You have no budget in this round."))
    if allocation.price_pence > 0:
        if not commit_money(session, budget.id, allocation.price_pence):
            raise Conflict(_("There is not enough money left in your budget for this place."))
        session.add(
            Commitment(
                allocation_id=allocation.id,
                budget_id=budget.id,
                provider_id=allocation.offer.provider_id,
                amount_pence=allocation.price_pence,
                created_by_user_id=actor.id,
            )
        )
        session.flush()
        session.refresh(budget)
    _tell_provider(session, allocation)
    record(
        session,
        actor,
        "allocation.accept",
        person=person,
        subject=("allocation", allocation.id),
        data={"offer_id": allocation.offer_id, "amount_pence": allocation.price_pence},
    )
    return allocation


def _tell_provider(session: Session, allocation: Allocation) -> None:
    """Ask each member of the provider to confirm the new placement (with the person's
    reference only: their needs and contact details stay with the council)."""
    offer = allocation.offer
    person = session.get(PersonProfile, allocation.person_id)
    for user_id in session.scalars(
        select(ProviderMember.user_id).where(ProviderMember.provider_id == offer.provider_id)
    ):
        notify(
            session,
            user_id=user_id,
            event=PLACEMENT_TO_CONFIRM,
            data={
                "offer_name": offer.title,
                "person_reference": person.reference if person is not None else None,
                "path": f"/provider/placements/{allocation.id}",
            },
            key=f"{PLACEMENT_TO_CONFIRM}:{allocation.id}:{user_id}",
        )


def _check_place_still_there(session: Session, allocation: Allocation) -> None:
    """Refuse to accept a place whose service was withdrawn, or that has no place left for it:
    the provider lowered its places below those held (only data from before capacity was
    guarded can be so)."""
    if not lock_offer_for_a_place(session, allocation.offer_id):
        raise Conflict(
            _(
                "This service was withdrawn by its provider, so this place cannot be accepted. "
                "Ask the council what happens next."
            )
        )
    offer = session.get(Offer, allocation.offer_id)
    accepted = session.scalar(
        select(func.count()).where(
            Allocation.round_id == allocation.round_id,
            Allocation.offer_id == allocation.offer_id,
            Allocation.status == AllocationStatus.accepted,
        )
    )
    if offer is None or (accepted or 0) >= offer.capacity:
        raise Conflict(
            _(
                "This service has no place left for you, so this place cannot be accepted. "
                "Ask the council what happens next."
            )
        )


def decline_place(
    session: Session, actor: User, person: PersonProfile, allocation_id: int
) -> Allocation:
    """Turn down an offered place; it goes to the next person by the round's rule at once."""
    authorise(session, actor, person, "submit")
    allocation = _person_allocation(session, person, allocation_id)
    _lock_round(session, allocation.round_id)
    if not _set_status(session, allocation, AllocationStatus.declined, actor):
        raise Conflict(_decided_message(allocation))
    give_back_place(session, allocation.round_id, allocation.offer_id)
    record(
        session,
        actor,
        "allocation.decline",
        person=person,
        subject=("allocation", allocation.id),
        data={"offer_id": allocation.offer_id},
    )
    offer_free_places(session, allocation.round, [allocation.offer_id])
    return allocation


def _decided_message(allocation: Allocation) -> str:
    words = {
        AllocationStatus.accepted: _("You have already accepted this place."),
        AllocationStatus.declined: _("You have already turned this place down."),
        AllocationStatus.withdrawn: (
            _("The council moved or took away this place.")
            if isinstance(allocation.explanation, dict)
            and allocation.explanation.get("source") == "council"
            else _("This place was replaced by one you wanted more.")
        ),
    }
    return words.get(allocation.status) or _("This place has already been decided.")


# -- places that come free --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Candidate:
    person_id: int
    gain: int
    need: int
    lottery: float
    key: str
    rank: int
    utility: int
    give_up: Allocation | None


def offer_free_places(
    session: Session, round_: Round, offer_ids: Iterable[int]
) -> list[Allocation]:
    """Offer every free place of ``offer_ids`` to the next person by the round's mechanism,
    then the free places of the round's other offers.

    A place given back frees money too (the person's budget, the round's pot), so someone who
    could not take another offer's free place may now: those are looked at after ``offer_ids``,
    except places the council freed by moving or taking away someone's place (they stay free,
    so the provider can cut them; :mod:`web.services.place_moves`). A person who moves up gives
    back an offered place, which is offered on in turn. Returns the new allocations. Each move
    strictly improves someone's rank, so this always ends.
    """
    run = round_.published_run
    if run is None or run.instance_json is None:
        return []
    from engine.reader import read_instance

    instance = read_instance(run.instance_json)
    mechanism = instance.policy.mechanism
    prefs = {p.id: p for p in instance.persons}
    wanting = wanting_index(instance)
    queue = list(dict.fromkeys(offer_ids))
    queue += [
        o
        for o in _other_free_offers(session, round_)
        if o not in queue and offer_key(o) in wanting  # nobody ranked it: nobody waits
    ]
    created: list[Allocation] = []
    while queue:
        offer_id = queue.pop(0)
        ro = session.scalars(
            select(RoundOffer).where(
                RoundOffer.round_id == round_.id, RoundOffer.offer_id == offer_id
            )
        ).one()
        session.refresh(ro)
        if ro.places_taken >= ro.places or ro.offer.status != OfferStatus.published:
            continue  # no free place, or a withdrawn service: nobody moves for it
        for candidate in _candidates(
            session, round_, run, instance, prefs, offer_id, mechanism, wanting
        ):
            if candidate.give_up is not None:
                if not _set_status(session, candidate.give_up, AllocationStatus.withdrawn, None):
                    continue  # they accepted it meanwhile; they stay where they are
                give_back_place(session, round_.id, candidate.give_up.offer_id)
                queue.append(candidate.give_up.offer_id)
            if not take_place(session, round_.id, offer_id):
                break
            allocation = Allocation(
                round_id=round_.id,
                run_id=run.id,
                person_id=candidate.person_id,
                offer_id=offer_id,
                rank=candidate.rank,
                utility=candidate.utility,
                price_pence=ro.offer.price_pence,
                status=AllocationStatus.offered,
                explanation=_reoffer_explanation(candidate, mechanism),
                answer_by=answer_deadline(round_),
            )
            try:
                with session.begin_nested():
                    session.add(allocation)
                    session.flush()
            except IntegrityError as error:
                raise Conflict(_("This place was offered twice. Try again.")) from error
            append_event(
                session,
                "allocation.reoffer",
                object_type="allocation",
                object_id=allocation.id,
                details={
                    "round_id": round_.id,
                    "offer_id": offer_id,
                    "person_id": candidate.person_id,
                    "gave_up_allocation_id": candidate.give_up.id if candidate.give_up else None,
                },
            )
            tell_offered(session, allocation, WAITING_LIST_REACHED)
            created.append(allocation)
            queue.append(offer_id)  # it may have more free places
            break
    return created


def wanting_index(instance: Any) -> dict[str, list[tuple[Any, Any]]]:
    """Each offer's key and who ranked it: (person, their preference for it), in the run's
    order. Made once per call, so many offers do not each scan every person."""
    index: dict[str, list[tuple[Any, Any]]] = {}
    for person in instance.persons:
        for pref in person.preferences:
            index.setdefault(pref.offer, []).append((person, pref))
    return index


def _other_free_offers(session: Session, round_: Round) -> list[int]:
    """The round's offers with a free place, but for those the council freed places of."""
    free = session.scalars(
        select(RoundOffer.offer_id)
        .where(RoundOffer.round_id == round_.id, RoundOffer.places_taken < RoundOffer.places)
        .order_by(RoundOffer.offer_id)
    ).all()
    if not free:
        return []
    withdrawn = session.execute(
        select(Allocation.offer_id, Allocation.explanation).where(
            Allocation.round_id == round_.id,
            Allocation.status == AllocationStatus.withdrawn,
            Allocation.offer_id.in_(free),
        )
    )
    council_freed = {
        offer_id
        for offer_id, explanation in withdrawn
        if isinstance(explanation, dict) and explanation.get("source") == "council"
    }
    return [o for o in free if o not in council_freed]


def _reoffer_explanation(candidate: _Candidate, mechanism: str) -> dict[str, Any]:
    # Codes: the words are made when they are read, in the reader's language and voice
    # (web.services.explanations), so an advocate reads the person's name, not "you".
    return {"source": "reoffer", "rank": candidate.rank, "mechanism": mechanism}


def _candidates(
    session: Session,
    round_: Round,
    run: SolverRun,
    instance: Any,
    prefs: dict[str, Any],
    offer_id: int,
    mechanism: str,
    wanting_by_offer: Mapping[str, list[tuple[Any, Any]]] | None = None,
) -> list[_Candidate]:
    """Everyone who could take a free place of ``offer_id``, best first (module docs).
    ``wanting_by_offer`` is :func:`wanting_index` of ``instance``, when the caller has it."""
    key = offer_key(offer_id)
    if wanting_by_offer is None:
        wanting_by_offer = wanting_index(instance)
    wanting = wanting_by_offer.get(key, [])
    if not wanting:
        return []
    price = session.scalar(select(Offer.price_pence).where(Offer.id == offer_id)) or 0
    ids = [key_id(p.id) for p, _gain in wanting]
    allocations = list(
        session.scalars(
            select(Allocation).where(
                Allocation.round_id == round_.id, Allocation.person_id.in_(ids)
            )
        )
    )
    by_person: dict[int, list[Allocation]] = {}
    for a in allocations:
        by_person.setdefault(a.person_id, []).append(a)
    budgets = {
        b.person_id: b
        for b in session.scalars(
            select(Budget).where(Budget.round_id == round_.id, Budget.person_id.in_(ids))
        )
    }
    spend = 0
    if round_.pot_pence is not None:
        spend = (
            session.scalar(
                select(func.coalesce(func.sum(Allocation.price_pence), 0)).where(
                    Allocation.round_id == round_.id, Allocation.status.in_(HELD)
                )
            )
            or 0
        )
    out: list[_Candidate] = []
    for person, pref in wanting:
        pid = key_id(person.id)
        mine = by_person.get(pid, [])
        if any(a.offer_id == offer_id for a in mine):
            continue  # had it, turned it down, or holds it
        held = [a for a in mine if a.status in HELD]
        budget = budgets.get(pid)
        if budget is None:
            continue
        offered = [a for a in held if a.status == AllocationStatus.offered]
        money_left = budget.amount_pence - budget.committed_pence
        money_left -= sum(a.price_pence for a in offered)
        give_up: Allocation | None = None
        if len(held) < person.max_placements:
            gain = pref.utility
        elif offered:
            worst = min(offered, key=lambda a: (a.utility or 0, -(a.rank or 0)))
            if mechanism == "stable" and (worst.rank or 0) <= pref.rank:
                continue
            gain = pref.utility - (worst.utility or 0)
            if gain <= 0:
                continue
            give_up = worst
            money_left += worst.price_pence
        else:
            continue
        if price > money_left:
            continue
        if round_.pot_pence is not None:
            new_spend = spend + price - (give_up.price_pence if give_up else 0)
            if new_spend > round_.pot_pence:
                continue
        out.append(
            _Candidate(
                pid, gain, person.need, person.lottery, person.id, pref.rank, pref.utility, give_up
            )
        )
    if mechanism == "stable":
        out.sort(key=lambda c: (-c.need, c.lottery, c.key))
    else:
        out.sort(key=lambda c: (-c.gain, -c.need, c.lottery, c.key))
    return out


# -- statements and placements ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatementLine:
    when: datetime
    person_id: int
    person_name: str
    offer_id: int
    offer_title: str
    provider_id: int
    provider_name: str
    amount_pence: int
    released: bool


def _lines(session: Session, *where: Any) -> list[StatementLine]:
    rows = session.execute(
        select(Commitment, Allocation, Offer, Provider, PersonProfile)
        .join(Allocation, Allocation.id == Commitment.allocation_id)
        .join(Offer, Offer.id == Allocation.offer_id)
        .join(Provider, Provider.id == Commitment.provider_id)
        .join(PersonProfile, PersonProfile.id == Allocation.person_id)
        .where(*where)
        .order_by(Commitment.created_at, Commitment.id)
    ).all()
    return [
        StatementLine(
            when=c.created_at,
            person_id=p.id,
            person_name=p.display_name,
            offer_id=o.id,
            offer_title=o.title,
            provider_id=pr.id,
            provider_name=pr.name,
            amount_pence=c.amount_pence,
            released=c.released_at is not None,
        )
        for c, _a, o, pr, p in rows
    ]


@dataclass(frozen=True, slots=True)
class PersonStatement:
    round: Round
    budget: Budget | None
    lines: list[StatementLine]

    @property
    def spent_pence(self) -> int:
        return sum(line.amount_pence for line in self.lines if not line.released)


def person_statement(
    session: Session, actor: User, person: PersonProfile, round_: Round
) -> PersonStatement:
    """Money committed from the person's budget in ``round_``, and what is left."""
    authorise(session, actor, person, "view")
    budget = session.scalars(
        select(Budget).where(Budget.round_id == round_.id, Budget.person_id == person.id)
    ).first()
    lines = _lines(session, Allocation.round_id == round_.id, Allocation.person_id == person.id)
    return PersonStatement(round_, budget, lines)


def provider_statement(
    session: Session, provider_id: int, round_: Round | None = None
) -> list[StatementLine]:
    """Money committed to a provider (in one round, or all), oldest first."""
    where = [Commitment.provider_id == provider_id]
    if round_ is not None:
        where.append(Allocation.round_id == round_.id)
    return _lines(session, *where)


def round_statement(session: Session, round_: Round) -> list[StatementLine]:
    """Every commitment in the round, oldest first."""
    return _lines(session, Allocation.round_id == round_.id)


@dataclass(frozen=True, slots=True)
class Totals:
    name: str
    id: int
    places: int
    amount_pence: int


def totals_by(lines: list[StatementLine], by: str) -> list[Totals]:
    """Committed money per person (``by="person"``) or per provider, biggest first."""
    groups: dict[int, Totals] = {}
    for line in lines:
        if line.released:
            continue
        key, name = (
            (line.person_id, line.person_name)
            if by == "person"
            else (line.provider_id, line.provider_name)
        )
        old = groups.get(key, Totals(name, key, 0, 0))
        groups[key] = Totals(name, key, old.places + 1, old.amount_pence + line.amount_pence)
    return sorted(groups.values(), key=lambda t: (-t.amount_pence, t.name, t.id))


def statement_csv(lines: list[StatementLine]) -> str:
    """The lines as CSV (amounts in pounds with two decimals), for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["date", "person_id", "person", "offer_id", "offer", "provider_id", "provider", "amount",
         "status"]
    )  # fmt: skip
    for line in lines:
        writer.writerow(
            [
                line.when.date().isoformat(),
                line.person_id,
                csv_safe(line.person_name),
                line.offer_id,
                csv_safe(line.offer_title),
                line.provider_id,
                csv_safe(line.provider_name),
                f"{line.amount_pence // 100}.{line.amount_pence % 100:02d}",
                "released" if line.released else "committed",
            ]
        )
    return out.getvalue()


def csv_safe(text: str) -> str:
    """``text`` safe as a spreadsheet cell."""
    # A cell starting with = + - @ would run as a formula in a spreadsheet (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
