"""Small helpers for the API tests: JSON requests with the header the API asks for, and a check
of the one error shape."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

HEADERS = {"X-Requested-With": "pytest"}


def call(client: FlaskClient, method: str, url: str, body: Any = None) -> TestResponse:
    """Send ``body`` as JSON with the ``X-Requested-With`` header unsafe methods need."""
    return client.open(url, method=method, json=body, headers=HEADERS)


def assert_error(response: TestResponse, code: int) -> dict[str, Any]:
    """The response is an error with status ``code`` in the shape {code, status, message,
    errors}; returns its body."""
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"}, body
    assert body["code"] == code
    assert isinstance(body["status"], str) and body["status"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    return body  # type: ignore[no-any-return]
