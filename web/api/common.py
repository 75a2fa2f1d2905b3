"""Schemas several resources share: outcome tags, money, pages of results."""

from __future__ import annotations

import marshmallow as ma

from models.people import DAYS, TIMES_OF_DAY
from web.api.schemas import StrictSchema

#: A format of the document's own: the slug of an outcome tag of the shared taxonomy. The
#: taxonomy is data (offers name their tags), so no enum in the document can list it.
OUTCOME_TAG_FORMAT = "outcome-tag"
OUTCOME_TAGS_WORDS = (
    "Outcome tag slugs (format outcome-tag): each a slug of the shared taxonomy, as offers' "
    "outcome_tags show them; an unknown slug is refused (422)"
)


class OutcomeTagSchema(StrictSchema):
    """One outcome from the shared taxonomy."""

    slug = ma.fields.String(required=True, metadata={"example": "paid-work"})
    label = ma.fields.String(required=True, metadata={"example": "Getting a paid job"})


def schedule_field(**kwargs: object) -> ma.fields.Dict:
    """Days (``mon``..``sun``) to parts of the day, the shape of schedules and free times."""
    return ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.OneOf(DAYS)),
        values=ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(TIMES_OF_DAY))),
        metadata={
            "description": "Days (mon..sun) to parts of the day (morning, afternoon, evening)",
            "example": {"mon": ["morning"], "wed": ["morning", "afternoon"]},
            # The keys the field accepts, stated: the day names, and no other key.
            "properties": {
                day: {"type": "array", "items": {"type": "string", "enum": list(TIMES_OF_DAY)}}
                for day in DAYS
            },
            "additionalProperties": False,
        },
        **kwargs,  # type: ignore[arg-type]
    )


class PageArgsSchema(StrictSchema):
    """Which page of results to return."""

    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1))
    per_page = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))


class PageSchema(StrictSchema):
    """The fields every page of results has, beside its ``items``."""

    total = ma.fields.Integer(required=True, metadata={"description": "Results on all pages"})
    page = ma.fields.Integer(required=True)
    per_page = ma.fields.Integer(required=True)
    pages = ma.fields.Integer(required=True)
