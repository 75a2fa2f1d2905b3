"""Schemas for ``/api/v1/market``: a council's market position statement.

Each table's rows have the columns of :mod:`web.services.market`. A figure that is ``null`` is
hidden to keep people private: a group under 10 people, or a figure that would let someone
work one out (``docs/market-position.md``). Money is whole pence (GBP).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from web.api.schemas import StrictSchema
from web.services import market

HIDDEN = "Null when hidden to keep people private."
DESCRIPTIONS = {
    "round_id": "The round's id.",
    "round": "The round's name.",
    "category": "The kind of service (an offer category); empty on a round's total row.",
    "category_label": "The kind of service in words; 'All' on a total row.",
    "area": "The council area; 'Online or anywhere' for services with no area; 'All' on a "
    "total row. In the wishes table, where the people live ('Area not given' if unknown).",
    "people_who_chose": "People who chose at least one service of this kind here.",
    "first_choices": "People whose first choice is a service of this kind here.",
    "places": "Places in the round.",
    "got_a_place": "Of the people who chose, those who hold a place in the round.",
    "left_without_a_place": "Of the people who chose, those who hold no place in the round.",
    "places_taken": "Places held now (offered and not yet answered, or accepted).",
    "free_places": "Places not held now.",
    "people_waiting": "People who chose a service here over the place they hold (or hold "
    "none), were never offered it and have not accepted a place.",
    "outcome": "The outcome tag's code.",
    "outcome_label": "The outcome in words.",
    "people_who_want_it": "People who want this outcome.",
    "offers": "Published services giving it (in the area or online).",
    "have_a_place": "Of them, people who hold a place giving it in the latest published round.",
    "not_met": "Of them, people who hold no such place.",
    "lowest_price_pence": "Lowest price of a place, in pence.",
    "average_price_pence": "Average price of a place, in whole pence.",
    "highest_price_pence": "Highest price of a place, in pence.",
}
DESCRIPTIONS["offers_prices"] = "Published services of this kind here."


def _field(column: market.Column, table: str) -> ma.fields.Field:
    description = DESCRIPTIONS[
        "offers_prices" if (table, column.name) == ("prices", "offers") else column.name
    ]
    if column.name == "round_id":
        return ma.fields.Integer(required=True, metadata={"description": description})
    if column.kind in ("text", "id"):
        return ma.fields.String(required=True, metadata={"description": description})
    hideable = column.kind == "count" or (table in ("demand", "waiting") and column.is_figure)
    return ma.fields.Integer(
        required=True,
        allow_none=hideable,
        validate=ma.validate.Range(min=0),
        metadata={"description": f"{description} {HIDDEN}" if hideable else description},
    )


def _row_schema(name: str, table: str, columns: tuple[market.Column, ...]) -> type[ma.Schema]:
    fields: dict[str, Any] = {c.name: _field(c, table) for c in columns}
    fields["__doc__"] = f"One row of the {market.TABLE_TITLES[table].lower()} table."
    return type(name, (StrictSchema,), fields)


DemandRowSchema = _row_schema("MarketDemandRow", "demand", market.DEMAND_COLUMNS)
WaitingRowSchema = _row_schema("MarketWaitingRow", "waiting", market.WAITING_COLUMNS)
UnmetRowSchema = _row_schema("MarketUnmetRow", "unmet", market.UNMET_COLUMNS)
PriceRowSchema = _row_schema("MarketPriceRow", "prices", market.PRICE_COLUMNS)


class MarketCouncilSchema(StrictSchema):
    """The council whose statement this is."""

    name = ma.fields.String(required=True)
    slug = ma.fields.String(required=True)


class MarketRoundSchema(StrictSchema):
    """A published round the figures come from."""

    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    published_at = ma.fields.AwareDateTime(required=True, allow_none=True)


class MarketTablesSchema(StrictSchema):
    """The statement's four tables (the same rows as the CSV files on the page)."""

    demand = ma.fields.List(ma.fields.Nested(DemandRowSchema), required=True)
    waiting = ma.fields.List(ma.fields.Nested(WaitingRowSchema), required=True)
    unmet = ma.fields.List(ma.fields.Nested(UnmetRowSchema), required=True)
    prices = ma.fields.List(ma.fields.Nested(PriceRowSchema), required=True)


class MarketStatementSchema(StrictSchema):
    """A council's live market position statement, from its published rounds only."""

    council = ma.fields.Nested(MarketCouncilSchema, required=True)
    threshold = ma.fields.Integer(
        required=True, metadata={"description": "No group of fewer people than this is shown."}
    )
    hidden = ma.fields.Integer(
        required=True, metadata={"description": "How many figures are hidden (null)."}
    )
    rounds = ma.fields.List(
        ma.fields.Nested(MarketRoundSchema),
        required=True,
        metadata={"description": "The published rounds, newest first."},
    )
    tables = ma.fields.Nested(MarketTablesSchema, required=True)
