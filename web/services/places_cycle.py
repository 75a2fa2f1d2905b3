"""The places cycle after publishing: deadlines, waiting lists, giving up, providers' answers.

A place is offered, answered, confirmed by its provider, started and reviewed; when someone
says no, or does not answer in time, or gives the place up, or the provider cannot take them,
the place goes to the next person at once, by the round's own rule
(:func:`web.services.allocations.offer_free_places`, whose documentation says who is next for
each mechanism).

* **Deadlines.** Every offer carries ``answer_by`` (the round's ``answer_days``, 7 unless the
  council chose otherwise). :func:`expire_due_offers`, run by every worker at each poll
  (:func:`sweep`), expires each offer past its deadline with a guarded update (``... WHERE
  status = 'offered'``: an offer accepted meanwhile stays accepted) and offers its place on.
* **Waiting lists.** A person waits for every choice ranked above the best place they hold,
  as long as that place is only offered (not yet accepted): accepting a place is their
  decision, their money is committed, and nobody is moved from it. Their position on a list is
  their place in the order the round would offer that service's next free place
  (:func:`waiting_lists`); people who could not take it (it costs more than they have left,
  or more than the pot has) are not on it. Each time a person looks, their positions are kept,
  so the page can say how each moved since.
* **Giving up.** A person (or an advocate who may answer for them) can give up an accepted
  place before it starts: the money goes back to their budget and the place is offered on.
* **Providers** confirm an accepted placement with a start date, or decline it with a reason;
  a declined placement's money goes back and the place is offered on. The person can say how
  it went once the start date has come.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from models.accounts import User
from models.audit import append_event
from models.base import utcnow
from models.people import PersonProfile
from models.providers import Offer, Provider
from models.rounds import (
    Allocation,
    AllocationStatus,
    Budget,
    Choice,
    Commitment,
    Round,
    RoundOffer,
    RoundStatus,
    WaitingPosition,
)
from web.services import allocations
from web.services.acting import authorise, record
from web.services.errors import Conflict, InvalidInput, NotFound
from web.services.explanations import PERSON, Reader
from web.services.jobs import register_periodic
from web.services.notifications import (
    OFFER_EXPIRED,
    OFFER_REMINDER,
    PLACE_GIVEN_UP,
    PLACEMENT_DECLINED,
    notify,
)
from web.services.place_moves import release_money
from web.services.providers import require_member
from web.services.words import N_, _

log = logging.getLogger(__name__)

#: Offers this close to their deadline are "near their deadline" on the commissioner's page
#: (and get a reminder).
NEAR_DEADLINE = timedelta(days=2)
#: The longest reason a provider may give for declining a placement.
REASON_MAX_CHARS = 2000
#: A start date is today or later (the round's places are published, so today is after its
#: dates), and at most this many days ahead: a place held for over a year is a typo or a place
#: nobody will use, and its money would sit in the person's budget all that time.
START_DAYS_AHEAD = 366

ENDED_BY_OTHERS = (
    AllocationStatus.expired,
    AllocationStatus.given_up,
    AllocationStatus.provider_declined,
)


# -- deadlines --------------------------------------------------------------------------------


def expire_due_offers(
    session: Session, now: datetime | None = None, *, round_id: int | None = None
) -> list[Allocation]:
    """Expire every offer whose deadline has passed (in one round, or all) and offer each
    place on. The expired.

    Each round is locked (as publication and re-offers lock it) while its offers expire; each
    expiry is a guarded update, so an offer accepted or declined meanwhile is left alone.
    """
    now = now or utcnow()
    due = session.execute(
        select(Allocation.id, Allocation.round_id)
        .join(Round, Round.id == Allocation.round_id)
        .where(
            Allocation.status == AllocationStatus.offered,
            Allocation.answer_by.is_not(None),
            Allocation.answer_by <= now,
            Round.status == RoundStatus.published,
            *([Allocation.round_id == round_id] if round_id is not None else []),
        )
        .order_by(Allocation.round_id, Allocation.answer_by, Allocation.id)
    ).all()
    by_round: dict[int, list[int]] = {}
    for allocation_id, round_id in due:
        by_round.setdefault(round_id, []).append(allocation_id)
    expired: list[Allocation] = []
    for due_round_id, ids in by_round.items():
        round_ = allocations._lock_round(session, due_round_id)
        freed: list[int] = []
        for allocation_id in ids:
            moved = session.execute(
                update(Allocation)
                .where(
                    Allocation.id == allocation_id,
                    Allocation.status == AllocationStatus.offered,
                    Allocation.answer_by <= now,
                )
                .values(status=AllocationStatus.expired, decided_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if moved != 1:
                continue  # answered meanwhile
            allocation = session.get(Allocation, allocation_id)
            assert allocation is not None
            session.refresh(allocation)
            allocations.give_back_place(session, due_round_id, allocation.offer_id)
            append_event(
                session,
                "allocation.expire",
                object_type="allocation",
                object_id=allocation.id,
                details={
                    "round_id": due_round_id,
                    "person_id": allocation.person_id,
                    "offer_id": allocation.offer_id,
                },
            )
            _tell(session, allocation, OFFER_EXPIRED)
            freed.append(allocation.offer_id)
            expired.append(allocation)
        if freed:
            allocations.offer_free_places(session, round_, freed)
    return expired


@register_periodic("places.expire_due_offers")
def sweep(session_factory: Callable[[], Session]) -> int:
    """The worker's regular task: expire offers past their deadline (each round in its own
    transaction, so one round's conflict does not hold back the others). How many expired."""
    # Reminders need no hurry: look for them once a minute, not at every poll.
    now = utcnow()
    last = _last_reminded.get("at")
    if last is None or now - last >= REMIND_EVERY:
        with session_factory() as session:
            remind_near_deadline(session, now)
            session.commit()
        _last_reminded["at"] = now
    with session_factory() as session:
        rounds = session.scalars(
            select(Allocation.round_id)
            .where(
                Allocation.status == AllocationStatus.offered,
                Allocation.answer_by <= utcnow(),
            )
            .distinct()
        ).all()
        session.commit()
    count = 0
    for round_id in rounds:
        with session_factory() as session:
            try:
                count += len(expire_due_offers(session, round_id=round_id))
                session.commit()
            except Conflict:
                session.rollback()
                log.warning("round %s: offers could not expire now; trying again", round_id)
    return count


def _tell(session: Session, allocation: Allocation, event: str, **data: object) -> None:
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
            "answer_by": allocation.answer_by.isoformat() if allocation.answer_by else None,
            "path": "/person/place",
            **data,
        },
        key=f"{event}:{allocation.id}",
    )


def remind_near_deadline(session: Session, now: datetime | None = None) -> int:
    """Remind each person whose offer's deadline is less than :data:`NEAR_DEADLINE` away, once
    per offer (the outbox's key refuses a second), unless the offer was made that close to
    its deadline. How many offers were looked at."""
    now = now or utcnow()
    due = session.scalars(
        select(Allocation).where(
            Allocation.status == AllocationStatus.offered,
            Allocation.answer_by > now,
            Allocation.answer_by <= now + NEAR_DEADLINE,
        )
    ).all()
    for allocation in due:
        assert allocation.answer_by is not None
        if allocation.answer_by - allocation.created_at > NEAR_DEADLINE:
            _tell(session, allocation, OFFER_REMINDER)
    return len(due)


#: Reminders are looked for at most this often by each worker (expiry at every poll).
REMIND_EVERY = timedelta(minutes=1)
_last_reminded: dict[str, datetime] = {}


# -- giving a place up ------------------------------------------------------------------------


def can_give_up(allocation: Allocation, today: date | None = None) -> bool:
    """Whether the person may still give up this place: accepted, and not started yet."""
    today = today or utcnow().date()
    return allocation.status == AllocationStatus.accepted and (
        allocation.start_date is None or allocation.start_date > today
    )


def give_up_place(
    session: Session, actor: User, person: PersonProfile, allocation_id: int
) -> Allocation:
    """Give up an accepted place before it starts: the money goes back to the person's budget
    and the place is offered to the next person by the round's rule."""
    authorise(session, actor, person, "submit")
    allocation = session.get(Allocation, allocation_id)
    if allocation is None or allocation.person_id != person.id:
        raise NotFound(_("There is no such place."))
    round_ = allocations._lock_round(session, allocation.round_id)
    session.refresh(allocation)
    if round_.status != RoundStatus.published:
        raise Conflict(_("This round is not published."))
    if allocation.status != AllocationStatus.accepted:
        raise Conflict(_("You can only give up a place you said yes to."))
    if not can_give_up(allocation):
        raise Conflict(_("This place has started, so it cannot be given up here. Ask the council."))
    moved = session.execute(
        update(Allocation)
        .where(Allocation.id == allocation.id, Allocation.status == AllocationStatus.accepted)
        .values(
            status=AllocationStatus.given_up,
            decided_at=utcnow(),
            decided_by_user_id=actor.id,
            on_behalf_of_user_id=person.user_id if actor.id != person.user_id else None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise Conflict(_("Someone changed this place meanwhile. Look at it again."))
    given = release_money(session, allocation)
    allocations.give_back_place(session, round_.id, allocation.offer_id)
    session.refresh(allocation)
    by_name = actor.display_name if actor.id != person.user_id else None
    _tell(session, allocation, PLACE_GIVEN_UP, by_name=by_name)
    record(
        session,
        actor,
        "allocation.give_up",
        person=person,
        subject=("allocation", allocation.id),
        data={"offer_id": allocation.offer_id, "released_pence": given},
    )
    allocations.offer_free_places(session, round_, [allocation.offer_id])
    return allocation


# -- waiting lists ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaitingLine:
    """The person's place on the waiting list of one choice ranked above their place."""

    offer: Offer
    rank: int
    position: int | None  # None: they are not on it (the reason says why)
    before: int | None  # their position when they last looked (None: first look, or not on it)
    people_waiting: int
    reason: str | None

    @property
    def moved_up(self) -> int:
        """Places moved up since they last looked (negative: down)."""
        if self.position is None or self.before is None:
            return 0
        return self.before - self.position


@dataclass(frozen=True, slots=True)
class WaitingLists:
    round: Round | None
    lines: list[WaitingLine]
    accepted: bool  # they accepted a place, so they wait for nothing


def waiting_lists(
    session: Session, actor: User, person: PersonProfile, *, remember: bool = True
) -> WaitingLists:
    """The person's position on the waiting list of each choice ranked above their place, and
    how it moved since they last looked (``remember`` keeps today's positions for next time)."""
    authorise(session, actor, person, "view")
    found = allocations.my_places(session, actor, person)
    round_ = found.round
    if round_ is None or round_.published_run is None:
        return WaitingLists(round_, [], False)
    held = [a for a in found.allocations if a.status in allocations.HELD]
    accepted = any(a.status == AllocationStatus.accepted for a in held)
    ranks = [a.rank for a in held if a.rank is not None]
    best = min(ranks) if ranks else None
    chosen = session.scalars(
        select(Choice)
        .where(Choice.round_id == round_.id, Choice.person_id == person.id)
        .options(selectinload(Choice.offer))
        .order_by(Choice.rank)
    ).all()
    had = {a.offer_id for a in found.allocations}
    above = [c for c in chosen if (best is None or c.rank < best) and c.offer_id not in had]
    if accepted or not above:
        return WaitingLists(round_, [], accepted)
    previous = {
        w.offer_id: w
        for w in session.scalars(
            select(WaitingPosition).where(
                WaitingPosition.person_id == person.id, WaitingPosition.round_id == round_.id
            )
        )
    }
    order = waiting_order(session, round_, [c.offer_id for c in above])
    # An advocate acting for the person reads about them by name, not as "you".
    reader = PERSON if actor.id == person.user_id else Reader(name=person.display_name)
    lines: list[WaitingLine] = []
    for choice in above:
        queue = order.get(choice.offer_id, [])
        position = queue.index(person.id) + 1 if person.id in queue else None
        before = previous[choice.offer_id].position if choice.offer_id in previous else None
        reason = None
        if position is None:
            reason = reader.says(
                N_(
                    "You are not on this list: it costs more than you have left, or the "
                    "council has no money left for it."
                ),
                N_(
                    "%(name)s is not on this list: it costs more than they have left, or the "
                    "council has no money left for it."
                ),
            )
        lines.append(WaitingLine(choice.offer, choice.rank, position, before, len(queue), reason))
        if remember and position is not None:
            _remember(session, person.id, round_.id, choice.offer_id, position, previous)
    if remember:
        session.flush()
    return WaitingLists(round_, lines, False)


def _remember(
    session: Session,
    person_id: int,
    round_id: int,
    offer_id: int,
    position: int,
    previous: dict[int, WaitingPosition],
) -> None:
    row = previous.get(offer_id)
    if row is not None:
        row.position = position
        row.seen_at = utcnow()
        return
    try:
        with session.begin_nested():
            session.add(
                WaitingPosition(
                    person_id=person_id, round_id=round_id, offer_id=offer_id, position=position
                )
            )
    except IntegrityError:
        pass  # another tab of theirs kept it a moment ago


def waiting_order(session: Session, round_: Round, offer_ids: list[int]) -> dict[int, list[int]]:
    """Who would get each offer's next free place, in order (person ids), by the round's rule."""
    run = round_.published_run
    if run is None or run.instance_json is None:
        return {}
    from engine.reader import read_instance

    instance = read_instance(run.instance_json)
    prefs = {p.id: p for p in instance.persons}
    mechanism = instance.policy.mechanism
    wanting = allocations.wanting_index(instance)
    return {
        offer_id: [
            c.person_id
            for c in allocations._candidates(
                session, round_, run, instance, prefs, offer_id, mechanism, wanting
            )
        ]
        for offer_id in offer_ids
    }


# -- providers --------------------------------------------------------------------------------


def _provider_placement(
    session: Session, actor: User, provider: Provider, allocation_id: int
) -> Allocation:
    require_member(session, actor, provider)
    allocation = session.get(Allocation, allocation_id)
    if allocation is None or allocation.offer.provider_id != provider.id:
        raise NotFound("There is no such placement.")
    if allocation.round.status != RoundStatus.published:
        raise NotFound("There is no such placement.")
    return allocation


def parse_start_date(text: str | date | None) -> date:
    """The start date as typed (``2027-01-18``, or day, month and year joined by the page);
    :class:`InvalidInput` on ``start_date`` when it is missing or not a real date."""
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise InvalidInput(
            {"start_date": "Enter the start date as a real date, like 18 1 2027"}
        ) from None


def check_start_date(start: date, *, already: date | None = None) -> None:
    """:class:`InvalidInput` on ``start_date`` unless ``start`` is from today to
    :data:`START_DAYS_AHEAD` days ahead. The date given before (``already``) may be given again,
    even once it has passed, so a provider can confirm a place that has started."""
    if start == already:
        return
    today = utcnow().date()
    if start < today:
        raise InvalidInput({"start_date": "The start date must be today or later"})
    if start > today + timedelta(days=START_DAYS_AHEAD):
        last = today + timedelta(days=START_DAYS_AHEAD)
        raise InvalidInput(
            {"start_date": f"The start date must be within a year, by {last:%-d %B %Y}"}
        )


def confirm_placement(
    session: Session,
    actor: User,
    provider: Provider,
    allocation_id: int,
    *,
    start_date: str | date | None,
) -> Allocation:
    """The provider takes the person: an accepted placement gets its start date (which can be
    changed later by confirming again)."""
    allocation = _provider_placement(session, actor, provider, allocation_id)
    start = parse_start_date(start_date)
    if allocation.status != AllocationStatus.accepted:
        raise Conflict(_not_accepted(allocation))
    check_start_date(start, already=allocation.start_date)
    moved = session.execute(
        update(Allocation)
        .where(Allocation.id == allocation.id, Allocation.status == AllocationStatus.accepted)
        .values(
            confirmed_at=utcnow(),
            start_date=start,
            provider_decided_by_user_id=actor.id,
            provider_reason=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise Conflict("This placement changed meanwhile. Look at it again.")
    session.refresh(allocation)
    append_event(
        session,
        "placement.confirm",
        actor_user_id=actor.id,
        object_type="allocation",
        object_id=allocation.id,
        details={"provider_id": provider.id, "start_date": start.isoformat()},
    )
    return allocation


def decline_placement(
    session: Session,
    actor: User,
    provider: Provider,
    allocation_id: int,
    *,
    reason: str | None,
) -> Allocation:
    """The provider cannot take the person, and says why: the money goes back to the person's
    budget, and the place is offered to the next person (the commissioner sees the reason)."""
    allocation = _provider_placement(session, actor, provider, allocation_id)
    text = " ".join((reason or "").split())
    if not text:
        raise InvalidInput({"reason": "Say why you cannot take this person"})
    if len(text) > REASON_MAX_CHARS:
        raise InvalidInput({"reason": f"Say why in {REASON_MAX_CHARS:,} characters or fewer"})
    round_ = allocations._lock_round(session, allocation.round_id)
    session.refresh(allocation)
    if allocation.status != AllocationStatus.accepted:
        raise Conflict(_not_accepted(allocation))
    if allocation.start_date is not None and allocation.start_date <= utcnow().date():
        raise Conflict("This placement has started. Ask the council to end it.")
    moved = session.execute(
        update(Allocation)
        .where(Allocation.id == allocation.id, Allocation.status == AllocationStatus.accepted)
        .values(
            status=AllocationStatus.provider_declined,
            provider_reason=text,
            provider_decided_by_user_id=actor.id,
            confirmed_at=None,
            start_date=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise Conflict("This placement changed meanwhile. Look at it again.")
    given = release_money(session, allocation)
    allocations.give_back_place(session, round_.id, allocation.offer_id)
    session.refresh(allocation)
    append_event(
        session,
        "placement.decline",
        actor_user_id=actor.id,
        object_type="allocation",
        object_id=allocation.id,
        details={
            "provider_id": provider.id,
            "person_id": allocation.person_id,
            "offer_id": allocation.offer_id,
            "released_pence": given,
            "reason": text,
        },
    )
    # The person (and an advocate helping them) hears it from us, with the provider's reason.
    _tell(session, allocation, PLACEMENT_DECLINED, provider_name=provider.name, reason=text)
    allocations.offer_free_places(session, round_, [allocation.offer_id])
    return allocation


def _not_accepted(allocation: Allocation) -> str:
    if allocation.status == AllocationStatus.offered:
        return "This person has not said yes yet. You can answer once they do."
    if allocation.status == AllocationStatus.provider_declined:
        return "You have already said you cannot take this person."
    return "This person no longer has this place."


# -- money: provider statement and commissioner forecast --------------------------------------


@dataclass(frozen=True, slots=True)
class MonthLine:
    """One month of a provider's money statement (amounts in pence).

    ``offered``: places offered that month still waiting for an answer; ``accepted``: places
    accepted that month that have not started; ``started``: places that started that month.
    """

    month: str  # "2027-01"
    offered: int
    offered_pence: int
    accepted: int
    accepted_pence: int
    started: int
    started_pence: int


def provider_money(
    session: Session, actor: User, provider: Provider, today: date | None = None
) -> list[MonthLine]:
    """The provider's money by month: offered, accepted, started (newest month first)."""
    require_member(session, actor, provider)
    today = today or utcnow().date()
    rows = session.scalars(
        select(Allocation)
        .join(Offer, Offer.id == Allocation.offer_id)
        .join(Round, Round.id == Allocation.round_id)
        .where(
            Offer.provider_id == provider.id,
            Round.status == RoundStatus.published,
            Allocation.status.in_(allocations.HELD),
        )
    ).all()
    months: dict[str, list[int]] = {}
    for a in rows:
        if a.status == AllocationStatus.offered:
            key, at = a.created_at.strftime("%Y-%m"), 0
        elif a.start_date is not None and a.start_date <= today:
            key, at = a.start_date.strftime("%Y-%m"), 4
        else:
            key, at = (a.decided_at or a.created_at).strftime("%Y-%m"), 2
        line = months.setdefault(key, [0] * 6)
        line[at] += 1
        line[at + 1] += a.price_pence
    return [MonthLine(month, *months[month]) for month in sorted(months, reverse=True)]


def provider_money_csv(lines: list[MonthLine]) -> str:
    """The statement as CSV (amounts in pounds with two decimals), for a spreadsheet."""
    import csv
    import io

    def pounds(pence: int) -> str:
        return f"{pence // 100}.{pence % 100:02d}"

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["month", "offered_places", "offered_amount", "accepted_places", "accepted_amount",
         "started_places", "started_amount"]
    )  # fmt: skip
    for m in lines:
        writer.writerow(
            [m.month, m.offered, pounds(m.offered_pence), m.accepted, pounds(m.accepted_pence),
             m.started, pounds(m.started_pence)]
        )  # fmt: skip
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class Forecast:
    """The round's money (pence): committed by accepted places, offered and not yet answered,
    and what is left of the pot when every offer is taken (None: the round has no pot)."""

    accepted_pence: int
    offered_pence: int
    pot_pence: int | None

    @property
    def left_pence(self) -> int | None:
        if self.pot_pence is None:
            return None
        return self.pot_pence - self.accepted_pence - self.offered_pence


@dataclass(frozen=True, slots=True)
class FreePlace:
    """An offer with places that came free and nobody in line for them."""

    offer: Offer
    free: int
    waiting: int


@dataclass(frozen=True, slots=True)
class Cycle:
    round: Round
    forecast: Forecast
    near_deadline: list[Allocation]
    expired: list[Allocation]
    reoffered: list[Allocation]
    provider_declined: list[Allocation]
    given_up: list[Allocation]
    free_places: list[FreePlace]


def round_cycle(
    session: Session,
    round_: Round,
    now: datetime | None = None,
    *,
    near_deadline: timedelta = NEAR_DEADLINE,
) -> Cycle:
    """What the commissioner watches after publishing (see the module's documentation).
    Offers due within ``near_deadline`` of ``now`` are "near their deadline"."""
    now = now or utcnow()
    rows = list(
        session.scalars(
            select(Allocation)
            .where(Allocation.round_id == round_.id)
            .options(
                selectinload(Allocation.offer).selectinload(Offer.provider),
                selectinload(Allocation.person),
            )
            .order_by(Allocation.id)
        )
    )
    accepted = sum(a.price_pence for a in rows if a.status == AllocationStatus.accepted)
    offered = [a for a in rows if a.status == AllocationStatus.offered]
    near = sorted(
        (a for a in offered if a.answer_by is not None and a.answer_by <= now + near_deadline),
        key=lambda a: (a.answer_by or now, a.id),
    )
    reoffered = [
        a
        for a in offered
        if isinstance(a.explanation, dict) and a.explanation.get("source") == "reoffer"
    ]
    free_places: list[FreePlace] = []
    round_offers = session.scalars(
        select(RoundOffer)
        .where(RoundOffer.round_id == round_.id, RoundOffer.places_taken < RoundOffer.places)
        .options(selectinload(RoundOffer.offer))
    ).all()
    if round_offers:
        order = waiting_order(session, round_, [ro.offer_id for ro in round_offers])
        free_places = [
            FreePlace(ro.offer, ro.places_left, len(order.get(ro.offer_id, [])))
            for ro in sorted(round_offers, key=lambda ro: (ro.offer.title, ro.offer_id))
        ]
    return Cycle(
        round=round_,
        forecast=Forecast(accepted, sum(a.price_pence for a in offered), round_.pot_pence),
        near_deadline=near,
        expired=[a for a in rows if a.status == AllocationStatus.expired],
        reoffered=reoffered,
        provider_declined=[a for a in rows if a.status == AllocationStatus.provider_declined],
        given_up=[a for a in rows if a.status == AllocationStatus.given_up],
        free_places=free_places,
    )


def committed_pence(session: Session, round_: Round) -> int:
    """Money committed by live commitments in the round (pence)."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Commitment.amount_pence), 0))
            .join(Budget, Budget.id == Commitment.budget_id)
            .where(Budget.round_id == round_.id, Commitment.released_at.is_(None))
        )
        or 0
    )


def describe_deadline(when: datetime | None, now: datetime | None = None) -> dict[str, Any]:
    """Words for an offer's deadline: ``{"date": "Tuesday 8 December", "days": 3}``."""
    if when is None:
        return {"date": None, "days": None}
    now = now or utcnow()
    days = max(0, (when.date() - now.date()).days)
    return {"date": f"{when:%A} {when.day} {when:%B %Y} at {when:%H:%M}", "days": days}
