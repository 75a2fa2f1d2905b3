"""Schemas for ``/api/v1/me``."""

from __future__ import annotations

import marshmallow as ma

from models.accounts import Role
from web.api.schemas import StrictSchema


class MeSchema(StrictSchema):
    """The signed-in user."""

    id = ma.fields.Integer(required=True)
    email = ma.fields.Email(required=True)
    display_name = ma.fields.String(required=True)
    role = ma.fields.Enum(Role, by_value=True, required=True)
    council_id = ma.fields.Integer(allow_none=True, required=True)
