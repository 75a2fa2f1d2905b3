"""``/api/v1/rounds/{id}/cycle``: a commissioner's view of the places cycle after publishing,
the same as the "Answers and re-offers" page (:func:`web.services.places_cycle.round_cycle`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from web.api.round_cycle.schemas import CycleArgsSchema, CycleSchema
from web.api.schemas import ErrorSchema
from web.api.service_errors import abort_for
from web.auth import Role, current_account, guard_blueprint
from web.db import get_session
from web.services import places_cycle, rounds
from web.services.errors import ServiceError

blp = Blueprint(
    "round_cycle",
    __name__,
    url_prefix="/rounds",
    description="A published round's answers, deadlines, re-offers and money (commissioners)",
)
guard_blueprint(blp, Role.commissioner)
SECURITY = [{"sessionCookie": []}]


@blp.route("/<int:round_id>/cycle")
class RoundCycle(MethodView):
    @blp.arguments(CycleArgsSchema, location="query", unknown=ma.RAISE)
    @blp.response(200, CycleSchema)
    @blp.alt_response(401, schema=ErrorSchema, description="Not signed in")
    @blp.alt_response(403, schema=ErrorSchema, description="Not a commissioner")
    @blp.alt_response(404, schema=ErrorSchema, description="Not a round of your council")
    @blp.alt_response(422, schema=ErrorSchema, description="near_deadline_days is not 0 to 30")
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], round_id: int) -> dict[str, Any]:
        """See a round's answers and re-offers

        The spend forecast (accepted, offered and not yet answered, the pot left), offers near
        their deadline (soonest first), expired offers, places offered again, places given up,
        placements providers declined (with why), and free places with how many people wait.
        Before a round is published every list is empty.
        """
        s = get_session()
        actor = current_account()
        assert actor is not None
        days = args["near_deadline_days"]
        try:
            round_ = rounds.get_round(s, actor, round_id)
        except ServiceError as error:
            abort_for(error)
        cycle = places_cycle.round_cycle(s, round_, near_deadline=timedelta(days=days))
        return {
            "round": cycle.round,
            "near_deadline_days": days,
            "forecast": {
                "accepted_pence": cycle.forecast.accepted_pence,
                "offered_pence": cycle.forecast.offered_pence,
                "pot_pence": cycle.forecast.pot_pence,
                "left_pence": cycle.forecast.left_pence,
            },
            "near_deadline": cycle.near_deadline,
            "expired": cycle.expired,
            "reoffered": cycle.reoffered,
            "provider_declined": cycle.provider_declined,
            "given_up": cycle.given_up,
            "free_places": cycle.free_places,
        }
