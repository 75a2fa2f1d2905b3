"""Schemas shared by every API resource."""

from __future__ import annotations

import marshmallow as ma


class StrictSchema(ma.Schema):
    """The base for every API schema: a field the schema does not know is an error (422)."""

    class Meta:
        unknown = ma.RAISE


class ErrorSchema(StrictSchema):
    """The body of every API error."""

    code = ma.fields.Integer(required=True, metadata={"description": "The HTTP status code"})
    status = ma.fields.String(required=True, metadata={"description": "The HTTP reason phrase"})
    message = ma.fields.String(required=True, metadata={"description": "What went wrong"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        required=True,
        metadata={"description": "Messages for each field that was not valid"},
    )
