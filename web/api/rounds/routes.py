"""``/api/v1/rounds``: a commissioner's rounds, budgets, policy, runs, publication, places
and money.

Runs are started here and happen off the request: ``POST /rounds/{id}/runs`` answers 202 with
the run, whose ``status`` and ``progress`` can then be polled at ``/rounds/{id}/runs/{run}``.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from models.accounts import User
from models.rounds import Allocation, Round, SolverRun
from web.api.rounds.schemas import (
    BudgetSchema,
    HeldPlaceSchema,
    MovePlaceSchema,
    PlacesSchema,
    PolicySchema,
    PublishSchema,
    ReleasePlaceSchema,
    RoundCreateSchema,
    RoundSchema,
    RoundStatementSchema,
    RunSchema,
    RunStartSchema,
)
from web.api.schemas import ErrorSchema
from web.api.service_errors import abort_for
from web.auth import Role, current_account, guard_blueprint
from web.db import get_session
from web.services import allocation_runs, allocations, budgets, place_moves, rounds
from web.services.errors import ServiceError
from web.services.jobs import DatabaseJobRunner

blp = Blueprint(
    "rounds",
    __name__,
    url_prefix="/rounds",
    description="Commissioning rounds, allocation runs and money (commissioners)",
)
guard_blueprint(blp, Role.commissioner)
SECURITY = [{"sessionCookie": []}]


def _actor() -> User:
    user = current_account()
    assert user is not None
    return user


def _round(round_id: int) -> Round:
    try:
        return rounds.get_round(get_session(), _actor(), round_id)
    except ServiceError as error:
        abort_for(error)


def _run(round_: Round, run_id: int) -> SolverRun:
    try:
        return allocation_runs.get_run(get_session(), round_, run_id)
    except ServiceError as error:
        abort_for(error)


def _commit() -> None:
    get_session().commit()


def _fail(error: ServiceError) -> None:
    get_session().rollback()
    abort_for(error)


@blp.route("")
class Rounds(MethodView):
    @blp.response(200, RoundSchema(many=True))
    @blp.doc(security=SECURITY)
    def get(self) -> list[Round]:
        """The council's rounds, newest first"""
        return [s.round for s in rounds.list_rounds(get_session(), _actor())]

    @blp.arguments(RoundCreateSchema)
    @blp.response(201, RoundSchema)
    @blp.alt_response(422, schema=ErrorSchema, description="Something is not valid")
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any]) -> Round:
        """Create a draft round"""
        try:
            round_ = rounds.create_round(get_session(), _actor(), **args)
        except ServiceError as error:
            _fail(error)
        _commit()
        return round_


@blp.route("/<int:round_id>")
class OneRound(MethodView):
    @blp.response(200, RoundSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such round")
    @blp.doc(security=SECURITY)
    def get(self, round_id: int) -> Round:
        """One round with its places and policy"""
        return _round(round_id)


@blp.route("/<int:round_id>/places")
class Places(MethodView):
    @blp.arguments(PlacesSchema)
    @blp.response(200, RoundSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such round")
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="The round has closed, or a change clashes with it: an offer people "
        "chose taken out, or fewer places than are taken",
    )
    @blp.alt_response(422, schema=ErrorSchema, description="Not your offer, or not 0 or more")
    @blp.doc(security=SECURITY)
    def put(self, args: dict[str, Any], round_id: int) -> Round:
        """Set the places of each offer (0 or missing = not in the round)"""
        round_ = _round(round_id)
        try:
            rounds.set_places(get_session(), _actor(), round_, args["places"])
        except ServiceError as error:
            _fail(error)
        _commit()
        return round_


@blp.route("/<int:round_id>/policy")
class Policy(MethodView):
    @blp.arguments(PolicySchema)
    @blp.response(200, RoundSchema)
    @blp.doc(security=SECURITY)
    def put(self, args: dict[str, Any], round_id: int) -> Round:
        """Set the mechanism, equity rules, time limit and seed"""
        round_ = _round(round_id)
        try:
            rounds.set_policy(get_session(), _actor(), round_, **args)
        except ServiceError as error:
            _fail(error)
        _commit()
        return round_


def _move(round_id: int, action: str) -> Round:
    round_ = _round(round_id)
    move = rounds.open_round if action == "open" else rounds.close_round
    try:
        move(get_session(), _actor(), round_)
    except ServiceError as error:
        _fail(error)
    _commit()
    return round_


@blp.route("/<int:round_id>/open")
class Open(MethodView):
    @blp.response(200, RoundSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="Only a draft round can open")
    @blp.doc(security=SECURITY)
    def post(self, round_id: int) -> Round:
        """Open the round for choices"""
        return _move(round_id, "open")


@blp.route("/<int:round_id>/close")
class Close(MethodView):
    @blp.response(200, RoundSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="Only an open round can close")
    @blp.doc(security=SECURITY)
    def post(self, round_id: int) -> Round:
        """Close the round for choices"""
        return _move(round_id, "close")


@blp.route("/<int:round_id>/budgets/<int:person_id>")
class OneBudget(MethodView):
    @blp.arguments(BudgetSchema)
    @blp.response(200, BudgetSchema)
    @blp.doc(security=SECURITY)
    def put(self, args: dict[str, Any], round_id: int, person_id: int) -> Any:
        """Set one person's budget for the round"""
        round_ = _round(round_id)
        try:
            budget = budgets.set_budget(
                get_session(), _actor(), round_, person_id, args["amount_pence"]
            )
        except ServiceError as error:
            _fail(error)
        _commit()
        return budget


@blp.route("/<int:round_id>/runs")
class Runs(MethodView):
    @blp.response(200, RunSchema(many=True))
    @blp.doc(security=SECURITY)
    def get(self, round_id: int) -> list[SolverRun]:
        """The round's runs, newest first"""
        return allocation_runs.list_runs(get_session(), _round(round_id))

    @blp.arguments(RunStartSchema)
    @blp.response(202, RunSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="A run is already going")
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], round_id: int) -> SolverRun:
        """Start an allocation run (it happens in the background)"""
        round_ = _round(round_id)
        s = get_session()
        try:
            run = allocation_runs.start_run(
                s,
                DatabaseJobRunner(s),
                _actor(),
                round_,
                label=args["label"],
                mechanism=args["mechanism"],
                rules=[] if args["without_rules"] else None,
            )
        except ServiceError as error:
            _fail(error)
        _commit()
        return run


@blp.route("/<int:round_id>/runs/<int:run_id>")
class OneRun(MethodView):
    @blp.response(200, RunSchema)
    @blp.doc(security=SECURITY)
    def get(self, round_id: int, run_id: int) -> SolverRun:
        """A run's status and progress"""
        run = _run(_round(round_id), run_id)
        s = get_session()
        allocation_runs.sync_with_job(s, DatabaseJobRunner(s), run)
        s.commit()
        return run


def _run_file(round_id: int, run_id: int, what: str) -> Response:
    run = _run(_round(round_id), run_id)
    text = run.instance_json if what == "instance" else run.result_json
    if text is None:
        from flask_smorest import abort

        abort(404, message="This run has no result yet.")
    return Response(text, mimetype="application/json")


@blp.route("/<int:round_id>/runs/<int:run_id>/instance")
class RunInstance(MethodView):
    @blp.response(200, description="The allocation format's instance JSON")
    @blp.doc(security=SECURITY)
    def get(self, round_id: int, run_id: int) -> Response:
        """The run's input: rerun it with `tapestry solve` to check the result"""
        return _run_file(round_id, run_id, "instance")


@blp.route("/<int:round_id>/runs/<int:run_id>/result")
class RunResult(MethodView):
    @blp.response(200, description="The allocation format's result JSON")
    @blp.alt_response(404, schema=ErrorSchema, description="No result yet")
    @blp.doc(security=SECURITY)
    def get(self, round_id: int, run_id: int) -> Response:
        """The engine's result of the run"""
        return _run_file(round_id, run_id, "result")


@blp.route("/<int:round_id>/runs/<int:run_id>/publish")
class Publish(MethodView):
    @blp.arguments(PublishSchema)
    @blp.response(200, RoundSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="Cannot publish now")
    @blp.alt_response(
        422,
        schema=ErrorSchema,
        description="The run breaks the pot or a rule and no `override_reason` was given",
    )
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], round_id: int, run_id: int) -> Round:
        """Make this run the round's allocation: offer every place in it

        A run that breaks the round's pot or a rule (a stable run can) is refused with 422 on
        ``override_reason``, listing what it breaks, unless the body gives ``override_reason``.
        """
        round_ = _round(round_id)
        run = _run(round_, run_id)
        try:
            allocations.publish_run(
                get_session(), _actor(), round_, run, override_reason=args["override_reason"]
            )
        except ServiceError as error:
            _fail(error)
        _commit()
        return round_


@blp.route("/<int:round_id>/statement")
class Statement(MethodView):
    @blp.response(200, RoundStatementSchema)
    @blp.doc(security=SECURITY)
    def get(self, round_id: int) -> dict[str, Any]:
        """Every commitment of the round, with totals per person and per provider"""
        lines = allocations.round_statement(get_session(), _round(round_id))
        return {
            "total_pence": sum(line.amount_pence for line in lines if not line.released),
            "by_person": allocations.totals_by(lines, "person"),
            "by_provider": allocations.totals_by(lines, "provider"),
            "lines": lines,
        }


@blp.route("/<int:round_id>/held-places")
class HeldPlaces(MethodView):
    @blp.response(200, HeldPlaceSchema(many=True))
    @blp.doc(security=SECURITY)
    def get(self, round_id: int) -> list[Allocation]:
        """The places people hold in the round (offered or accepted), by offer"""
        return place_moves.held_places(get_session(), _round(round_id))


@blp.route("/<int:round_id>/held-places/<int:allocation_id>/move")
class MovePlace(MethodView):
    @blp.arguments(MovePlaceSchema)
    @blp.response(201, HeldPlaceSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such place in this round")
    @blp.alt_response(
        409, schema=ErrorSchema, description="The place is no longer held, or was just taken"
    )
    @blp.alt_response(
        422,
        schema=ErrorSchema,
        description="No reason, an offer with no free place or that the person cannot pay "
        "for, or an accepted place without the person's consent",
    )
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], round_id: int, allocation_id: int) -> Allocation:
        """Move a held place to another offer of the round (so its provider can cut places)

        An offered place moves and is offered again on the new offer. An accepted place moves
        only with ``consent: true`` (the person agrees); its money is given back and the new
        price committed. The place freed is not offered on. Answers with the new place.
        """
        round_ = _round(round_id)
        try:
            new = place_moves.move_place(
                get_session(),
                _actor(),
                round_,
                allocation_id,
                to_offer_id=args["to_offer_id"],
                reason=args["reason"],
                consent=args["consent"],
            )
        except ServiceError as error:
            _fail(error)
        _commit()
        return new


@blp.route("/<int:round_id>/held-places/<int:allocation_id>/release")
class ReleasePlace(MethodView):
    @blp.arguments(ReleasePlaceSchema)
    @blp.response(200, HeldPlaceSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such place in this round")
    @blp.alt_response(409, schema=ErrorSchema, description="The place is no longer held")
    @blp.alt_response(422, schema=ErrorSchema, description="No reason given")
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], round_id: int, allocation_id: int) -> Allocation:
        """Take a held place away from its person, with a reason

        An accepted place's money goes back to the person's budget. The place freed is not
        offered on. Answers with the released place (status ``withdrawn``).
        """
        round_ = _round(round_id)
        try:
            released = place_moves.release_place(
                get_session(), _actor(), round_, allocation_id, reason=args["reason"]
            )
        except ServiceError as error:
            _fail(error)
        _commit()
        return released
