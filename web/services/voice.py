"""The voice loop, seen by commissioners: what people want and do not get, their ideas, their
ratings, and the council's answers to their proposals.

* Unmet aspirations: for each outcome tag and area, how many people want it, how many
  published offers give it there (or online), and how many of those people hold a place in an
  offer with that tag in the council's latest published round. Unmet = wanting - served.
* Proposals: most supported first. A commissioner answers with a status (under consideration,
  commissioned in a round, declined) and words; the proposer and supporters see both on their
  proposals page (``web.services.proposals``).
* Ratings: each offer's average rating, how many ratings, and the latest comments.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from models.accounts import User
from models.audit import append_event
from models.base import utcnow
from models.people import OutcomeTag, PersonProfile, person_outcome_tags
from models.providers import Offer, OfferStatus, Provider, offer_outcome_tags
from models.rounds import Allocation, AllocationStatus, Round, RoundStatus
from models.voice import Feedback, Proposal, ProposalStatus, ProposalSupport
from web.services.errors import InvalidInput, NotFound
from web.services.notifications import IDEA_ANSWERED, notify

RESPONSE_MAX_CHARS = 2000
LATEST_COMMENTS = 3


@dataclass(frozen=True, slots=True)
class UnmetAspiration:
    tag: str
    label: str
    area: str
    wanting: int
    offers: int
    served: int

    @property
    def unmet(self) -> int:
        return max(0, self.wanting - self.served)


def unmet_aspirations(session: Session, actor: User) -> list[UnmetAspiration]:
    """Every (outcome, area) people want, with how far it is met; most unmet first."""
    council_id = actor.council_id
    wanted = session.execute(
        select(PersonProfile.area, person_outcome_tags.c.tag_id, PersonProfile.id)
        .join(person_outcome_tags, person_outcome_tags.c.person_id == PersonProfile.id)
        .join(User, User.id == PersonProfile.user_id)
        .where(User.council_id == council_id, User.is_active.is_(True))
    ).all()
    tags = {t.id: t for t in session.scalars(select(OutcomeTag))}
    # An offer counts in every area it serves, its main one and its others.
    offered = [
        (area, tag_id)
        for main, others, tag_id in session.execute(
            select(Offer.area, Offer.other_areas, offer_outcome_tags.c.tag_id)
            .join(offer_outcome_tags, offer_outcome_tags.c.offer_id == Offer.id)
            .join(Provider, Provider.id == Offer.provider_id)
            .where(Offer.status == OfferStatus.published, Provider.council_id == council_id)
        )
        for area in dict.fromkeys([main, *(others or [])])
    ]
    offers_by = Counter((area, tag_id) for area, tag_id in offered)
    online = Counter(tag_id for area, tag_id in offered if area is None)
    latest = session.scalars(
        select(Round.id)
        .where(Round.council_id == council_id, Round.status == RoundStatus.published)
        .order_by(Round.published_at.desc().nulls_last(), Round.id.desc())
    ).first()
    served_pairs: set[tuple[int, int]] = set()
    if latest is not None:
        served_pairs = set(
            session.execute(
                select(Allocation.person_id, offer_outcome_tags.c.tag_id)
                .join(offer_outcome_tags, offer_outcome_tags.c.offer_id == Allocation.offer_id)
                .where(
                    Allocation.round_id == latest,
                    Allocation.status.in_((AllocationStatus.offered, AllocationStatus.accepted)),
                )
            ).all()
        )
    wanting: Counter[tuple[str, int]] = Counter()
    served: Counter[tuple[str, int]] = Counter()
    for area, tag_id, person_id in wanted:
        key = (area or "Not given", tag_id)
        wanting[key] += 1
        served[key] += (person_id, tag_id) in served_pairs
    rows = [
        UnmetAspiration(
            tag=tags[tag_id].slug,
            label=tags[tag_id].label,
            area=area,
            wanting=n,
            offers=offers_by[(area, tag_id)] + online[tag_id],
            served=served[(area, tag_id)],
        )
        for (area, tag_id), n in wanting.items()
    ]
    rows.sort(key=lambda r: (-r.unmet, r.offers, r.label, r.area))
    return rows


@dataclass(frozen=True, slots=True)
class ProposalRow:
    proposal: Proposal
    supporters: int


def proposals_by_support(session: Session, actor: User) -> list[ProposalRow]:
    """The council's proposals, most supported first, then newest."""
    counts = (
        select(ProposalSupport.proposal_id, func.count().label("n"))
        .group_by(ProposalSupport.proposal_id)
        .subquery()
    )
    rows = session.execute(
        select(Proposal, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.proposal_id == Proposal.id)
        .where(Proposal.council_id == actor.council_id)
        .options(selectinload(Proposal.commissioned_round))
        .order_by(func.coalesce(counts.c.n, 0).desc(), Proposal.created_at.desc(), Proposal.id)
    ).all()
    return [ProposalRow(p, n) for p, n in rows]


def get_proposal(session: Session, actor: User, proposal_id: int) -> Proposal:
    proposal = session.get(Proposal, proposal_id)
    if proposal is None or proposal.council_id != actor.council_id:
        raise NotFound("There is no such proposal.")
    return proposal


def respond_to_proposal(
    session: Session,
    actor: User,
    proposal_id: int,
    *,
    status: str,
    response: str,
    round_id: int | None = None,
) -> Proposal:
    """Answer a proposal. ``commissioned`` needs the round it was commissioned in."""
    proposal = get_proposal(session, actor, proposal_id)
    errors: dict[str, str] = {}
    allowed = {s.value for s in ProposalStatus} - {ProposalStatus.open.value}
    if status not in allowed:
        errors["status"] = "Choose an answer"
    response = response.strip()
    if not response:
        errors["response"] = "Write a few words for the people who asked"
    elif len(response) > RESPONSE_MAX_CHARS:
        errors["response"] = f"The answer must be {RESPONSE_MAX_CHARS} characters or fewer"
    round_: Round | None = None
    if status == ProposalStatus.commissioned:
        round_ = session.get(Round, round_id) if round_id else None
        if round_ is None or round_.council_id != actor.council_id:
            errors["round_id"] = "Choose the round it is commissioned in"
    if errors:
        raise InvalidInput(errors)
    proposal.status = ProposalStatus(status)
    proposal.response = response
    proposal.commissioned_round = round_
    proposal.responded_by_user_id = actor.id
    proposal.responded_at = utcnow()
    session.flush()
    append_event(
        session,
        "proposal.respond",
        actor_user_id=actor.id,
        object_type="proposal",
        object_id=proposal.id,
        details={"status": status, "round_id": proposal.commissioned_round_id},
    )
    _tell_about_answer(session, proposal)
    return proposal


def _tell_about_answer(session: Session, proposal: Proposal) -> None:
    """Tell the person who made the idea, and everyone who backed it, what the council said."""
    assert proposal.responded_at is not None
    answered = proposal.responded_at.strftime("%Y%m%dT%H%M%S%f")
    people = {proposal.proposer_id: False}
    for support in session.scalars(
        select(ProposalSupport).where(ProposalSupport.proposal_id == proposal.id)
    ):
        people.setdefault(support.person_id, True)
    users = dict(
        session.execute(
            select(PersonProfile.id, PersonProfile.user_id).where(PersonProfile.id.in_(people))
        ).all()
    )
    for person_id, supported in sorted(people.items()):
        if person_id not in users:
            continue
        notify(
            session,
            user_id=users[person_id],
            event=IDEA_ANSWERED,
            data={
                "idea_title": proposal.title,
                "status_words": proposal_status_words(proposal),
                # The words are made again from these in the reader's language.
                "status": proposal.status.value,
                "round_name": proposal.commissioned_round.name
                if proposal.commissioned_round
                else None,
                "answer": proposal.response,
                "supported": supported,
                "path": "/person/ideas",
            },
            key=f"idea_answered:{proposal.id}:{answered}:{person_id}",
        )


def proposal_status_words(proposal: Proposal) -> str:
    """The status as the proposer reads it, e.g. "Commissioned in round Spring 2027"."""
    if proposal.status == ProposalStatus.commissioned and proposal.commissioned_round:
        return f"Commissioned in round {proposal.commissioned_round.name}"
    return {
        ProposalStatus.open: "Waiting for an answer",
        ProposalStatus.under_consideration: "Under consideration",
        ProposalStatus.commissioned: "Commissioned",
        ProposalStatus.declined: "Not going ahead",
    }[proposal.status]


@dataclass(frozen=True, slots=True)
class OfferRating:
    offer: Offer
    average: float | None
    count: int
    comments: list[str]


def offer_ratings(session: Session, actor: User) -> list[OfferRating]:
    """Each rated offer of the council's providers: average, count and latest comments."""
    rows = session.execute(
        select(Offer, func.avg(Feedback.rating), func.count(Feedback.id))
        .join(Feedback, Feedback.offer_id == Offer.id)
        .join(Provider, Provider.id == Offer.provider_id)
        .where(Provider.council_id == actor.council_id)
        .group_by(Offer.id)
        .order_by(func.avg(Feedback.rating), Offer.title)
    ).all()
    # Every offer's comments in one query (not one per offer), newest first.
    latest: dict[int, list[str]] = {}
    for offer_id, comment in session.execute(
        select(Feedback.offer_id, Feedback.comment)
        .where(
            Feedback.offer_id.in_([offer.id for offer, _, _ in rows]),
            Feedback.comment.is_not(None),
        )
        .order_by(Feedback.offer_id, Feedback.created_at.desc(), Feedback.id.desc())
    ):
        kept = latest.setdefault(offer_id, [])
        if comment and len(kept) < LATEST_COMMENTS:
            kept.append(comment)
    return [
        OfferRating(
            offer,
            None if average is None else round(float(average), 1),
            count,
            latest.get(offer.id, []),
        )
        for offer, average, count in rows
    ]
