"""A provider says when an offer runs: add and remove its RFC 5545 rules.

The rules' shape, their checks and their plain words are in :mod:`web.services.recurrence`.
Saving the rules also sets ``Offer.schedule``, the days and parts of the day they fall on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from models.accounts import User
from models.audit import append_event
from models.providers import Offer, Provider
from web.services.errors import InvalidInput, NotFound
from web.services.offers import own_offer
from web.services.recurrence import clean_rule, pattern_from_rules, rule_key

MAX_RULES = 20


# --- the provider's page ---------------------------------------------------------------------


def offer_rules(session: Session, actor: User, provider: Provider, offer_id: int) -> list[Any]:
    """The rules of one of ``provider``'s offers, as they are kept."""
    return list(own_offer(session, actor, provider, offer_id).schedule_rules or [])


def add_rule(
    session: Session,
    actor: User,
    provider: Provider,
    offer_id: int,
    form: Mapping[str, Any],
    *,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Add one rule to an offer from the page's answers (see :func:`clean_rule`)."""
    offer = own_offer(session, actor, provider, offer_id)
    rule = clean_rule(form)
    rules = list(offer.schedule_rules or [])
    if rule in rules:
        return rule  # said twice: once is enough
    if len(rules) >= MAX_RULES:
        raise InvalidInput({"often": f"A service can have up to {MAX_RULES} times it runs"})
    _save(session, actor, offer, [*rules, rule], "added", rule, request_id)
    return rule


def remove_rule(
    session: Session,
    actor: User,
    provider: Provider,
    offer_id: int,
    key: str,
    *,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Take one rule (named by :func:`rule_key`) off an offer."""
    offer = own_offer(session, actor, provider, offer_id)
    rules = list(offer.schedule_rules or [])
    found = [r for r in rules if rule_key(r) == key]
    if not found:
        raise NotFound("That time has been taken off already.")
    _save(
        session,
        actor,
        offer,
        [r for r in rules if r is not found[0]],
        "removed",
        found[0],
        request_id,
    )
    return dict(found[0])


def _save(
    session: Session,
    actor: User,
    offer: Offer,
    rules: list[Any],
    how: str,
    rule: Mapping[str, Any],
    request_id: str | None,
) -> None:
    offer.schedule_rules = rules
    offer.schedule = pattern_from_rules(rules)
    session.flush()
    append_event(
        session,
        f"offer.schedule_{how}",
        actor_user_id=actor.id,
        object_type="offer",
        object_id=offer.id,
        request_id=request_id,
        details={"provider_id": offer.provider_id, "rule": dict(rule)},
    )
