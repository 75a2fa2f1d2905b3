"""Schemas shared by every API resource."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from webargs.multidictproxy import MultiDictProxy

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


# A whole number written as text (a query string, a JSON object's key): digits 0-9 only.
_DIGITS = re.compile(r"-?[0-9]+")
# Longer than any number a column holds, and well under Python's limit on turning text into an
# int (4,300 digits), which would otherwise raise instead of refusing.
_MAX_DIGITS = 19
WHOLE_NUMBER_MESSAGE = "Enter a whole number, like 3, not text or a number with a decimal point."
PENCE_MESSAGE = (
    "Enter a whole number of pence, like 4550 for £45.50, not text or a number with a "
    "decimal point."
)
TOO_BIG_MESSAGE = "This number is too big."


def _whole_number_problem(field: ma.fields.Field, value: Any, *, text: bool) -> str | None:
    """Why ``value`` is not a whole number for ``field`` (or inside it), or None.

    marshmallow's ``Integer`` turns ``45.5`` into 45, and ``"45"`` into 45, without a word; money
    changed quietly is worse than refused. From JSON a whole number is a JSON integer (never a
    string, a boolean or a number with a decimal point); from text it is digits.
    """
    if isinstance(field, ma.fields.Integer):
        if value is None:
            return None  # allow_none decides
        if text and isinstance(value, str):
            digits = value.strip()
            if not _DIGITS.fullmatch(digits):
                return WHOLE_NUMBER_MESSAGE
            return TOO_BIG_MESSAGE if len(digits.lstrip("-")) > _MAX_DIGITS else None
        if type(value) is not int:
            return WHOLE_NUMBER_MESSAGE
        return None
    if isinstance(field, ma.fields.List) and isinstance(value, list):
        for item in value:
            problem = _whole_number_problem(field.inner, item, text=text)
            if problem:
                return problem
    if isinstance(field, ma.fields.Dict) and isinstance(value, dict):
        for key, item in value.items():
            # A JSON object's keys are always text.
            if field.key_field is not None:
                problem = _whole_number_problem(field.key_field, key, text=True)
                if problem:
                    return problem
            if field.value_field is not None:
                problem = _whole_number_problem(field.value_field, item, text=text)
                if problem:
                    return problem
    return None


class StrictSchema(ma.Schema):
    """The base for every API schema: a field the schema does not know is an error (422), a
    whole number must be written as one (``45``, not ``45.5``, ``"45"`` or ``true``), and a
    whole number too big for the database is an error too (not a crash)."""

    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def _whole_numbers_only(self, data: Any, **_kwargs: Any) -> Any:
        if not isinstance(data, Mapping):
            return data  # marshmallow names the wrong type
        # webargs hands over a query string as a multidict of text; a JSON body is a dict.
        text = isinstance(data, MultiDictProxy)
        errors: dict[str, list[str]] = {}
        for name, field in self.load_fields.items():
            key = field.data_key or name
            if key not in data:
                continue
            problem = _whole_number_problem(field, data[key], text=text)
            if problem == WHOLE_NUMBER_MESSAGE and key.endswith("_pence"):
                problem = PENCE_MESSAGE
            if problem:
                errors[key] = [problem]
        if errors:
            raise ma.ValidationError(errors)
        return data

    @ma.validates_schema
    def _numbers_fit_the_database(self, data: dict[str, Any], **_kwargs: Any) -> None:
        errors = {
            field.data_key or name: [TOO_BIG_MESSAGE]
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
