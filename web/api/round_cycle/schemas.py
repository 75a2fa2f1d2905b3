"""Schemas of ``/api/v1/rounds/{id}/cycle``: the round's answers and re-offers."""

from __future__ import annotations

import marshmallow as ma

from web.api.schemas import StrictSchema

#: How many days ahead "near their deadline" may look (a round gives at most this long).
NEAR_DAYS_MAX = 30


class CycleArgsSchema(StrictSchema):
    near_deadline_days = ma.fields.Integer(
        load_default=2,
        validate=ma.validate.Range(min=0, max=NEAR_DAYS_MAX),
        metadata={
            "description": "Offers due to be answered within this many days count as near "
            f"their deadline (0 to {NEAR_DAYS_MAX}; 2 if not given)"
        },
    )


class CycleOfferSchema(StrictSchema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    provider_name = ma.fields.String(required=True, attribute="provider.name")


class CyclePlaceSchema(StrictSchema):
    """One place in the cycle: who it is for, what, its price and its answer dates."""

    id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, attribute="status.value")
    person_id = ma.fields.Integer(required=True)
    person_name = ma.fields.String(required=True, attribute="person.display_name")
    offer = ma.fields.Nested(CycleOfferSchema, required=True)
    price_pence = ma.fields.Integer(required=True)
    answer_by = ma.fields.DateTime(
        allow_none=True, metadata={"description": "When an offer not yet answered expires"}
    )
    decided_at = ma.fields.DateTime(allow_none=True)
    provider_reason = ma.fields.String(
        allow_none=True, metadata={"description": "Why the provider could not take the person"}
    )


class ForecastSchema(StrictSchema):
    """The round's money in pence: accepted, offered and not yet answered, and the pot left if
    every offer is taken (null when the round has no pot)."""

    accepted_pence = ma.fields.Integer(required=True)
    offered_pence = ma.fields.Integer(required=True)
    pot_pence = ma.fields.Integer(allow_none=True)
    left_pence = ma.fields.Integer(allow_none=True)


class FreePlaceSchema(StrictSchema):
    offer = ma.fields.Nested(CycleOfferSchema, required=True)
    free = ma.fields.Integer(required=True, metadata={"description": "Places free"})
    waiting = ma.fields.Integer(
        required=True, metadata={"description": "People on its waiting list who could take one"}
    )


class CycleSchema(StrictSchema):
    """The round's answers and re-offers, as on the commissioner's page."""

    round_id = ma.fields.Integer(required=True, attribute="round.id")
    near_deadline_days = ma.fields.Integer(required=True)
    forecast = ma.fields.Nested(ForecastSchema, required=True)
    near_deadline = ma.fields.List(ma.fields.Nested(CyclePlaceSchema), required=True)
    expired = ma.fields.List(ma.fields.Nested(CyclePlaceSchema), required=True)
    reoffered = ma.fields.List(ma.fields.Nested(CyclePlaceSchema), required=True)
    provider_declined = ma.fields.List(ma.fields.Nested(CyclePlaceSchema), required=True)
    given_up = ma.fields.List(ma.fields.Nested(CyclePlaceSchema), required=True)
    free_places = ma.fields.List(ma.fields.Nested(FreePlaceSchema), required=True)
