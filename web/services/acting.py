"""Who may act for a person: the person themselves, or an advocate within a granted consent.

Every person-side service takes an ``actor`` (the signed-in user) and a ``person`` (the profile
acted on), and calls :func:`authorise` first, so the person's pages and the advocate's "acting
for" pages run the same code. Scopes follow :class:`models.people.Consent`: ``view`` to see,
``draft`` to change the profile, choices, feedback and proposals, ``submit`` to accept or
decline a place.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.accounts import Role, User
from models.audit import AuditEvent, append_event
from models.people import Consent, ConsentStatus, PersonProfile
from web.services.errors import NotAllowed
from web.services.words import _

Scope = Literal["view", "draft", "submit"]


def authorise(session: Session, actor: User, person: PersonProfile, scope: Scope) -> None:
    """Raise :class:`NotAllowed` unless ``actor`` may act for ``person`` within ``scope``."""
    if not actor.is_active:
        raise NotAllowed(_("Your account is not active."))
    if actor.id == person.user_id:
        return
    if actor.role == Role.advocate:
        consent = session.scalars(
            select(Consent).where(
                Consent.person_id == person.id,
                Consent.advocate_id == actor.id,
                Consent.status == ConsentStatus.granted,
            )
        ).first()
        if consent is not None and scope in consent.scopes:
            return
        raise NotAllowed(f"{person.display_name} has not agreed that you can do this for them.")
    raise NotAllowed(_("You cannot do this for someone else."))


def may(session: Session, actor: User, person: PersonProfile, scope: Scope) -> bool:
    """Whether ``actor`` may act for ``person`` within ``scope``: pages ask this before they show
    a form, so nobody is shown a button that ends on "you cannot do this"."""
    try:
        authorise(session, actor, person, scope)
    except NotAllowed:
        return False
    return True


def on_behalf_of(actor: User, person: PersonProfile) -> int | None:
    """The person's user id when someone else acts for them, else ``None``."""
    return None if actor.id == person.user_id else person.user_id


def record(
    session: Session,
    actor: User,
    action: str,
    *,
    person: PersonProfile,
    subject: tuple[str, int | str],
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an audit event: ``actor`` did ``action`` to ``subject``, for ``person`` when acting
    for someone else. ``data`` holds ids and figures only, never personal words."""
    object_type, object_id = subject
    return append_event(
        session,
        action,
        actor_user_id=actor.id,
        on_behalf_of_user_id=on_behalf_of(actor, person),
        object_type=object_type,
        object_id=object_id,
        details={"person_id": person.id, **(data or {})},
    )
