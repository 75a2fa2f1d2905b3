"""Schemas of a run's explanations (``shared/spec/explanations-format.md``), rule prices and
place values. Value figures are points of value (``unit`` says so in words)."""

from __future__ import annotations

import marshmallow as ma

from web.api.common import PageArgsSchema, PageSchema
from web.api.schemas import StrictSchema

CODES = (
    "over_budget, no_places, full_higher_priority, unknown (stable); tie, capacity, pot, rule, "
    "several_limits (welfare)"
)


class ExplanationsArgsSchema(PageArgsSchema):
    """Which page of people's explanations to return."""


class WhyNotSchema(StrictSchema):
    offer = ma.fields.String(required=True, metadata={"example": "o-17"})
    rank = ma.fields.Integer(required=True, metadata={"description": "1 = their first choice"})
    code = ma.fields.String(required=True, metadata={"description": f"One of: {CODES}"})
    rule = ma.fields.Integer(
        allow_none=True, metadata={"description": "The rule's index when code is rule"}
    )
    message = ma.fields.String(required=True, metadata={"description": "A sentence for them"})


class PersonExplanationSchema(StrictSchema):
    """One person's entry of the explanations document, and their person id."""

    id = ma.fields.String(required=True, metadata={"example": "p-42"})
    person_id = ma.fields.Integer(required=True)
    ranks_held = ma.fields.List(
        ma.fields.Integer(), required=True, metadata={"description": "Ranks of places they got"}
    )
    why_not = ma.fields.List(ma.fields.Nested(WhyNotSchema), required=True)


class ExplanationsPageSchema(PageSchema):
    format = ma.fields.String(required=True, metadata={"example": "tapestry.explanations/1"})
    mechanism = ma.fields.String(required=True)
    objective = ma.fields.Integer(
        allow_none=True, metadata={"description": "The result's total value, in points"}
    )
    complete = ma.fields.Boolean(required=True)
    items = ma.fields.List(ma.fields.Nested(PersonExplanationSchema), required=True)


class _FiguresSchema(StrictSchema):
    mechanism = ma.fields.String(required=True)
    applies = ma.fields.Boolean(
        required=True, metadata={"description": "False for stable runs, which have none"}
    )
    note = ma.fields.String(allow_none=True, metadata={"description": "Why they do not apply"})
    unit = ma.fields.String(required=True, metadata={"description": "What the figures count"})


class RulePriceSchema(StrictSchema):
    rule = ma.fields.Integer(required=True, metadata={"description": "Index in policy.rules"})
    type = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    welfare_with = ma.fields.Integer(required=True, metadata={"description": "Points of value"})
    welfare_without = ma.fields.Integer(
        allow_none=True, metadata={"description": "Points; null: no allocation without it"}
    )
    lost = ma.fields.Integer(allow_none=True, metadata={"description": "Points given up"})


class RulePricesSchema(_FiguresSchema):
    items = ma.fields.List(ma.fields.Nested(RulePriceSchema), required=True)


class PlaceValueSchema(StrictSchema):
    offer = ma.fields.String(required=True, metadata={"example": "o-17"})
    offer_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    gain = ma.fields.Integer(
        required=True, metadata={"description": "Points of value one more place would add"}
    )


class PlaceValuesSchema(_FiguresSchema):
    items = ma.fields.List(ma.fields.Nested(PlaceValueSchema), required=True)
