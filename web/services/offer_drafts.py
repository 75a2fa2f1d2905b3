"""The offer form a question at a time: a new offer's answers in a server-side draft.

A provider starts a draft (:func:`start_draft`), answers each question of :data:`QUESTIONS`
on its own page (:func:`answer_question` checks that page's fields with the offer rules of
:func:`web.services.offers.clean_offer_fields` and keeps them in the draft), then checks the
answers and saves them (:func:`finish_draft`): the offer is made as a draft offer, with every
field checked again together, and the draft is deleted. An offer that exists already is
changed a question at a time too (:func:`change_offer`), straight into the offer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.accounts import User
from models.providers import Offer, OfferDraft, Provider
from web.services import offers
from web.services.errors import InvalidInput, NotFound
from web.services.providers import require_member

#: How many unfinished drafts one person may keep for an organisation; starting one more
#: forgets the oldest.
MAX_DRAFTS = 5


@dataclass(frozen=True)
class Question:
    """One page of the offer form: its address, its heading and the fields it asks."""

    slug: str
    heading: str
    fields: tuple[str, ...]
    lists: tuple[str, ...] = ()  # fields sent as several values (checkboxes)
    new_only: bool = False  # asked only of a new offer (places change on their own page)


QUESTIONS: tuple[Question, ...] = (
    Question("name", "What is the service called?", ("title",)),
    Question("description", "What happens at the service?", ("description",)),
    Question("type", "What type of service is it?", ("category",)),
    Question(
        "helps-with",
        "What does it help people to do?",
        ("tags", "council_terms"),
        lists=("tags", "council_terms"),
    ),
    Question("price", "How much does one place cost?", ("price",)),
    Question("places", "How many places does it have?", ("capacity",), new_only=True),
    Question(
        "areas", "Which areas does it serve?", ("area", "other_areas"), lists=("other_areas",)
    ),
    Question("address", "Where does it happen?", ("location", "address_line", "town", "postcode")),
    Question(
        "who",
        "Who is it for?",
        ("min_age_band", "max_age_band", "min_need_level", "max_need_level", "eligibility_text"),
    ),
    Question("when", "When does it happen?", ("schedule",), new_only=True),
    Question("access", "Is it easy to get in and around?", ("accessibility",)),
    Question("languages", "Languages, and who people can ask", ("languages", "contact_name")),
)
BY_SLUG = {q.slug: q for q in QUESTIONS}


def question(slug: str) -> Question:
    if slug not in BY_SLUG:
        raise NotFound("There is no such question.")
    return BY_SLUG[slug]


def questions_for(*, new: bool) -> list[Question]:
    return [q for q in QUESTIONS if new or not q.new_only]


def next_question(slug: str) -> Question | None:
    """The question after ``slug`` for a new offer, or None after the last."""
    order = questions_for(new=True)
    at = [q.slug for q in order].index(slug)
    return order[at + 1] if at + 1 < len(order) else None


def previous_question(slug: str) -> Question | None:
    order = questions_for(new=True)
    at = [q.slug for q in order].index(slug)
    return order[at - 1] if at > 0 else None


def start_draft(session: Session, actor: User, provider: Provider) -> OfferDraft:
    """A new, empty draft of ``actor``'s for ``provider`` (the oldest forgotten past
    :data:`MAX_DRAFTS`)."""
    require_member(session, actor, provider)
    kept = list(
        session.scalars(
            select(OfferDraft)
            .where(OfferDraft.provider_id == provider.id, OfferDraft.user_id == actor.id)
            .order_by(OfferDraft.updated_at.desc(), OfferDraft.id.desc())
        )
    )
    for old in kept[MAX_DRAFTS - 1 :]:
        session.delete(old)
    draft = OfferDraft(provider_id=provider.id, user_id=actor.id, answers={})
    session.add(draft)
    session.flush()
    return draft


def open_drafts(session: Session, actor: User, provider: Provider) -> list[OfferDraft]:
    """``actor``'s unfinished drafts for ``provider``, the newest first."""
    require_member(session, actor, provider)
    return list(
        session.scalars(
            select(OfferDraft)
            .where(OfferDraft.provider_id == provider.id, OfferDraft.user_id == actor.id)
            .order_by(OfferDraft.updated_at.desc(), OfferDraft.id.desc())
        )
    )


def own_draft(session: Session, actor: User, provider: Provider, draft_id: int) -> OfferDraft:
    """``actor``'s draft ``draft_id`` for ``provider``; NotFound for anyone else's."""
    require_member(session, actor, provider)
    draft = session.get(OfferDraft, draft_id)
    if draft is None or draft.provider_id != provider.id or draft.user_id != actor.id:
        raise NotFound("We could not find that service. It may be saved already.")
    return draft


def _check(
    session: Session, provider: Provider, asked: Question, values: Mapping[str, Any]
) -> dict[str, Any]:
    """The question's fields of ``values``, checked; InvalidInput names the wrong ones."""
    answers = {name: values.get(name, [] if name in asked.lists else "") for name in asked.fields}
    offers.clean_offer_fields(session, provider, answers, partial=True)
    return answers


def answer_question(
    session: Session,
    actor: User,
    provider: Provider,
    draft: OfferDraft,
    slug: str,
    values: Mapping[str, Any],
) -> None:
    """Keep the answer to question ``slug`` in ``draft`` once its fields are right."""
    require_member(session, actor, provider)
    answers = _check(session, provider, question(slug), values)
    draft.answers = {**(draft.answers or {}), **answers}  # a new dict: the JSON is saved
    session.flush()


def unanswered(draft: OfferDraft) -> list[Question]:
    """The questions of a new offer that the draft has no answer to yet."""
    given = draft.answers or {}
    return [q for q in questions_for(new=True) if not all(f in given for f in q.fields)]


def finish_draft(
    session: Session,
    actor: User,
    provider: Provider,
    draft: OfferDraft,
    *,
    request_id: str | None = None,
) -> Offer:
    """Make the offer from every answer of ``draft`` (checked again, together), then delete
    the draft. InvalidInput names the wrong fields, and then nothing changes."""
    missing = unanswered(draft)
    if missing:
        raise InvalidInput({q.fields[0]: f"Answer “{q.heading}”" for q in missing})
    answers = dict(draft.answers)
    offer = offers.create_offer(session, actor, provider, answers, request_id=request_id)
    session.delete(draft)
    session.flush()
    return offer


def change_offer(
    session: Session,
    actor: User,
    provider: Provider,
    offer_id: int,
    slug: str,
    values: Mapping[str, Any],
    *,
    request_id: str | None = None,
) -> Offer:
    """Change an offer's answer to question ``slug`` (not one asked only of new offers)."""
    asked = question(slug)
    if asked.new_only:
        raise NotFound("There is no such question.")
    answers = {name: values.get(name, [] if name in asked.lists else "") for name in asked.fields}
    return offers.update_offer(
        session, actor, provider, offer_id, answers, partial=True, request_id=request_id
    )
