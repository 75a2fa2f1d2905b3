"""Schemas for ``/api/v1/me/choices``: the signed-in person's ranked choices."""

from __future__ import annotations

import marshmallow as ma

from web.api.schemas import StrictSchema
from web.services.rounds import MAX_CHOICES_LIMIT


class RoundRefSchema(StrictSchema):
    """The open round the choices are for."""

    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    max_choices = ma.fields.Integer(required=True)
    choice_deadline = ma.fields.AwareDateTime(allow_none=True)


class ChoiceSchema(StrictSchema):
    """One choice with the demand for it."""

    rank = ma.fields.Integer(required=True, metadata={"description": "1 = most wanted"})
    offer_id = ma.fields.Integer(required=True)
    offer_name = ma.fields.String(required=True)
    places = ma.fields.Integer(required=True, metadata={"description": "Places in the round"})
    chosen_by = ma.fields.Integer(required=True, metadata={"description": "People choosing it"})
    oversubscribed = ma.fields.Boolean(required=True)


class MyChoicesSchema(StrictSchema):
    """The person's choices in their open round (``round`` is null when none is open)."""

    round = ma.fields.Nested(RoundRefSchema, allow_none=True, required=True)
    choices = ma.fields.List(ma.fields.Nested(ChoiceSchema), required=True)
    all_oversubscribed = ma.fields.Boolean(
        required=True, metadata={"description": "Every choice has more people than places"}
    )


class ChoicesPutSchema(StrictSchema):
    """The whole list of choices, most wanted first."""

    offer_ids = ma.fields.List(
        ma.fields.Integer(),
        required=True,
        validate=ma.validate.Length(max=MAX_CHOICES_LIMIT),
        metadata={
            "uniqueItems": True,
            "description": "Offer ids, each once, most wanted first. The round may allow fewer "
            "than the most any round allows (its max_choices), and each offer must be in the "
            "round, fit the person and cost no more than the budget left: a list that clashes "
            "with those is refused with 409, naming offer_ids",
        },
    )
