"""The JSON API at ``/api/v1`` (flask-smorest), its OpenAPI document and its docs page.

Adding a resource: write ``web/api/<resource>/routes.py`` with ``blp = Blueprint(...)``
(``flask_smorest.Blueprint``, ``url_prefix="/<resource>"``) and ``schemas.py`` with schemas
derived from ``web.api.schemas.StrictSchema`` (unknown fields are refused), then add the
module to ``RESOURCES`` below. Guard the blueprint with ``web.auth.guard_blueprint`` or views
with ``roles_required``; pages and API share one authorisation. Use one success code per view.

Conventions every client can rely on:

- Signing in uses the same session cookie as the pages (``tapestry_session``); signed-out
  requests to protected operations answer 401.
- Requests that change something (POST, PUT, PATCH, DELETE) must send an ``X-Requested-With``
  header (any value) or an ``X-CSRFToken`` header; see ``web.security``.
- Every error is ``{"code": 404, "status": "Not Found", "message": "...", "errors": {}}``;
  ``errors`` maps a field name to its messages (validation failures answer 422).
- Request bodies are capped at ``MAX_CONTENT_LENGTH`` (413).
- The OpenAPI document is at ``/api/v1/openapi.json``; a plain HTML page describing every
  operation is at ``/api/v1/docs``.
"""

from __future__ import annotations

import threading
from importlib import import_module
from typing import Any

import marshmallow as ma
from flask import Blueprint, Flask, current_app, render_template
from flask_smorest import Api

from web.api.schemas import BIG_MONEY_FIELDS, INT32_MAX, INT64_MAX, ErrorSchema

API_PREFIX = "/api/v1"
# Modules under web.api with a ``blp`` to register, in the order they appear in the docs.
RESOURCES: list[str] = [
    "me",
    "me_export",
    "me_profile",
    "me_choices",
    "consents",
    "offers",
    "providers",
    "provider_offers",
    "rounds",
    "round_cycle",
    "run_explanations",
    "allocations",
    "market",
]


class TapestryApi(Api):  # type: ignore[misc]
    """flask-smorest's ``Api`` with Tapestry's error shape, writing its OpenAPI document when
    it is first asked for.

    Errors are answered by ``web.errors`` for the whole app (pages get HTML, the API gets JSON),
    so the API does not register a handler of its own.

    Each blueprint's routes are added to the app at once, but its operations are put in the
    document (``spec``) only when the document is first read (``/api/v1/openapi.json``, the
    docs page, ``flask openapi``), in the order the blueprints were registered: turning every
    schema into JSON Schema took most of the time of making an app, which the tests do for
    every test and a server for every worker.
    """

    ERROR_SCHEMA = ErrorSchema

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._document: Any = None
        self._undocumented: list[tuple[Any, str, Any]] = []
        self._documenting = False
        self._document_lock = threading.RLock()
        super().__init__(*args, **kwargs)

    @property
    def spec(self) -> Any:
        """The OpenAPI document (``apispec.APISpec``), with every registered blueprint."""
        with self._document_lock:
            if self._undocumented and not self._documenting:
                self._documenting = True
                try:
                    while self._undocumented:
                        blp, name, parameters = self._undocumented.pop(0)
                        blp.register_views_in_doc(
                            self, self._app, self._document, name=name, parameters=parameters
                        )
                        self._document.tag({"name": name, "description": blp.description})
                finally:
                    self._documenting = False
            return self._document

    @spec.setter
    def spec(self, document: Any) -> None:
        self._document = document

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        """Register the blueprint's routes now and its operations in the document later (the
        same steps as flask-smorest's, which does both at once)."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        with self._document_lock:
            self._undocumented.append((blp, name, parameters))

    def _register_error_handlers(self) -> None:
        return None


API_DESCRIPTION = (
    "Tapestry's JSON API. Sign in through the site to get the session cookie. "
    "Requests that change something must send an X-Requested-With header. "
    "Every error has the body {code, status, message, errors}. A request that breaks a rule "
    "this document states answers 422; one that is well formed but clashes with what is "
    "stored now (a round's limits, what people chose, places already taken) answers 409. "
    "Both name each field in errors."
)


def current_api() -> TapestryApi:
    """The app's ``Api`` (one per app, so tests can build many apps)."""
    return current_app.extensions["tapestry.api"]  # type: ignore[no-any-return]


docs_bp = Blueprint("api_docs", __name__)


@docs_bp.get(f"{API_PREFIX}/docs")
def docs() -> str:
    """A readable page listing every operation, built from the OpenAPI document (no JS)."""
    return render_template("api/docs.html", operations=_operations(current_api().spec.to_dict()))


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    operations = []
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            operations.append(
                {
                    "method": method.upper(),
                    "path": API_PREFIX + path if not path.startswith(API_PREFIX) else path,
                    "summary": op.get("summary") or "",
                    "description": op.get("description") or "",
                    "tags": op.get("tags") or [],
                    "parameters": [
                        {
                            "name": p.get("name"),
                            "in": p.get("in"),
                            "required": bool(p.get("required")),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "responses": sorted(op.get("responses", {}).items()),
                }
            )
    return operations


def _stated_additional_properties(
    self: Any, field: Any, ret: dict[str, Any], **kwargs: Any
) -> dict[str, Any]:
    """A field's own ``additionalProperties`` (``False`` for a Dict with fixed keys) wins over
    the one apispec derives from its values, so the document says which keys it accepts."""
    stated = field.metadata.get("additionalProperties")
    return {} if stated is None else {"additionalProperties": stated}


def _stated_property_names(
    self: Any, field: Any, ret: dict[str, Any], **kwargs: Any
) -> dict[str, Any]:
    """A Dict's ``propertyNames`` (what its keys must be), so generated keys can be real ones."""
    stated = field.metadata.get("propertyNames")
    return {} if stated is None else {"propertyNames": stated}


def _integer_limits(self: Any, field: Any, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Every whole number's range as the API enforces it (``StrictSchema`` refuses one too big
    for its column), unless the field states a narrower one."""
    if not isinstance(field, ma.fields.Integer):
        return {}
    name = field.name or getattr(getattr(field, "parent", None), "name", None) or ""
    limit = INT64_MAX if name in BIG_MONEY_FIELDS else INT32_MAX
    stated: dict[str, Any] = {}
    if ret.get("maximum") is None or ret["maximum"] > limit:
        stated["maximum"] = limit
    if ret.get("minimum") is None or ret["minimum"] < -limit:
        stated["minimum"] = -limit
    return stated


def _no_nul_in_text(self: Any, field: Any, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Text never holds the NUL character: ``web.security`` refuses it in every request."""
    if not isinstance(field, ma.fields.String) or "enum" in ret:
        return {}
    if ret.get("pattern") == r"\S":
        return {"pattern": r"^[^\x00]*[^\x00\s][^\x00]*$"}
    return {} if "pattern" in ret else {"pattern": r"^[^\x00]*$"}


def init_app(app: Flask) -> None:
    api = TapestryApi(
        spec_kwargs={
            "info": {"description": API_DESCRIPTION},
            "components": {
                "securitySchemes": {
                    "sessionCookie": {
                        "type": "apiKey",
                        "in": "cookie",
                        "name": app.config["AUTH_COOKIE_NAME"],
                    }
                }
            },
        }
    )
    api.init_app(app)
    api.ma_plugin.converter.add_attribute_function(_stated_additional_properties)
    api.ma_plugin.converter.add_attribute_function(_stated_property_names)
    api.ma_plugin.converter.add_attribute_function(_integer_limits)
    api.ma_plugin.converter.add_attribute_function(_no_nul_in_text)
    app.extensions["tapestry.api"] = api
    for name in RESOURCES:
        module = import_module(f"web.api.{name}.routes")
        api.register_blueprint(module.blp, url_prefix=f"{API_PREFIX}{module.blp.url_prefix}")
    app.register_blueprint(docs_bp)
