"""Error answers: GOV.UK-styled pages, and one JSON shape for everything under ``/api/``.

API errors always look like this (``errors`` maps a field to its messages; it may be empty)::

    {"code": 404, "status": "Not Found", "message": "...", "errors": {}}

Raise them with ``flask.abort(status, description="...")`` or flask-smorest's ``abort(status,
message="...", errors={...})``. A lost database connection answers 503 (with ``Retry-After``)
instead of 500, so clients and load balancers know to try again.
"""

from __future__ import annotations

import logging
import traceback
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, g, jsonify, render_template
from sqlalchemy.exc import DataError, DBAPIError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError, ServiceUnavailable

from models.keys import SealedValueUnreadable
from web.security import is_api_request
from web.services.words import N_

log = logging.getLogger(__name__)

# Plain-English titles and explanations for pages. Statuses not listed use 500's wording if 5xx
# and 400's otherwise.
PAGE_TEXT: dict[int, tuple[str, str]] = {
    400: (
        N_("Sorry, there is a problem with that request"),
        N_(
            "Something in the request was wrong or out of date. Go back, reload the page and try "
            "again."
        ),
    ),
    401: (N_("You need to sign in"), N_("Sign in to see this page.")),
    403: (
        N_("You cannot see this page"),
        N_("Your account does not let you see this page. If you think it should, ask the council."),
    ),
    404: (
        N_("Page not found"),
        N_(
            "If you typed the web address, check it is correct. If you pasted the web address, "
            "check you copied the entire address."
        ),
    ),
    405: (N_("Sorry, that did not work"), N_("This page cannot be used in that way.")),
    413: (N_("What you sent is too big"), N_("Try again with less text or a smaller file.")),
    429: (
        N_("Too many tries"),
        N_("You have tried too many times. Wait a few minutes, then try again."),
    ),
    500: (
        N_("Sorry, there is a problem with the service"),
        N_("Try again later. Nothing you have saved has been lost."),
    ),
    503: (
        N_("Sorry, the service is unavailable"),
        N_("Try again in a few minutes. Nothing you have saved has been lost."),
    ),
}


def init_app(app: Flask) -> None:
    # Flask logs unhandled exceptions with their message, and messages can quote personal data
    # (a database error lists the values it was given). Log the kind and where, not the words.
    app.log_exception = lambda exc_info: log_unhandled(exc_info[1])  # type: ignore[method-assign]
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(OperationalError, handle_database_down)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(DataError, handle_bad_value)
    app.register_error_handler(OverflowError, handle_bad_value)
    app.register_error_handler(SealedValueUnreadable, handle_unreadable_second_factor)


def reason_phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def error_payload(
    code: int, message: str | None = None, errors: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The one JSON error shape: ``{code, status, message, errors}``."""
    return {
        "code": code,
        "status": reason_phrase(code),
        "message": message or reason_phrase(code),
        "errors": errors or {},
    }


def _field_errors(data: dict[str, Any]) -> dict[str, Any]:
    # webargs reports validation messages grouped by location ({"json": {"name": [...]}}).
    # Clients care about the field, so the location level is dropped, and a message that
    # belongs to the whole body (marshmallow's "_schema") is kept under that name.
    messages = data.get("errors") or data.get("messages") or {}
    if not isinstance(messages, dict):
        return {"_schema": messages if isinstance(messages, list) else [str(messages)]}
    locations = {"json", "query", "form", "headers", "cookies", "files", "path", "view_args"}
    if messages and set(messages) <= locations:
        flat: dict[str, Any] = {}
        for location_errors in messages.values():
            if isinstance(location_errors, dict):
                flat.update(location_errors)
            else:
                flat.setdefault("_schema", []).extend(location_errors)
        return flat
    return messages


def _api_response(error: HTTPException) -> Response:
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    message = data.get("message")
    if message is None:
        message = _api_message(error, code)
    response = jsonify(error_payload(code, str(message), _field_errors(data)))
    response.status_code = code
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    if code == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods or [])
    return response


def _api_message(error: HTTPException, code: int) -> str:
    if code == 422:
        return "Some of what you sent is not valid."
    if code >= 500:
        return PAGE_TEXT.get(code, PAGE_TEXT[500])[0]
    description = error.description or ""
    # werkzeug's stock descriptions are written for developers; ours are kept.
    default = type(error).description
    if description and description != default:
        return description
    return {
        401: "Sign in to use this part of the API.",
        403: "You may not do this.",
        404: "Nothing was found at this address.",
        405: "This address does not accept that method.",
        413: "The request body is too large.",
        429: "Too many requests. Wait, then try again.",
    }.get(code, reason_phrase(code))


def _page_response(error: HTTPException) -> tuple[str, int, dict[str, str]]:
    code = error.code or 500
    fallback = PAGE_TEXT[500] if code >= 500 else PAGE_TEXT[400]
    title, body = PAGE_TEXT.get(code, fallback)
    headers: dict[str, str] = {}
    if code == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods or [])
    try:
        html = render_template("errors/error.html", code=code, title=title, body=body)
    except SQLAlchemyError as error:
        # Drawing the page asks who is signed in; if the database is unreachable, say so.
        if code == 503 or g.get("database_down"):
            raise
        return handle_database_down(error)  # type: ignore[arg-type]
    return html, code, headers


def log_unhandled(error: BaseException | None) -> None:
    """Log an unexpected error's type, request id and stack, never its message."""
    if error is None:
        return
    frames = "".join(traceback.format_tb(error.__traceback__))
    log.error(
        "unhandled %s (request %s); its message is not logged as it may hold personal data\n%s",
        type(error).__name__,
        g.get("request_id"),
        frames,
    )


def handle_http_exception(error: HTTPException) -> Any:
    if error.code is None:
        return error  # a redirect raised as an exception (RequestRedirect): let it through
    if is_api_request():
        return _api_response(error)
    return _page_response(error)


SECOND_FACTOR_UNREADABLE = (
    N_("Your second factor cannot be read"),
    N_(
        "The key that opens the secret behind your one-time codes has changed or is lost. Your "
        "password is fine. Ask an admin to run tapestry accounts reset --second-factor with your "
        "email address. Then sign in and set up your app again."
    ),
)


def handle_unreadable_second_factor(error: SealedValueUnreadable) -> Any:
    """A one-time code secret that the TOTP key cannot open: 409, saying what an admin must do.

    The key is a setting of the site, so this is not the user's mistake, but it is not a crash
    either: the account needs its second factor reset, and nothing else can be done for it.
    """
    pending = g.get("pending_session")
    log.warning(
        "second factor cannot be read (request %s, user %s): %s",
        g.get("request_id"),
        getattr(pending, "user_id", None),
        error,
    )
    _rollback_quietly()
    title, body = SECOND_FACTOR_UNREADABLE
    if is_api_request():
        response = jsonify(error_payload(409, f"{title}. {body}"))
        response.status_code = 409
        return response
    return render_template("errors/error.html", code=409, title=title, body=body), 409


def handle_database_down(error: OperationalError) -> Any:
    log.error("database unavailable (request %s): %s", g.get("request_id"), type(error).__name__)
    g.database_down = True  # the error page must not ask the database who is signed in
    _rollback_quietly()
    unavailable = ServiceUnavailable()
    response = handle_http_exception(unavailable)
    if isinstance(response, Response):
        response.headers["Retry-After"] = "5"
        return response
    html, code, headers = response
    headers["Retry-After"] = "5"
    return html, code, headers


def handle_bad_value(error: DataError | OverflowError) -> Any:
    """A value the database cannot hold (a number too big for its column, say): the request's
    fault, so 400, not a server error. A backstop: forms and schemas should refuse it first."""
    _rollback_quietly()
    cause = getattr(error, "orig", None) or error
    log.warning("refused a value the database cannot hold (request %s): %s",
                g.get("request_id"), type(cause).__name__)  # fmt: skip
    return handle_http_exception(BadRequest())


def handle_database_error(error: DBAPIError) -> Any:
    if error.connection_invalidated:
        return handle_database_down(error)  # type: ignore[arg-type]
    _rollback_quietly()
    log_unhandled(error)
    server_error = InternalServerError(original_exception=error)
    return handle_http_exception(server_error)


def _rollback_quietly() -> None:
    session = g.get("db_session")
    if session is not None:
        try:
            session.rollback()
        except Exception:  # noqa: BLE001 - the connection is already broken; nothing to add
            log.debug("rollback after a database error failed too")
