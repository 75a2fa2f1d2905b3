"""``/api/v1/providers``: anyone may read the providers that have a published offer."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from models.providers import Provider
from web.api.providers.schemas import OrganizationSchema, ProviderQuerySchema
from web.api.schemas import ErrorSchema
from web.api.service_errors import abort_for
from web.db import get_session
from web.services import providers
from web.services.errors import ServiceError

blp = Blueprint(
    "providers",
    __name__,
    url_prefix="/providers",
    description="Organisations with published offers, for anyone to read",
)


@blp.route("")
class Providers(MethodView):
    @blp.arguments(ProviderQuerySchema, location="query", unknown=ma.RAISE)
    @blp.response(200, OrganizationSchema(many=True))
    @blp.alt_response(422, schema=ErrorSchema, description="A filter is not valid")
    def get(self, args: dict[str, Any]) -> list[Provider]:
        """List providers

        Providers with at least one published offer, by name.
        """
        return providers.public_providers(get_session(), **args)


@blp.route("/<int:provider_id>")
class ProviderById(MethodView):
    @blp.response(200, OrganizationSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such provider")
    def get(self, provider_id: int) -> Provider:
        """One provider"""
        try:
            return providers.public_provider(get_session(), provider_id)
        except ServiceError as error:
            abort_for(error)
