"""``/api/v1/market/<council>``: a council's market position statement, for anyone to read."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from web.api.market.schemas import MarketStatementSchema
from web.api.schemas import ErrorSchema
from web.api.service_errors import abort_for
from web.caching import cache_publicly
from web.db import get_session
from web.services import market
from web.services.errors import ServiceError

blp = Blueprint(
    "market_statements",
    __name__,
    url_prefix="/market",
    description="Each council's live market position statement, for anyone to read",
)


@blp.route("/<council_slug>")
class MarketStatement(MethodView):
    @blp.response(200, MarketStatementSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No council has this slug")
    def get(self, council_slug: str) -> dict[str, Any]:
        """A council's market position statement

        Demand, waiting lists, wishes not met and prices, from the council's published rounds
        and published offers. Groups under 10 people, and figures that would give one away,
        are null. Cached for five minutes (``ETag``, ``Cache-Control: public``).
        """
        try:
            statement = market.market_statement(get_session(), council_slug)
        except ServiceError as error:
            abort_for(error)
        cache_publicly()
        return {
            "council": statement.council,
            "threshold": statement.threshold,
            "hidden": statement.hidden,
            "rounds": statement.rounds,
            "tables": {name: table.rows for name, table in statement.tables.items()},
        }
