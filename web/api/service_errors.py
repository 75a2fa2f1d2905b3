"""Turn a service's refusal into the API's one error shape.

``web.services.errors`` already carry an HTTP status and words a person can read; here they
become ``{code, status, message, errors}`` with ``errors`` mapping each field to a list of
messages, like marshmallow's validation errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NoReturn

from flask_smorest import abort

from web.services.errors import InvalidInput, ServiceError


def abort_for(error: ServiceError, fields: Mapping[str, str] | None = None) -> NoReturn:
    """Answer ``error`` as an API error (422 with field messages for invalid input).

    ``fields`` renames the service's field names to the API's (``{"tags": "outcome_tags"}``).
    """
    errors: dict[str, list[str]] = {}
    if isinstance(error, InvalidInput):
        names = fields or {}
        errors = {names.get(name, name): [message] for name, message in error.errors.items()}
    abort(error.status, message=error.message, errors=errors)
    raise AssertionError("abort always raises")  # pragma: no cover - for type checkers
