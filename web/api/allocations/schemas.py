"""Schemas of a person's places and statements. Money is integer pence."""

from __future__ import annotations

import marshmallow as ma

from web.api.rounds.schemas import StatementLineSchema
from web.api.schemas import StrictSchema


class AllocationSchema(StrictSchema):
    id = ma.fields.Integer(required=True)
    round_id = ma.fields.Integer(required=True)
    offer_id = ma.fields.Integer(required=True)
    offer_title = ma.fields.Function(lambda a: a.offer.title)
    provider_name = ma.fields.Function(lambda a: a.offer.provider.name)
    rank = ma.fields.Integer(allow_none=True, metadata={"description": "1 = first choice"})
    price_pence = ma.fields.Integer(required=True)
    status = ma.fields.String(
        required=True,
        metadata={
            "description": "offered, accepted, declined, withdrawn, expired (not answered in "
            "time), given_up or provider_declined"
        },
    )
    decided_at = ma.fields.DateTime(allow_none=True)
    answer_by = ma.fields.DateTime(
        allow_none=True, metadata={"description": "When an offer not yet answered expires"}
    )
    start_date = ma.fields.Date(
        allow_none=True, metadata={"description": "The start date the provider confirmed"}
    )
    explanation = ma.fields.Dict(
        allow_none=True,
        metadata={
            "description": "As stored: the person's entry of the run's explanations document "
            "(id, ranks_held and why_not, each with offer, rank, code, rule and message), or "
            "codes for a place offered again (source reoffer), moved or taken away by the "
            "council (source council, action) or from the demo's history; words has them "
            "in plain words"
        },
    )


class WhyNotWordsSchema(StrictSchema):
    """Why the person did not get one service they ranked above their place."""

    rank = ma.fields.Integer(allow_none=True, metadata={"description": "Its rank, 1 = first"})
    title = ma.fields.String(required=True, metadata={"description": "The service's name"})
    message = ma.fields.String(required=True)
    code = ma.fields.String(
        allow_none=True, metadata={"description": "The engine's reason code, when known"}
    )


class PlaceWordsSchema(StrictSchema):
    """An explanation in plain words for the person, made from its codes when it is read."""

    allocation_id = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "The place it explains; null: why the person got no place"},
    )
    summary = ma.fields.String(allow_none=True)
    reasons = ma.fields.List(ma.fields.String(), required=True)
    why_not = ma.fields.List(ma.fields.Nested(WhyNotWordsSchema), required=True)


class MyPlacesSchema(StrictSchema):
    round_id = ma.fields.Integer(allow_none=True)
    round_name = ma.fields.String(allow_none=True)
    budget_pence = ma.fields.Integer(allow_none=True)
    committed_pence = ma.fields.Integer(allow_none=True)
    allocations = ma.fields.List(ma.fields.Nested(AllocationSchema))
    explanation = ma.fields.Dict(allow_none=True)
    words = ma.fields.List(
        ma.fields.Nested(PlaceWordsSchema),
        metadata={
            "description": "Each explanation in plain words, in the language asked for: one "
            "per allocation that has one, and one with allocation_id null when the round's "
            "explanation says why the person got no place"
        },
    )


class PersonStatementSchema(StrictSchema):
    round_id = ma.fields.Integer(required=True)
    budget_pence = ma.fields.Integer(allow_none=True)
    spent_pence = ma.fields.Integer(required=True)
    left_pence = ma.fields.Integer(allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(StatementLineSchema))


class ProviderStatementSchema(StrictSchema):
    provider_id = ma.fields.Integer(required=True)
    total_pence = ma.fields.Integer(required=True)
    lines = ma.fields.List(ma.fields.Nested(StatementLineSchema))


class ConfirmPlacementSchema(StrictSchema):
    start_date = ma.fields.Date(
        required=True,
        metadata={
            "description": "When the person starts (YYYY-MM-DD): today or later, and at most 366 "
            "days ahead (the date given before may be given again). Otherwise 422 on start_date"
        },
    )


class DeclinePlacementSchema(StrictSchema):
    reason = ma.fields.String(
        required=True,
        metadata={
            "description": "Why the provider cannot take the person (the council sees it; at "
            "most 2,000 characters)",
            "pattern": r"\S",
        },
    )


class PlacementSchema(StrictSchema):
    id = ma.fields.Integer(required=True)
    person_name = ma.fields.String(required=True)
    offer_id = ma.fields.Function(lambda p: p.offer.id)
    offer_title = ma.fields.Function(lambda p: p.offer.title)
    round_id = ma.fields.Function(lambda p: p.round.id)
    status = ma.fields.Function(lambda p: str(p.status))
    start_date = ma.fields.Date(allow_none=True)
    confirmed = ma.fields.Boolean(required=True)
    reason = ma.fields.String(allow_none=True)


class MonthLineSchema(StrictSchema):
    month = ma.fields.String(required=True, metadata={"description": "YYYY-MM"})
    offered = ma.fields.Integer(required=True)
    offered_pence = ma.fields.Integer(required=True)
    accepted = ma.fields.Integer(required=True)
    accepted_pence = ma.fields.Integer(required=True)
    started = ma.fields.Integer(required=True)
    started_pence = ma.fields.Integer(required=True)


class MoneyByMonthSchema(StrictSchema):
    provider_id = ma.fields.Integer(required=True)
    months = ma.fields.List(ma.fields.Nested(MonthLineSchema))
