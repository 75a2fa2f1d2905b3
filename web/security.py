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

import json
import logging
import re
import uuid
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, abort, g, request
from flask_smorest import abort as smorest_abort
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
    app.before_request(_refuse_hostile_input)
    app.before_request(_check_csrf)
    app.after_request(_add_headers)


def is_api_request() -> bool:
    # The Open Referral feed (web.api.openreferral) answers JSON too, errors included.
    return request.path.startswith((API_PREFIX, "/openreferral/"))


def _assign_request_id() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    current_request_id.set(g.request_id)  # audit events of this request carry it


def _forget_request_id(_exc: BaseException | None) -> None:
    current_request_id.set(None)


NUL_MESSAGE = "What you sent has an invisible character (NUL) in it. Remove it and try again."
SURROGATE_MESSAGE = (
    "What you sent has a broken character in it (half of a pair, like \\ud800). Remove it and "
    "try again."
)
DEEP_MESSAGE = (
    "What you sent has too many layers of brackets, one inside another. Send at most "
    "{depth} layers."
)
NOT_JSON_MESSAGE = "What you sent is not valid JSON. Check it and try again."
TOO_BIG_MESSAGE = "This number is too big."
#: Deeper than any body the API reads (its deepest is a few layers), well short of Python's
#: recursion limit, so nothing after this check can recurse out of stack.
MAX_JSON_DEPTH = 32
#: More digits than any column holds; far fewer than Python's limit for turning text into an int
#: (4,300), past which ``json.loads`` itself raises.
MAX_INTEGER_DIGITS = 19
#: Why a request is refused: its status, the message and the fields at fault.
Refusal = tuple[int, str, dict[str, list[str]]]
_SURROGATE = re.compile("[\ud800-\udfff]")
log = logging.getLogger(__name__)


class _TooLongNumber:
    """Stands in for a JSON integer with too many digits, so the field can be named."""


_TOO_LONG = _TooLongNumber()


def _parse_json_integer(text: str) -> int | _TooLongNumber:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        return _TOO_LONG
    return int(text)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return NUL_MESSAGE
    if _SURROGATE.search(value):
        return SURROGATE_MESSAGE
    return None


def _field_name(name: Any) -> str:
    """A field name safe to echo back and to log."""
    if isinstance(name, str) and _text_problem(name) is None and len(name) <= 100:
        return name
    return "_schema"


def _json_problems(document: Any) -> Refusal | None:
    """What is hostile in a parsed JSON body, walked without recursion: the status, the message
    and the fields (by their top-level name), or None."""
    problems: dict[str, list[str]] = {}
    status = 422
    message = "Some of what you sent is not valid."
    # (value, its field's top-level name, its depth)
    stack: list[tuple[Any, str, int]] = [(document, "_schema", 1)]
    while stack:
        value, field, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                return 400, DEEP_MESSAGE.format(depth=MAX_JSON_DEPTH), {}
            if isinstance(value, dict):
                for key, item in value.items():
                    name = _field_name(key) if depth == 1 else field
                    problem = _text_problem(key)
                    if problem:
                        status, message = 400, problem
                        problems.setdefault(name, []).append(problem)
                    stack.append((item, name, depth + 1))
            else:
                stack.extend((item, field, depth + 1) for item in value)
        elif isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                status, message = 400, problem
                problems.setdefault(field, []).append(problem)
        elif value is _TOO_LONG:
            problems.setdefault(field, []).append(TOO_BIG_MESSAGE)
    if not problems:
        return None
    return status, message, {name: sorted(set(found)) for name, found in problems.items()}


def _body_problems() -> Refusal | None:
    if request.is_json:
        try:
            text = request.get_data(cache=True).decode("utf-8")
        except UnicodeDecodeError:
            return 400, "What you sent is not UTF-8 text.", {}
        if not text.strip():
            return None  # no body: the view says what it needs
        try:
            document = json.loads(
                text, parse_int=_parse_json_integer, parse_constant=_refuse_constant
            )
        except RecursionError:
            return 400, DEEP_MESSAGE.format(depth=MAX_JSON_DEPTH), {}
        except ValueError:
            return 400, NOT_JSON_MESSAGE, {}
        return _json_problems(document)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return _pairs_problems(request.form.items(multi=True))
    return None


def _pairs_problems(pairs: Iterable[tuple[str, str]]) -> Refusal | None:
    for name, value in pairs:
        problem = _text_problem(name) or _text_problem(value)
        if problem:
            return 400, problem, {_field_name(name): [problem]}
    return None


def _refuse_hostile_input() -> None:
    """Refuse, before anything else reads it, a request no person sends (4xx, one log line):

    - the NUL character anywhere (PostgreSQL cannot store it in text) and half of a UTF-16
      surrogate pair (``"x\\ud800y"`` in JSON: no database or encoder can store it), in the
      path, the query string, form fields and JSON keys and strings (400);
    - JSON nested more than ``MAX_JSON_DEPTH`` layers deep, or not JSON at all (400);
    - a JSON integer of more than ``MAX_INTEGER_DIGITS`` digits (422, naming its field).

    Runs before CSRF and sign-in checks, so it must itself never fail: it parses JSON once
    without recursion limits being reached, and walks it with a stack of its own.
    """
    if request.routing_exception is not None:
        return
    found = _text_problem(request.path) or None
    refusal = (400, found, {}) if found else _pairs_problems(request.args.items(multi=True))
    if refusal is None and request.method in UNSAFE_METHODS:
        refusal = _body_problems()
    if refusal is None:
        return
    status, message, errors = refusal
    log.warning(
        "refused a hostile request (request %s): %s %s: %s",
        g.get("request_id"),
        request.method,
        request.url_rule.rule if request.url_rule else "?",
        message.split(".")[0],
    )
    smorest_abort(status, message=message, errors=errors)


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
        # Public figures the same for everyone may say so (web.caching.cache_publicly).
        headers["Cache-Control"] = g.get("cache_control") or "no-store"
        headers.pop("Expires", None)
    request_id = g.get("request_id")
    if request_id:
        headers["X-Request-ID"] = request_id
    return response
