"""Schemas shared by every API resource."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

# Whole numbers must fit the database's columns: 32-bit, except the sums of money kept in
# 64-bit columns (a round's pot, a budget). PostgreSQL casts a bound value to its column's type,
# so a bigger number would fail there instead of being refused here.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
BIG_MONEY_FIELDS = frozenset({"pot_pence", "amount_pence"})


def _too_big(field: ma.fields.Field, name: str, value: Any) -> bool:
    limit = INT64_MAX if name in BIG_MONEY_FIELDS else INT32_MAX
    if isinstance(field, ma.fields.Integer):
        return isinstance(value, int) and abs(value) > limit
    if isinstance(field, ma.fields.List) and isinstance(value, list):
        return any(_too_big(field.inner, name, item) for item in value)
    if isinstance(field, ma.fields.Dict) and isinstance(value, dict):
        return any(
            (field.key_field is not None and _too_big(field.key_field, "", key))
            or (field.value_field is not None and _too_big(field.value_field, name, item))
            for key, item in value.items()
        )
    return False


class StrictSchema(ma.Schema):
    """The base for every API schema: a field the schema does not know is an error (422), and
    a whole number too big for the database is an error too (not a crash)."""

    class Meta:
        unknown = ma.RAISE

    @ma.validates_schema
    def _numbers_fit_the_database(self, data: dict[str, Any], **_kwargs: Any) -> None:
        errors = {
            field.data_key or name: ["This number is too big."]
            for name, field in self.load_fields.items()
            if _too_big(field, name, data.get(field.attribute or name))
        }
        if errors:
            raise ma.ValidationError(errors)


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
