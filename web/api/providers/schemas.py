"""Schemas for ``/api/v1/providers``: organisations after Open Referral's ``organization``."""

from __future__ import annotations

import marshmallow as ma

from web.api.schemas import StrictSchema


class OrganizationSchema(StrictSchema):
    """A provider: who they are, how to reach them and the areas they serve."""

    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String(allow_none=True)
    url = ma.fields.String(attribute="website", allow_none=True)
    email = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    legal_identifier = ma.fields.String(
        attribute="registered_identifier",
        allow_none=True,
        metadata={"description": "Charity, company or CQC number"},
    )
    areas_served = ma.fields.List(ma.fields.String(), required=True)
    council_id = ma.fields.Integer(required=True)


class ProviderQuerySchema(StrictSchema):
    """Filters for the list of providers (all optional)."""

    council = ma.fields.String(metadata={"description": "A council's slug"})
    area = ma.fields.String(metadata={"description": "Only providers serving this area"})
