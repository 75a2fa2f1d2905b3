"""``/api/v1/provider/offers``: a provider's own offers and their capacity.

Signed-in providers only; another provider's offer answers 404.
"""

from __future__ import annotations

import enum
from typing import Any

from flask import abort, g
from flask.views import MethodView
from flask_smorest import Blueprint

from models.accounts import User
from models.providers import Offer, Provider
from web.api.provider_offers.schemas import (
    CapacitySchema,
    OfferInputSchema,
    OfferPatchSchema,
    ProviderOfferSchema,
)
from web.api.schemas import ErrorSchema
from web.api.service_errors import abort_for
from web.auth import Role, current_account, guard_blueprint
from web.db import get_session
from web.services import offers, providers
from web.services.errors import NotFound, ServiceError

blp = Blueprint(
    "provider_offers",
    __name__,
    url_prefix="/provider/offers",
    description="The signed-in provider's own offers and places",
)
guard_blueprint(blp, Role.provider)

COMMON_ERRORS = [
    (401, "Not signed in"),
    (403, "Not a provider, or not linked to an organisation"),
]


def _me() -> tuple[User, Provider]:
    user = current_account()
    assert user is not None  # guard_blueprint let only signed-in providers through
    try:
        return user, providers.provider_for(get_session(), user)
    except NotFound:
        abort(403, description="Your account is not linked to an organisation yet.")


# The service's names for fields the API calls otherwise.
API_FIELDS = {
    "title": "name",
    "tags": "outcome_tags",
    "price": "price_pence",
    "eligibility_text": "eligibility_description",
}


def _values(data: dict[str, Any]) -> dict[str, Any]:
    # The service takes plain values: enum members as their text.
    return {k: v.value if isinstance(v, enum.Enum) else v for k, v in data.items()}


def _documented(view: Any) -> Any:
    view = blp.doc(security=[{"sessionCookie": []}])(view)
    for code, text in COMMON_ERRORS:
        view = blp.alt_response(code, schema=ErrorSchema, description=text)(view)
    return view


@blp.route("")
class ProviderOffers(MethodView):
    @blp.response(200, ProviderOfferSchema(many=True))
    @_documented
    def get(self) -> list[Offer]:
        """My offers

        Every offer of the signed-in provider, whatever its status, by name.
        """
        user, provider = _me()
        return offers.provider_offers(get_session(), user, provider)

    @blp.arguments(OfferInputSchema)
    @blp.response(201, ProviderOfferSchema)
    @blp.alt_response(422, schema=ErrorSchema, description="A field is not valid")
    @_documented
    def post(self, data: dict[str, Any]) -> Offer:
        """Add an offer

        The new offer is a draft until it is published.
        """
        user, provider = _me()
        db = get_session()
        try:
            offer = offers.create_offer(
                db, user, provider, _values(data), request_id=g.get("request_id")
            )
        except ServiceError as error:
            db.rollback()
            abort_for(error, API_FIELDS)
        db.commit()
        return offer


@blp.route("/<int:offer_id>")
class ProviderOfferById(MethodView):
    @blp.response(200, ProviderOfferSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not one of your offers")
    @_documented
    def get(self, offer_id: int) -> Offer:
        """One of my offers"""
        user, provider = _me()
        try:
            return offers.own_offer(get_session(), user, provider, offer_id)
        except ServiceError as error:
            abort_for(error, API_FIELDS)

    @blp.arguments(OfferPatchSchema(partial=True))
    @blp.response(200, ProviderOfferSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not one of your offers")
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="Already in that status, or capacity below the places people hold",
    )
    @blp.alt_response(422, schema=ErrorSchema, description="A field is not valid")
    @_documented
    def patch(self, changes: dict[str, Any], offer_id: int) -> Offer:
        """Change one of my offers

        Only the fields sent change. ``status`` publishes or withdraws the offer.
        """
        user, provider = _me()
        db = get_session()
        status = changes.pop("status", None)
        request_id = g.get("request_id")
        try:
            offer = offers.update_offer(
                db,
                user,
                provider,
                offer_id,
                _values(changes),
                partial=True,
                request_id=request_id,
            )
            if status == "published":
                offers.publish_offer(db, user, provider, offer_id, request_id=request_id)
            elif status == "withdrawn":
                offers.withdraw_offer(db, user, provider, offer_id, request_id=request_id)
        except ServiceError as error:
            db.rollback()
            abort_for(error, API_FIELDS)
        db.commit()
        return offer


@blp.route("/<int:offer_id>/capacity")
class ProviderOfferCapacity(MethodView):
    @blp.arguments(CapacitySchema)
    @blp.response(200, ProviderOfferSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not one of your offers")
    @blp.alt_response(409, schema=ErrorSchema, description="Below the places people hold")
    @blp.alt_response(422, schema=ErrorSchema, description="Not a number of places")
    @_documented
    def put(self, body: dict[str, Any], offer_id: int) -> Offer:
        """Set the places of one of my offers

        Rounds that have not closed follow the new number; rounds that have closed or are
        published are lowered to it. It never goes below the places people hold (offered or
        accepted) in any round: 409 on ``capacity``, saying which round.
        """
        user, provider = _me()
        db = get_session()
        try:
            offer = offers.set_capacity(
                db, user, provider, offer_id, body["capacity"], request_id=g.get("request_id")
            )
        except ServiceError as error:
            db.rollback()
            abort_for(error, API_FIELDS)
        db.commit()
        return offer
