"""A run's explanations, rule prices and place values, as the worker stored them.

Every figure is the run's explanations document (``shared/spec/explanations-format.md``), the
same the pages and ``tapestry explain`` show. A run that has not finished, found no allocation
or has no document answers 409; a person who was not in the run 404.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from models.accounts import User
from models.rounds import SolverRun
from web.api.run_explanations.schemas import (
    ExplanationsArgsSchema,
    ExplanationsPageSchema,
    PersonExplanationSchema,
    PlaceValuesSchema,
    RulePricesSchema,
)
from web.api.schemas import ErrorSchema
from web.api.service_errors import abort_for
from web.auth import Role, current_account, guard_blueprint
from web.db import get_session
from web.services import allocation_runs, results, rounds
from web.services.errors import ServiceError

blp = Blueprint(
    "run_explanations",
    __name__,
    url_prefix="/rounds",
    description="Why each person got their place, what each rule costs and what one more "
    "place is worth (commissioners)",
)
guard_blueprint(blp, Role.commissioner)
SECURITY = [{"sessionCookie": []}]
RUN = "/<int:round_id>/runs/<int:run_id>"


def _run(round_id: int, run_id: int) -> SolverRun:
    actor: User | None = current_account()
    assert actor is not None
    try:
        round_ = rounds.get_round(get_session(), actor, round_id)
        return allocation_runs.get_run(get_session(), round_, run_id)
    except ServiceError as error:
        abort_for(error)


@blp.route(f"{RUN}/explanations")
class Explanations(MethodView):
    @blp.arguments(ExplanationsArgsSchema, location="query", unknown=ma.RAISE)
    @blp.response(200, ExplanationsPageSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="The run has no explanations")
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], round_id: int, run_id: int) -> dict[str, Any]:
        """Each person's explanation, a page at a time, sorted by person id"""
        try:
            return results.explanations_page(_run(round_id, run_id), **args)
        except ServiceError as error:
            abort_for(error)


@blp.route(f"{RUN}/explanations/<int:person_id>")
class PersonExplanation(MethodView):
    @blp.response(200, PersonExplanationSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not in this run")
    @blp.alt_response(409, schema=ErrorSchema, description="The run has no explanations")
    @blp.doc(security=SECURITY)
    def get(self, round_id: int, run_id: int, person_id: int) -> dict[str, Any]:
        """One person's explanation: the ranks they got, and why not each choice above"""
        try:
            return results.person_entry(_run(round_id, run_id), person_id)
        except ServiceError as error:
            abort_for(error)


@blp.route(f"{RUN}/rule-prices")
class RulePrices(MethodView):
    @blp.response(200, RulePricesSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="The run has no explanations")
    @blp.doc(security=SECURITY)
    def get(self, round_id: int, run_id: int) -> dict[str, Any]:
        """What each fairness rule costs, in points of value (none for stable runs)"""
        try:
            return results.rule_prices(get_session(), _run(round_id, run_id))
        except ServiceError as error:
            abort_for(error)


@blp.route(f"{RUN}/place-values")
class PlaceValues(MethodView):
    @blp.response(200, PlaceValuesSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="The run has no explanations")
    @blp.doc(security=SECURITY)
    def get(self, round_id: int, run_id: int) -> dict[str, Any]:
        """What one more place at each offer would add, in points of value (none for stable)"""
        try:
            return results.place_values(get_session(), _run(round_id, run_id))
        except ServiceError as error:
            abort_for(error)
