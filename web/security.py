"""CSRF protection, security headers and request ids, for every response.

CSRF:

- Every unsafe request (POST, PUT, PATCH, DELETE) to a page must carry the form's CSRF token
  (Flask-WTF; put ``{{ form.csrf_token }}`` or ``<input type="hidden" name="csrf_token"
  value="{{ csrf_token() }}">`` in each form). A missing or wrong token answers 400.
- The JSON API under ``/api/`` uses the same session cookie. Its unsafe requests must send
  either a valid ``X-CSRFToken`` header or an ``X-Requested-With`` header (any value). Another
  site cannot add a custom header to a cross-site request without a CORS preflight, which this
  app never grants, so a page elsewhere cannot make a signed-in browser change anything.

Headers on every response: a Content Security Policy with no inline script or style
(``default-src 'self'``; GOV.UK Frontend's start-up script is the file
``static/js/govuk-init.js``), HSTS, ``X-Content-Type-Options: nosniff``, a strict
Referrer-Policy, ``frame-ancestors 'none'`` plus ``X-Frame-Options: DENY``, and a
Permissions-Policy turning off powerful features. Every response that is not a static file gets
``Cache-Control: no-store`` so personal pages are never kept by browsers or proxies.

Each request gets an id (``g.request_id``), taken from a well-formed ``X-Request-ID`` header or
made fresh, and echoed back in the response's ``X-Request-ID``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Flask, Response, abort, g, request
from flask_wtf.csrf import CSRFError, CSRFProtect, validate_csrf
from werkzeug.routing import IntegerConverter
from wtforms import ValidationError

from models.audit import current_request_id

csrf = CSRFProtect()

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_PREFIX = "/api/"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_STATIC_ENDPOINTS = frozenset({"static", "govuk_assets"})


class DatabaseIntegerConverter(IntegerConverter):
    """``<int:...>`` in URLs: a number too big for the database's ids matches no route (404)
    instead of failing in the database."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def init_app(app: Flask) -> None:
    # Before any blueprint adds its rules.
    app.url_map.converters["int"] = DatabaseIntegerConverter
    csrf.init_app(app)
    app.before_request(_assign_request_id)
    app.teardown_request(_forget_request_id)
    app.before_request(_refuse_nul_characters)
    app.before_request(_check_csrf)
    app.after_request(_add_headers)


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def _assign_request_id() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    current_request_id.set(g.request_id)  # audit events of this request carry it


def _forget_request_id(_exc: BaseException | None) -> None:
    current_request_id.set(None)


NUL_MESSAGE = "What you sent has an invisible character (NUL) in it. Remove it and try again."


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


def _refuse_nul_characters() -> None:
    """Refuse the NUL character anywhere in a request (400): PostgreSQL cannot store it in text,
    and no person types it."""
    if request.routing_exception is not None:
        return
    found = _has_nul(request.path) or _has_nul(list(request.args.items(multi=True)))
    if not found and request.method in UNSAFE_METHODS:
        if request.is_json:
            found = _has_nul(request.get_json(silent=True))
        elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            found = _has_nul(list(request.form.items(multi=True)))
    if found:
        abort(400, description=NUL_MESSAGE)


def _check_csrf() -> None:
    if request.method not in UNSAFE_METHODS or request.routing_exception is not None:
        return  # safe, or about to answer 404/405 anyway
    if not is_api_request():
        csrf.protect()
        return
    token = request.headers.get("X-CSRFToken")
    if token:
        try:
            validate_csrf(token)
        except ValidationError as error:
            raise CSRFError(str(error)) from None
        return
    if not request.headers.get("X-Requested-With"):
        abort(
            400,
            description=(
                "Send an X-Requested-With header (or an X-CSRFToken header) with every "
                "request that changes something."
            ),
        )


def _add_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    from flask import current_app

    max_age = int(current_app.config.get("HSTS_MAX_AGE") or 0)
    if max_age:
        headers.setdefault("Strict-Transport-Security", f"max-age={max_age}; includeSubDomains")
    if request.endpoint not in _STATIC_ENDPOINTS:
        headers["Cache-Control"] = "no-store"
        headers.pop("Expires", None)
    request_id = g.get("request_id")
    if request_id:
        headers["X-Request-ID"] = request_id
    return response
