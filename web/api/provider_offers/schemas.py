"""Schemas for ``/api/v1/provider/offers``: a provider's own offers, in every status.

Offers are written with the names they are read with (``name``, ``outcome_tags``,
``eligibility_description``); ``outcome_tags`` are written as slugs and ``council_terms`` as
the ids of the council's own terms (its feed's ``/taxonomy_terms``), and both are read as
objects. Prices are whole pence.
"""

from __future__ import annotations

import marshmallow as ma

from models.people import NEED_LEVEL_MAX, AgeBand
from models.providers import OfferCategory
from web.api.common import OUTCOME_TAG_FORMAT, OUTCOME_TAGS_WORDS, schedule_field
from web.api.offers.schemas import OfferSchema
from web.api.schemas import StrictSchema
from web.services.offers import (
    CONTACT_MAX,
    LANGUAGE_MAX,
    LOCATION_MAX,
    MAX_CAPACITY,
    MAX_COUNCIL_TERMS,
    MAX_LANGUAGES,
    MAX_PRICE_PENCE,
    TEXT_MAX,
    TITLE_MAX,
    TOWN_MAX,
)

#: A format of the document's own: one of the areas the signed-in provider serves (data, so
#: no enum can list it).
SERVED_AREA_FORMAT = "served-area"
#: The id of a term of the provider's council's own taxonomies (stored data, like the areas).
COUNCIL_TERM_FORMAT = "council-term"
# Text the service refuses when it is only spaces: at least one other character.
NOT_BLANK = {"pattern": r"\S"}
# A UK postcode, any case, spaces around and between its halves (the service tidies them).
POSTCODE_PATTERN = r"^\s*[A-Za-z]{1,2}[0-9][A-Za-z0-9]?\s*[0-9][A-Za-z]{2}\s*$"


def _places() -> ma.fields.Integer:
    return ma.fields.Integer(required=True, validate=ma.validate.Range(min=0, max=MAX_CAPACITY))


class ProviderOfferSchema(OfferSchema):
    """An offer as its provider sees it: also when it was withdrawn."""

    withdrawn_at = ma.fields.AwareDateTime(allow_none=True)


class OfferInputSchema(StrictSchema):
    """A new offer. It starts as a draft; publish it with ``PATCH {"status": "published"}``."""

    title = ma.fields.String(
        data_key="name",
        required=True,
        validate=ma.validate.Length(min=1, max=TITLE_MAX),
        metadata=NOT_BLANK,
    )
    description = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=TEXT_MAX), metadata=NOT_BLANK
    )
    category = ma.fields.Enum(OfferCategory, by_value=True, required=True)
    tags = ma.fields.List(
        ma.fields.String(metadata={"format": OUTCOME_TAG_FORMAT}),
        data_key="outcome_tags",
        load_default=list,
        metadata={"description": OUTCOME_TAGS_WORDS},
    )
    council_terms = ma.fields.List(
        ma.fields.String(metadata={"format": COUNCIL_TERM_FORMAT}),
        load_default=list,
        validate=ma.validate.Length(max=MAX_COUNCIL_TERMS),
        metadata={
            "description": "Terms of the council's own taxonomies, by the ids its Open "
            "Referral feed gives them (/openreferral/{council}/taxonomy_terms, format "
            f"council-term), {MAX_COUNCIL_TERMS} at most; an id that is not one of its "
            "council's terms is refused (422)"
        },
    )
    price_pence = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=0, max=MAX_PRICE_PENCE)
    )
    capacity = _places()
    area = ma.fields.String(
        allow_none=True,
        metadata={
            "format": SERVED_AREA_FORMAT,
            "description": "One of the areas the provider serves (format served-area), or "
            "null for none; any other area is refused (422)",
        },
    )
    other_areas = ma.fields.List(
        ma.fields.String(metadata={"format": SERVED_AREA_FORMAT}),
        metadata={
            "description": "Further areas it serves besides the main one, each one the "
            "provider serves (format served-area); they need a main area (422)"
        },
    )
    location = ma.fields.String(allow_none=True)
    address_line = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=LOCATION_MAX))
    town = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=TOWN_MAX))
    postcode = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Regexp(POSTCODE_PATTERN),
        metadata={"description": "A UK postcode, like EX1 1AA (kept in capitals)"},
    )
    languages = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(max=LANGUAGE_MAX)),
        validate=ma.validate.Length(max=MAX_LANGUAGES),
        metadata={"description": "Languages it is given in besides English"},
    )
    contact_name = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=CONTACT_MAX))
    min_age_band = ma.fields.Enum(AgeBand, by_value=True, allow_none=True)
    max_age_band = ma.fields.Enum(
        AgeBand,
        by_value=True,
        allow_none=True,
        metadata={"description": "Not younger than min_age_band when both are given (422)"},
    )
    min_need_level = ma.fields.Integer(
        allow_none=True, validate=ma.validate.Range(min=0, max=NEED_LEVEL_MAX)
    )
    max_need_level = ma.fields.Integer(
        allow_none=True,
        validate=ma.validate.Range(min=0, max=NEED_LEVEL_MAX),
        metadata={"description": "Not below min_need_level when both are given (422)"},
    )
    eligibility_text = ma.fields.String(data_key="eligibility_description", allow_none=True)
    schedule = schedule_field()
    accessibility = ma.fields.String(allow_none=True)


class OfferPatchSchema(OfferInputSchema):
    """Changes to an offer: send only the fields to change. ``status`` publishes
    (``published``) or withdraws (``withdrawn``) it, after the other changes."""

    status = ma.fields.String(validate=ma.validate.OneOf(["published", "withdrawn"]))


class CapacitySchema(StrictSchema):
    """The number of places an offer has."""

    capacity = _places()
