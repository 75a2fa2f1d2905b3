"""Schemas for ``/api/v1/consents``: advocates' requests and persons' answers."""

from __future__ import annotations

import marshmallow as ma

from models.people import ConsentStatus
from web.api.schemas import StrictSchema
from web.services.consents import NOTE_MAX_CHARS, SCOPES

Scope = ma.validate.OneOf(SCOPES)


class ConsentSchema(StrictSchema):
    """A person's consent (or a request for it) for an advocate to act for them."""

    id = ma.fields.Integer(required=True)
    person_id = ma.fields.Integer(required=True)
    person_name = ma.fields.String(required=True)
    person_reference = ma.fields.String(required=True)
    advocate_id = ma.fields.Integer(required=True)
    advocate_name = ma.fields.String(required=True)
    scopes = ma.fields.List(ma.fields.String(validate=Scope), required=True)
    status = ma.fields.Enum(ConsentStatus, by_value=True, required=True)
    note = ma.fields.String(allow_none=True)
    requested_at = ma.fields.AwareDateTime(required=True)
    granted_at = ma.fields.AwareDateTime(allow_none=True)
    revoked_at = ma.fields.AwareDateTime(allow_none=True)


class ConsentRequestSchema(StrictSchema):
    """An advocate asks a person of their council (by email or reference) to help them."""

    who = ma.fields.String(
        required=True,
        metadata={
            # A format of our own: a reference's check character is beyond a pattern.
            "format": "email-or-reference",
            "description": "The person's email address (any text with an @) or reference: "
            "P, eight characters of Crockford's base 32 and a check character (mod 37), in "
            "any case, with spaces or hyphens anywhere; a reference whose check character "
            "does not fit is refused (422)",
        },
    )
    scopes = ma.fields.List(
        ma.fields.String(validate=Scope),
        load_default=lambda: ["view"],
        metadata={"description": "view, draft, submit (view is always included)"},
    )
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=NOTE_MAX_CHARS))


class ConsentAskedSchema(StrictSchema):
    """The answer to a request for consent: the same whoever it named."""

    message = ma.fields.String(required=True, metadata={"example": "If someone in your ..."})


class ConsentAnswerSchema(StrictSchema):
    """The person's answer: ``granted`` or ``declined`` to a request, ``revoked`` to stop."""

    status = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["granted", "declined", "revoked"])
    )
    scopes = ma.fields.List(
        ma.fields.String(validate=Scope),
        metadata={"description": "When granting: fewer scopes than asked, if wanted"},
    )
