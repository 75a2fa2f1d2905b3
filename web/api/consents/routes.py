"""``/api/v1/consents``: advocates ask persons for consent; persons grant, refuse and revoke.

A person sees the consents about them; an advocate sees their own. Anyone else's consent
answers 404.
"""

from __future__ import annotations

from typing import Any

from flask import abort
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.orm import Session

from models.accounts import User
from models.people import Consent
from web.api.consents.schemas import (
    ConsentAnswerSchema,
    ConsentAskedSchema,
    ConsentRequestSchema,
    ConsentSchema,
)
from web.api.schemas import ErrorSchema
from web.api.service_errors import abort_for
from web.auth import Role, current_account, guard_blueprint
from web.db import get_session
from web.services import consents
from web.services.errors import ServiceError

blp = Blueprint(
    "consents",
    __name__,
    url_prefix="/consents",
    description="Who may act for whom: advocates' requests and persons' answers",
)
guard_blueprint(blp, Role.person, Role.advocate)


def _me() -> User:
    user = current_account()
    assert user is not None  # guard_blueprint let only signed-in users through
    return user


def _dump(consent: Consent) -> dict[str, Any]:
    return {
        "id": consent.id,
        "person_id": consent.person_id,
        "person_name": consent.person.display_name,
        "person_reference": consents.person_reference(consent.person),
        "advocate_id": consent.advocate_id,
        "advocate_name": consent.advocate.display_name,
        "scopes": [s for s in consents.SCOPES if s in consent.scopes],
        "status": consent.status,
        "note": consent.note,
        "requested_at": consent.requested_at,
        "granted_at": consent.granted_at,
        "revoked_at": consent.revoked_at,
    }


def _visible(session: Session, user: User) -> list[Consent]:
    if user.role == Role.advocate:
        return consents.consents_of_advocate(session, user)
    if user.person_profile is None:
        return []
    view = consents.consents_for_person(session, user, user.person_profile)
    return [*view.requests, *view.granted, *view.past]


def _own(session: Session, user: User, consent_id: int) -> Consent:
    consent = session.get(Consent, consent_id)
    mine = consent is not None and (
        consent.advocate_id == user.id or consent.person.user_id == user.id
    )
    if consent is not None and consent.advocate_id == user.id and consent.granted_at is None:
        mine = False  # never said yes to: the advocate may not learn who it was
    if consent is None or not mine:
        abort(404, description="There is no such consent.")
    return consent


@blp.route("")
class Consents(MethodView):
    @blp.response(200, ConsentSchema(many=True))
    @blp.doc(security=[{"sessionCookie": []}])
    @blp.alt_response(401, schema=ErrorSchema, description="Not signed in")
    @blp.alt_response(403, schema=ErrorSchema, description="Neither a person nor an advocate")
    def get(self) -> list[dict[str, Any]]:
        """My consents

        A person gets the consents about them; an advocate the ones they have been granted
        (even if revoked since), never requests not yet said yes to.
        """
        return [_dump(c) for c in _visible(get_session(), _me())]

    @blp.arguments(ConsentRequestSchema)
    @blp.response(202, ConsentAskedSchema)
    @blp.doc(security=[{"sessionCookie": []}])
    @blp.alt_response(401, schema=ErrorSchema, description="Not signed in")
    @blp.alt_response(403, schema=ErrorSchema, description="Not an advocate")
    @blp.alt_response(422, schema=ErrorSchema, description="Not an email address or reference")
    @blp.alt_response(429, schema=ErrorSchema, description="Asked too often lately: wait")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Ask a person for consent (advocates)

        The answer is the same whether or not anyone has that email address or reference, and
        whether or not they were asked before: it never says who was found. The consent
        appears in ``GET /consents``, with the person's name, once the person says yes. Asking
        is slowed per advocate (10 at once, then growing waits): 429 says how long to wait.
        """
        db = get_session()
        try:
            consents.request_consent(db, _me(), **body)
        except ServiceError as error:
            db.rollback()
            abort_for(error)
        db.commit()
        return {"message": consents.ASKED_MESSAGE}


@blp.route("/<int:consent_id>")
class ConsentById(MethodView):
    @blp.response(200, ConsentSchema)
    @blp.doc(security=[{"sessionCookie": []}])
    @blp.alt_response(401, schema=ErrorSchema, description="Not signed in")
    @blp.alt_response(404, schema=ErrorSchema, description="Not a consent of yours")
    def get(self, consent_id: int) -> dict[str, Any]:
        """One consent"""
        return _dump(_own(get_session(), _me(), consent_id))

    @blp.arguments(ConsentAnswerSchema)
    @blp.response(200, ConsentSchema)
    @blp.doc(security=[{"sessionCookie": []}])
    @blp.alt_response(401, schema=ErrorSchema, description="Not signed in")
    @blp.alt_response(403, schema=ErrorSchema, description="Only the person can answer")
    @blp.alt_response(404, schema=ErrorSchema, description="Not a consent of yours")
    @blp.alt_response(409, schema=ErrorSchema, description="Already answered, or not granted")
    @blp.alt_response(422, schema=ErrorSchema, description="More scopes than were asked")
    def patch(self, body: dict[str, Any], consent_id: int) -> dict[str, Any]:
        """Answer or revoke a consent (the person)

        ``granted`` or ``declined`` answers a request; ``revoked`` stops a granted consent
        at once.
        """
        db = get_session()
        user = _me()
        consent = _own(db, user, consent_id)
        person = consent.person
        try:
            if body["status"] == "granted":
                consents.grant_consent(db, user, person, consent.id, scopes=body.get("scopes"))
            elif body["status"] == "declined":
                consents.refuse_consent(db, user, person, consent.id)
            else:
                consents.revoke_consent(db, user, person, consent.id)
        except ServiceError as error:
            db.rollback()
            abort_for(error)
        db.commit()
        return _dump(consent)
