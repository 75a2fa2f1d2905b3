"""Going through the provider's offer form a question at a time, as a browser would."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.web.conftest import csrf_token, form_token
from web.services.offer_drafts import QUESTIONS


def _fields(slug: str) -> tuple[str, ...]:
    asked = next(q for q in QUESTIONS if q.slug == slug)
    if asked.fields == ("schedule",):
        return tuple(f"on_{day}" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    return asked.fields


def post_page(client: FlaskClient, url: str, data: dict[str, Any]) -> TestResponse:
    """Get the page at ``url``, then post its form with ``data`` and the page's tokens."""
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    tokens = {"csrf_token": csrf_token(page), "form_token": form_token(page)}
    return client.post(url, data={**tokens, **data})


def start_offer(client: FlaskClient) -> str:
    """Start adding a service; the address of its first question."""
    started = post_page(client, "/provider/offers/new", {})
    assert started.status_code == 302, started.get_data(as_text=True)
    return str(started.headers["Location"])


def add_offer(client: FlaskClient, form: dict[str, Any]) -> TestResponse:
    """Answer every question from ``form`` (fields it lacks are left empty), then save on the
    check-your-answers page. Returns the answer to that last post."""
    url = start_offer(client)
    while not url.endswith("/check"):
        slug = url.rsplit("/", 1)[-1]
        answer = post_page(client, url, {k: form[k] for k in _fields(slug) if k in form})
        assert answer.status_code == 302, (slug, answer.get_data(as_text=True))
        url = str(answer.headers["Location"])
    return post_page(client, url, {})


def change_offer(
    client: FlaskClient, offer_id: int, slug: str, form: dict[str, Any]
) -> TestResponse:
    """Change one answer of an offer that exists, from its page's Change link."""
    fields = _fields(slug)
    url = f"/provider/offers/{offer_id}/change/{slug}"
    return post_page(client, url, {k: form[k] for k in fields if k in form})
