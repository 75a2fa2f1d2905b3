"""Ideas for services that do not exist yet: propose one, and support other people's.

The person who proposes an idea supports it too, so the count of supporters includes them.
Commissioners answer proposals (see the commissioner's services); people see the answer here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.accounts import User
from models.people import OutcomeTag, PersonProfile
from models.voice import Proposal, ProposalStatus, ProposalSupport
from web.services.acting import authorise, record
from web.services.errors import InvalidInput, NotFound
from web.services.words import N_, _

TITLE_MAX_CHARS = 120
DESCRIPTION_MAX_CHARS = 2000

STATUS_WORDS: dict[str, str] = {
    ProposalStatus.open: N_("Waiting for an answer"),
    ProposalStatus.under_consideration: N_("The council is thinking about it"),
    ProposalStatus.commissioned: N_("The council is buying it"),
    ProposalStatus.declined: N_("The council said no"),
}


@dataclass(frozen=True, slots=True)
class ProposalView:
    """A proposal with how many people support it and whether this person does."""

    proposal: Proposal
    supporters: int
    supported_by_me: bool
    mine: bool


def list_proposals(session: Session, actor: User, person: PersonProfile) -> list[ProposalView]:
    """Every proposal in the person's council, most supported first, then newest."""
    authorise(session, actor, person, "view")
    counts = (
        select(ProposalSupport.proposal_id, func.count().label("n"))
        .group_by(ProposalSupport.proposal_id)
        .subquery()
    )
    rows = session.execute(
        select(Proposal, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.proposal_id == Proposal.id)
        .where(Proposal.council_id == person.user.council_id)
        .order_by(func.coalesce(counts.c.n, 0).desc(), Proposal.created_at.desc(), Proposal.id)
    ).all()
    mine = set(
        session.scalars(
            select(ProposalSupport.proposal_id).where(ProposalSupport.person_id == person.id)
        )
    )
    return [ProposalView(p, n, p.id in mine, p.proposer_id == person.id) for p, n in rows]


def propose(
    session: Session,
    actor: User,
    person: PersonProfile,
    *,
    title: str,
    description: str,
    tag_slugs: list[str] | None = None,
) -> Proposal:
    """Record a new idea in the person's council and area; the proposer supports it."""
    authorise(session, actor, person, "draft")
    title = (title or "").strip()
    description = (description or "").strip()
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = _("Enter a short name for your idea")
    elif len(title) > TITLE_MAX_CHARS:
        errors["title"] = _("The name must be %(most)s characters or fewer", most=TITLE_MAX_CHARS)
    if not description:
        errors["description"] = _("Tell us about your idea")
    elif len(description) > DESCRIPTION_MAX_CHARS:
        errors["description"] = _(
            "Your words must be %(most)s characters or fewer", most=DESCRIPTION_MAX_CHARS
        )
    slugs = sorted(set(tag_slugs or []))
    known = set(session.scalars(select(OutcomeTag.slug).where(OutcomeTag.slug.in_(slugs))))
    if known != set(slugs):
        errors["tags"] = _("Choose wishes from the list")
    if errors:
        raise InvalidInput(errors)
    proposal = Proposal(
        council_id=person.user.council_id,
        proposer_id=person.id,
        title=title,
        description=description,
        area=person.area,
        tags=slugs,
    )
    session.add(proposal)
    session.flush()
    session.add(ProposalSupport(proposal_id=proposal.id, person_id=person.id))
    session.flush()
    record(
        session,
        actor,
        "proposal.created",
        person=person,
        subject=("proposal", proposal.id),
    )
    return proposal


def support(session: Session, actor: User, person: PersonProfile, proposal_id: int) -> bool:
    """Add the person's support; returns False when they already supported it."""
    authorise(session, actor, person, "draft")
    proposal = _proposal(session, person, proposal_id)
    exists = session.scalars(
        select(ProposalSupport).where(
            ProposalSupport.proposal_id == proposal.id, ProposalSupport.person_id == person.id
        )
    ).first()
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(ProposalSupport(proposal_id=proposal.id, person_id=person.id))
    except IntegrityError:
        return False  # a second click raced the first
    record(session, actor, "proposal.supported", person=person, subject=("proposal", proposal.id))
    return True


def withdraw_support(
    session: Session, actor: User, person: PersonProfile, proposal_id: int
) -> bool:
    """Take back the person's support; returns False when they did not support it."""
    authorise(session, actor, person, "draft")
    proposal = _proposal(session, person, proposal_id)
    row = session.scalars(
        select(ProposalSupport).where(
            ProposalSupport.proposal_id == proposal.id, ProposalSupport.person_id == person.id
        )
    ).first()
    if row is None:
        return False
    session.delete(row)
    session.flush()
    record(
        session,
        actor,
        "proposal.support_withdrawn",
        person=person,
        subject=("proposal", proposal.id),
    )
    return True


def _proposal(session: Session, person: PersonProfile, proposal_id: int) -> Proposal:
    proposal = session.get(Proposal, proposal_id)
    if proposal is None or proposal.council_id != person.user.council_id:
        raise NotFound(_("We could not find that idea."))
    return proposal
