"""``/api/v1/allocations``: a person's places (accept, decline, give up), providers' answers
to placements (confirm with a start date, decline with a reason) and statements of money.

``POST /allocations/{id}/accept``, ``.../decline`` and ``.../give-up`` honour an
``Idempotency-Key`` header: sending the same request again with the same key gives the first
answer again instead of doing it twice (see :mod:`web.services.idempotency`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from flask import Response, abort, request
from flask.views import MethodView
from flask_smorest import Blueprint

from models.accounts import User
from models.people import PersonProfile
from models.rounds import Allocation, Round
from web.api.allocations.schemas import (
    AllocationSchema,
    ConfirmPlacementSchema,
    DeclinePlacementSchema,
    MoneyByMonthSchema,
    MyPlacesSchema,
    PersonStatementSchema,
    PlacementSchema,
    ProviderStatementSchema,
)
from web.api.schemas import ErrorSchema
from web.api.service_errors import abort_for
from web.auth import Role, current_account, roles_required
from web.db import get_session
from web.errors import error_payload
from web.services import allocations, idempotency, places_cycle, providers
from web.services.errors import InvalidInput, NotFound, ServiceError
from web.services.explanations import place_words

blp = Blueprint(
    "allocations",
    __name__,
    url_prefix="/allocations",
    description="A person's places, accepting or declining them, and statements of money",
)
SECURITY = [{"sessionCookie": []}]
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    # What web.services.idempotency.check_key accepts: 1 to 255 printable characters.
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    "description": "Send the same key again to get the first answer instead of a second action",
}


def _me() -> tuple[User, PersonProfile]:
    user = current_account()
    assert user is not None
    if user.person_profile is None:
        abort(404, description="You have no profile yet. Ask the council.")
    return user, user.person_profile


@blp.route("/mine")
class Mine(MethodView):
    decorators = [roles_required(Role.person)]

    @blp.response(200, MyPlacesSchema)
    @blp.doc(security=SECURITY)
    def get(self) -> dict[str, Any]:
        """My places in the latest published round, with the engine's explanation"""
        actor, person = _me()
        try:
            found = allocations.my_places(get_session(), actor, person)
        except ServiceError as error:
            abort_for(error)
        session = get_session()
        budget = found.budget.amount_pence if found.budget else None
        explained = [(a.id, a.explanation) for a in found.allocations]
        words = [
            {"allocation_id": key, **asdict(place_words(session, stored, budget_pence=budget))}
            for key, stored in [*explained, (None, found.explanation)]
            if stored
        ]
        return {
            "round_id": found.round.id if found.round else None,
            "round_name": found.round.name if found.round else None,
            "budget_pence": budget,
            "committed_pence": found.budget.committed_pence if found.budget else None,
            "allocations": found.allocations,
            "explanation": found.explanation,
            "words": words,
        }


def _decide(
    allocation_id: int,
    decide: Callable[[Any, User, PersonProfile, int], Allocation],
) -> Response:
    """Accept or decline, at most once per Idempotency-Key."""
    actor, person = _me()
    s = get_session()
    key = request.headers.get("Idempotency-Key")
    record = None
    if key is not None:
        hash_ = idempotency.request_hash(request.method, request.path, request.get_data())
        try:
            idempotency.check_key(key)
            claimed = idempotency.claim_or_replay(
                s, actor.id, key, request.method, request.path, hash_
            )
            if isinstance(claimed, idempotency.Replay):
                s.rollback()
                return _json(claimed.body, claimed.status, replayed=True)
            record = claimed
        except ServiceError as error:
            s.rollback()
            abort_for(error, {"Idempotency-Key": "Idempotency-Key"})
    try:
        allocation = decide(s, actor, person, allocation_id)
    except ServiceError as error:
        s.rollback()
        body = json.dumps(
            error_payload(
                error.status,
                error.message,
                {k: [v] for k, v in error.errors.items()}
                if isinstance(error, InvalidInput)
                else {},
            )
        )
        if key is not None:
            # Remember the refusal too, so a replay gets the same answer. Another request with
            # this key may have claimed it since the rollback: then its answer is the answer.
            try:
                claimed = idempotency.claim_or_replay(
                    s, actor.id, key, request.method, request.path, hash_
                )
            except ServiceError as busy:
                s.rollback()
                abort_for(busy, {"Idempotency-Key": "Idempotency-Key"})
            if isinstance(claimed, idempotency.Replay):
                s.rollback()
                return _json(claimed.body, claimed.status, replayed=True)
            idempotency.remember(claimed, error.status, body)
            s.commit()
        return _json(body, error.status)
    body = json.dumps(AllocationSchema().dump(allocation))
    if record is not None:
        idempotency.remember(record, 200, body)
    s.commit()
    return _json(body, 200)


def _json(body: str, status: int, *, replayed: bool = False) -> Response:
    response = Response(body, status=status, mimetype="application/json")
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@blp.route("/<int:allocation_id>/accept")
class Accept(MethodView):
    decorators = [roles_required(Role.person)]

    @blp.response(200, AllocationSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="Already decided, or no money left")
    @blp.doc(security=SECURITY, parameters=[IDEMPOTENCY_HEADER])
    def post(self, allocation_id: int) -> Response:
        """Accept an offered place: its price moves from my budget to the provider"""
        return _decide(allocation_id, allocations.accept_place)


@blp.route("/<int:allocation_id>/decline")
class Decline(MethodView):
    decorators = [roles_required(Role.person)]

    @blp.response(200, AllocationSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="Already decided")
    @blp.doc(security=SECURITY, parameters=[IDEMPOTENCY_HEADER])
    def post(self, allocation_id: int) -> Response:
        """Turn down an offered place; it goes to the next person at once"""
        return _decide(allocation_id, allocations.decline_place)


@blp.route("/<int:allocation_id>/give-up")
class GiveUp(MethodView):
    decorators = [roles_required(Role.person)]

    @blp.response(200, AllocationSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="Not accepted, or it has started")
    @blp.doc(security=SECURITY, parameters=[IDEMPOTENCY_HEADER])
    def post(self, allocation_id: int) -> Response:
        """Give up an accepted place before it starts: the money comes back to my budget and
        the place goes to the next person at once"""
        return _decide(allocation_id, places_cycle.give_up_place)


def _provider() -> tuple[User, Any]:
    actor = current_account()
    assert actor is not None
    try:
        return actor, providers.provider_for(get_session(), actor)
    except ServiceError as error:
        abort_for(error)


@blp.route("/placements")
class Placements(MethodView):
    decorators = [roles_required(Role.provider)]

    @blp.response(200, PlacementSchema(many=True))
    @blp.doc(security=SECURITY)
    def get(self) -> list[Any]:
        """Placements at my organisation's services in published rounds"""
        actor, provider = _provider()
        return providers.placements(get_session(), actor, provider)


def _answer(allocation_id: int, answer: Callable[..., Allocation], **kwargs: Any) -> Any:
    actor, provider = _provider()
    s = get_session()
    try:
        answer(s, actor, provider, allocation_id, **kwargs)
        found = providers.placement(s, actor, provider, allocation_id)
    except ServiceError as error:
        s.rollback()
        abort_for(error)
    s.commit()
    return found


@blp.route("/placements/<int:allocation_id>/confirm")
class ConfirmPlacement(MethodView):
    decorators = [roles_required(Role.provider)]

    @blp.arguments(ConfirmPlacementSchema)
    @blp.response(200, PlacementSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not a placement of mine")
    @blp.alt_response(409, schema=ErrorSchema, description="The person has not said yes")
    @blp.doc(security=SECURITY)
    def post(self, body: dict[str, Any], allocation_id: int) -> Any:
        """Confirm an accepted placement with its start date (again to change the date)"""
        return _answer(allocation_id, places_cycle.confirm_placement, start_date=body["start_date"])


@blp.route("/placements/<int:allocation_id>/decline")
class DeclinePlacement(MethodView):
    decorators = [roles_required(Role.provider)]

    @blp.arguments(DeclinePlacementSchema)
    @blp.response(200, PlacementSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not a placement of mine")
    @blp.alt_response(409, schema=ErrorSchema, description="Not accepted, or started")
    @blp.doc(security=SECURITY)
    def post(self, body: dict[str, Any], allocation_id: int) -> Any:
        """Say I cannot take the person, and why: the money goes back to their budget and the
        place goes to the next person"""
        return _answer(allocation_id, places_cycle.decline_placement, reason=body["reason"])


@blp.route("/statements/provider/by-month")
class ProviderMoneyByMonth(MethodView):
    decorators = [roles_required(Role.provider)]

    @blp.response(200, MoneyByMonthSchema)
    @blp.doc(security=SECURITY)
    def get(self) -> dict[str, Any]:
        """My organisation's money by month: offered, accepted and started (newest first)"""
        actor, provider = _provider()
        months = places_cycle.provider_money(get_session(), actor, provider)
        return {"provider_id": provider.id, "months": months}


@blp.route("/statements/mine/<int:round_id>")
class MyStatement(MethodView):
    decorators = [roles_required(Role.person)]

    @blp.response(200, PersonStatementSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such round")
    @blp.doc(security=SECURITY)
    def get(self, round_id: int) -> dict[str, Any]:
        """Money committed from my budget in a round, and what is left"""
        actor, person = _me()
        s = get_session()
        round_ = s.get(Round, round_id)
        if round_ is None or round_.council_id != actor.council_id:
            abort_for(NotFound("There is no such round."))
        statement = allocations.person_statement(s, actor, person, round_)
        budget = statement.budget
        return {
            "round_id": round_.id,
            "budget_pence": budget.amount_pence if budget else None,
            "spent_pence": statement.spent_pence,
            "left_pence": budget.remaining_pence if budget else None,
            "lines": statement.lines,
        }


@blp.route("/statements/provider")
class ProviderStatement(MethodView):
    decorators = [roles_required(Role.provider)]

    @blp.response(200, ProviderStatementSchema)
    @blp.doc(security=SECURITY)
    def get(self) -> dict[str, Any]:
        """Money committed to my organisation, oldest first"""
        actor = current_account()
        assert actor is not None
        try:
            provider = providers.provider_for(get_session(), actor)
        except ServiceError as error:
            abort_for(error)
        lines = allocations.provider_statement(get_session(), provider.id)
        return {
            "provider_id": provider.id,
            "total_pence": sum(line.amount_pence for line in lines if not line.released),
            "lines": lines,
        }
