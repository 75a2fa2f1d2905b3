"""Error answers: GOV.UK pages for people, one JSON shape under /api/, size limits."""

from __future__ import annotations

import marshmallow as ma
import pytest
from flask import Flask
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.exc import OperationalError

from models.accounts import Role
from tests.web.conftest import csrf_token
from web.api.schemas import StrictSchema

JSON_KEYS = ["code", "status", "message", "errors"]


class _PetSchema(StrictSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    legs = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0, max=8))


_pets = Blueprint("test_pets", __name__, url_prefix="/test-pets")


@_pets.route("")
class _Pets(MethodView):
    @_pets.arguments(_PetSchema)
    @_pets.response(201, _PetSchema)
    def post(self, pet: dict) -> dict:
        return pet


# Stands for personal data that reached an error message at run time.
_CANARY = "-".join(["canary", "ann.jones@example.org"])


def _boom() -> str:
    raise RuntimeError(f"a bug near {_CANARY}")


def _database_down() -> str:
    raise OperationalError("SELECT 1", {}, Exception("connection refused"))


@pytest.fixture
def app(make_app) -> Flask:
    """The real app plus a small API resource and routes that fail, for these tests only."""
    app = make_app(PROPAGATE_EXCEPTIONS=False)
    app.extensions["tapestry.api"].register_blueprint(_pets, url_prefix="/api/v1/test-pets")
    app.add_url_rule("/boom", view_func=_boom)
    app.add_url_rule("/api/v1/boom", endpoint="api_boom", view_func=_boom)
    app.add_url_rule("/database-down", view_func=_database_down)
    app.add_url_rule("/api/v1/database-down", endpoint="api_down", view_func=_database_down)
    return app


def _api_post(client, path: str, body: object, **kwargs):  # type: ignore[no-untyped-def]
    return client.post(path, json=body, headers={"X-Requested-With": "test"}, **kwargs)


def test_api_errors_have_one_shape(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.is_json
    assert list(response.json) == JSON_KEYS
    assert response.json == {
        "code": 404,
        "status": "Not Found",
        "message": "Nothing was found at this address.",
        "errors": {},
    }


def test_api_not_signed_in_is_401_json(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json["status"] == "Unauthorized"
    assert list(response.json) == JSON_KEYS


def test_api_method_not_allowed_is_405_json_with_allow(client, make_user, login):
    login(client, make_user(Role.person))
    response = client.delete("/api/v1/me", headers={"X-Requested-With": "test"})
    assert response.status_code == 405
    assert response.json["code"] == 405
    assert response.json["status"] == "Method Not Allowed"
    assert "GET" in response.headers["Allow"]


def test_api_unknown_fields_are_refused_field_by_field(client):
    response = _api_post(client, "/api/v1/test-pets", {"name": "Rex", "legs": 4, "owner": "Ann"})
    assert response.status_code == 422
    assert response.json["code"] == 422
    assert response.json["status"] == "Unprocessable Content" or response.json["status"] == (
        "Unprocessable Entity"
    )
    assert response.json["errors"] == {"owner": ["Unknown field."]}


def test_api_invalid_fields_are_listed(client):
    response = _api_post(client, "/api/v1/test-pets", {"legs": 12})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"name", "legs"}
    assert response.json["message"] == "Some of what you sent is not valid."


def test_api_valid_body_passes(client):
    response = _api_post(client, "/api/v1/test-pets", {"name": "Rex", "legs": 4})
    assert response.status_code == 201
    assert response.json == {"name": "Rex", "legs": 4}


def test_api_bad_json_is_a_json_error(client):
    response = client.post(
        "/api/v1/test-pets",
        data="{not json",
        content_type="application/json",
        headers={"X-Requested-With": "test"},
    )
    assert response.status_code in (400, 422)
    assert list(response.json) == JSON_KEYS


def test_api_body_too_large_is_413_json(client):
    response = _api_post(client, "/api/v1/test-pets", {"name": "x" * (1024 * 1024 + 10)})
    assert response.status_code == 413
    assert response.json["code"] == 413
    assert response.json["status"] == "Request Entity Too Large" or response.json["status"] == (
        "Content Too Large"
    )
    assert list(response.json) == JSON_KEYS


def test_api_change_without_csrf_header_is_400_json(client):
    response = client.post("/api/v1/test-pets", json={"name": "Rex", "legs": 4})
    assert response.status_code == 400
    assert list(response.json) == JSON_KEYS


def test_api_change_with_a_csrf_token_header_passes_and_a_forged_one_fails(client):
    page = client.get("/sign-in")
    token = csrf_token(page)
    body = {"name": "Rex", "legs": 4}
    forged = client.post("/api/v1/test-pets", json=body, headers={"X-CSRFToken": "forged"})
    assert forged.status_code == 400
    assert list(forged.json) == JSON_KEYS
    passed = client.post("/api/v1/test-pets", json=body, headers={"X-CSRFToken": token})
    assert passed.status_code == 201


def test_api_bug_is_500_json_without_details(client):
    response = client.get("/api/v1/boom")
    assert response.status_code == 500
    assert list(response.json) == JSON_KEYS
    assert "a bug" not in response.get_data(as_text=True)


def test_database_down_is_503_with_retry_after(client):
    page = client.get("/database-down")
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "5"
    assert "Sorry, the service is unavailable" in page.get_data(as_text=True)
    api = client.get("/api/v1/database-down")
    assert api.status_code == 503
    assert api.json["status"] == "Service Unavailable"
    assert api.headers["Retry-After"] == "5"


def test_page_not_found_is_a_gov_uk_page(client):
    response = client.get("/no-such-page")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "<title>Page not found - Tapestry</title>" in html
    assert 'class="govuk-heading-l">Page not found</h1>' in html
    assert "govuk-frontend.min.css" in html


def test_page_method_not_allowed_is_405(client):
    response = client.post("/", data={"anything": "at all"})
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert "Sorry, that did not work" in response.get_data(as_text=True)


def test_page_form_too_large_is_413(client):
    page = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={
            "csrf_token": csrf_token(page),
            "email": "a@example.org",
            "password": "x" * 2_000_000,
        },
    )
    assert response.status_code == 413
    assert "What you sent is too big" in response.get_data(as_text=True)


def test_page_bug_is_500_page_without_details(client, caplog: pytest.LogCaptureFixture):
    response = client.get("/boom", headers={"X-Request-ID": "request-canary-0001"})
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    # Logged: what kind of error, where, and for which request; not its words.
    assert "RuntimeError" in caplog.text and "request-canary-0001" in caplog.text
    assert "_boom" in caplog.text
    assert _CANARY not in caplog.text
    assert "Sorry, there is a problem with the service" in html
    assert "a bug" not in html and "Traceback" not in html


def test_forbidden_page_is_403(client, make_user, login):
    login(client, make_user(Role.provider))
    response = client.get("/admin/")
    assert response.status_code == 403
    assert "<title>You cannot see this page - Tapestry</title>" in response.get_data(as_text=True)


def test_openapi_document_and_docs_page(client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    assert "/api/v1/me" in spec.json["paths"]
    assert spec.json["components"]["securitySchemes"]["sessionCookie"]["in"] == "cookie"
    error = spec.json["components"]["schemas"]["Error"]
    assert set(error["properties"]) == set(JSON_KEYS)
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert "GET /api/v1/me" in docs.get_data(as_text=True)


def test_health_answers_while_the_database_does(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_database_down_while_drawing_a_not_found_page_for_a_signed_in_user(
    make_app, make_user, login
):
    from web.db import database

    app = make_app()
    client = app.test_client()
    login(client, make_user(Role.person))
    broken = app.config["DATABASE_SESSION_FACTORY"]

    class _Unreachable:
        def __call__(self):  # type: ignore[no-untyped-def]
            session = broken()

            def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
                raise OperationalError("SELECT 1", {}, Exception("connection refused"))

            session.execute = refuse
            session.scalars = refuse
            return session

    database(app).session_factory = _Unreachable()
    for path in ("/person/", "/health", "/no-such-page"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert "Sorry, the service is unavailable" in response.get_data(as_text=True)
    assert client.get("/api/v1/me").json["code"] == 503
    # Pages that need no data still work for visitors who are not signed in.
    assert app.test_client().get("/accessibility").status_code == 200
