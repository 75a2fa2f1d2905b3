"""Schemas for ``/api/v1/me/profile``: the signed-in person's "About me"."""

from __future__ import annotations

import marshmallow as ma

from models.people import AgeBand
from web.api.common import (
    OUTCOME_TAG_FORMAT,
    OUTCOME_TAGS_WORDS,
    OutcomeTagSchema,
    schedule_field,
)
from web.api.schemas import StrictSchema
from web.services.profiles import ASPIRATIONS_MAX_CHARS, MAX_TRAVEL_KM

POSTCODE_MAX_CHARS = 20  # "ex1   1aa" as typed, spaces and all


class ProfileSchema(StrictSchema):
    """What the person told us, and what professionals assessed (read only here)."""

    id = ma.fields.Integer(required=True)
    reference = ma.fields.String(
        required=True, metadata={"description": "Give it to an advocate so they can ask to help"}
    )
    display_name = ma.fields.String(required=True)
    area = ma.fields.String(allow_none=True)
    age_band = ma.fields.Enum(AgeBand, by_value=True, allow_none=True)
    assessed_needs = ma.fields.String(allow_none=True)
    need_level = ma.fields.Integer(required=True)
    aspirations_text = ma.fields.String(allow_none=True)
    outcome_tags = ma.fields.List(ma.fields.Nested(OutcomeTagSchema), required=True)
    max_travel_km = ma.fields.Integer(allow_none=True)
    availability = schedule_field(required=True)
    postcode = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Where the person lives, in capitals with one space; distances to "
            "services are measured from it",
            "example": "EX1 1AA",
        },
    )


class ProfilePatchSchema(StrictSchema):
    """The parts of "About me" a person may change; send only those to change."""

    aspirations_text = ma.fields.String(
        allow_none=True, validate=ma.validate.Length(max=ASPIRATIONS_MAX_CHARS)
    )
    outcome_tags = ma.fields.List(
        ma.fields.String(metadata={"format": OUTCOME_TAG_FORMAT}),
        metadata={"description": OUTCOME_TAGS_WORDS},
    )
    max_travel_km = ma.fields.Integer(
        allow_none=True, validate=ma.validate.Range(min=0, max=MAX_TRAVEL_KM)
    )
    availability = schedule_field()
    postcode = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=POSTCODE_MAX_CHARS),
        metadata={
            "description": "A UK postcode, in any case and spacing (it is kept as EX1 1AA); "
            "null or empty takes it away. One that is not a UK postcode is refused (422)",
            "example": "ex1 1aa",
            # The shape web.services.postcodes.normal_postcode accepts, so the document says
            # which text is a postcode (the schemathesis run sends only these as valid).
            "pattern": r"^\s*$|^\s*[A-Za-z]{1,2}[0-9][A-Za-z0-9]?\s*[0-9][A-Za-z]{2}\s*$",
        },
    )
