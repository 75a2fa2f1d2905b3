"""``/api/v1/offers``: anyone may read published offers (drafts and withdrawn ones are 404)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from models.providers import Offer
from web.api.offers.schemas import OfferPageSchema, OfferQuerySchema, OfferSchema
from web.api.schemas import ErrorSchema
from web.api.service_errors import abort_for
from web.db import get_session
from web.services import offers
from web.services.errors import ServiceError

blp = Blueprint(
    "offers",
    __name__,
    url_prefix="/offers",
    description="Published offers, for anyone to read (in the spirit of Open Referral)",
)


@blp.route("")
class Offers(MethodView):
    @blp.arguments(OfferQuerySchema, location="query", unknown=ma.RAISE)
    @blp.response(200, OfferPageSchema)
    @blp.alt_response(422, schema=ErrorSchema, description="A filter is not valid")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List published offers

        Filter by council, provider, category, area, outcome tag, words and price; results
        come in pages, in name order.
        """
        category = args.pop("category", None)
        if "q" in args:
            args["text"] = args.pop("q")
        page = offers.published_offers(
            get_session(), category=category.value if category else None, **args
        )
        return {
            "items": page.items,
            "total": page.total,
            "page": page.page,
            "per_page": page.per_page,
            "pages": page.pages,
        }


@blp.route("/<int:offer_id>")
class OfferById(MethodView):
    @blp.response(200, OfferSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No published offer has this id")
    def get(self, offer_id: int) -> Offer:
        """One published offer"""
        try:
            return offers.published_offer(get_session(), offer_id)
        except ServiceError as error:
            abort_for(error)
