"""Schemas for ``/api/v1/offers``: published offers, after Open Referral's ``service``.

Open Referral (HSDS) names used: ``name`` (our offer's title), ``description``,
``organization`` (the provider), ``status``; ``outcome_tags`` play the part of HSDS taxonomy
terms, and ``council_terms`` are terms of the council's own taxonomies (the same ids as in
its Open Referral feed, ``/openreferral/<council>/taxonomy_terms``). Money is whole pence in
``price_pence`` (GBP).
"""

from __future__ import annotations

import marshmallow as ma

from models.people import AgeBand
from models.providers import OfferCategory, OfferStatus
from web.api.common import OutcomeTagSchema, PageArgsSchema, PageSchema, schedule_field
from web.api.schemas import StrictSchema
from web.services.openreferral import COUNCIL_TAXONOMY, COUNCIL_TERM, record_id


class OrganizationRefSchema(StrictSchema):
    """The provider of an offer, in brief."""

    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    url = ma.fields.String(attribute="website", allow_none=True)


class CouncilTermSchema(StrictSchema):
    """A term of the council's own taxonomy that the offer is tagged with."""

    id = ma.fields.Function(
        lambda term: record_id(COUNCIL_TERM, term.id),
        required=True,
        metadata={
            "type": "string",
            "description": "The term's id, as in the council's Open Referral feed",
            "example": "0000000a-7a95-8e57-8000-000000000001",
        },
    )
    name = ma.fields.String(required=True, metadata={"example": "Day opportunities"})
    code = ma.fields.String(required=True, metadata={"example": "day-opportunities"})
    taxonomy = ma.fields.Function(
        lambda term: term.taxonomy.name,
        required=True,
        metadata={"type": "string", "description": "The name of the council's taxonomy"},
    )
    taxonomy_id = ma.fields.Function(
        lambda term: record_id(COUNCIL_TAXONOMY, term.taxonomy_id),
        required=True,
        metadata={"type": "string", "description": "The taxonomy's id in the feed"},
    )


class OfferSchema(StrictSchema):
    """One offer: what it is, who gives it, for whom, where, when and at what price."""

    id = ma.fields.Integer(required=True)
    name = ma.fields.String(attribute="title", required=True)
    description = ma.fields.String(required=True)
    status = ma.fields.Enum(OfferStatus, by_value=True, required=True)
    category = ma.fields.Enum(OfferCategory, by_value=True, required=True)
    outcome_tags = ma.fields.List(ma.fields.Nested(OutcomeTagSchema), required=True)
    council_terms = ma.fields.List(ma.fields.Nested(CouncilTermSchema), required=True)
    price_pence = ma.fields.Integer(required=True, metadata={"description": "Price of a place"})
    currency = ma.fields.Constant("GBP")
    capacity = ma.fields.Integer(required=True, metadata={"description": "Places it has"})
    area = ma.fields.String(
        allow_none=True, metadata={"description": "The main area it serves. Null: online"}
    )
    other_areas = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"description": "The further areas it serves besides the main one"},
    )
    location = ma.fields.String(allow_none=True, metadata={"description": "The place's name"})
    address_line = ma.fields.String(allow_none=True, metadata={"description": "Street"})
    town = ma.fields.String(allow_none=True)
    postcode = ma.fields.String(allow_none=True, metadata={"description": "UK, as EX1 1AA"})
    languages = ma.fields.List(
        ma.fields.String(), metadata={"description": "Given in these besides English"}
    )
    contact_name = ma.fields.String(allow_none=True, metadata={"description": "Who to ask"})
    latitude = ma.fields.Float(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)
    schedule = schedule_field()
    min_age_band = ma.fields.Enum(AgeBand, by_value=True, allow_none=True)
    max_age_band = ma.fields.Enum(AgeBand, by_value=True, allow_none=True)
    min_need_level = ma.fields.Integer(allow_none=True)
    max_need_level = ma.fields.Integer(allow_none=True)
    eligibility_description = ma.fields.String(attribute="eligibility_text", allow_none=True)
    accessibility = ma.fields.String(allow_none=True)
    organization = ma.fields.Nested(OrganizationRefSchema, attribute="provider", required=True)
    published_at = ma.fields.AwareDateTime(allow_none=True)


class OfferQuerySchema(PageArgsSchema):
    """Filters for the list of published offers (all optional)."""

    council = ma.fields.String(metadata={"description": "A council's slug"})
    provider_id = ma.fields.Integer()
    category = ma.fields.Enum(OfferCategory, by_value=True)
    area = ma.fields.String(
        metadata={"description": "Offers that serve it: their main area or one of their others"}
    )
    tag = ma.fields.String(metadata={"description": "An outcome tag's slug"})
    q = ma.fields.String(
        validate=ma.validate.Length(max=100), metadata={"description": "Words in the name"}
    )
    max_price_pence = ma.fields.Integer(validate=ma.validate.Range(min=0))


class OfferPageSchema(PageSchema):
    """One page of published offers, in name order."""

    items = ma.fields.List(ma.fields.Nested(OfferSchema), required=True)
