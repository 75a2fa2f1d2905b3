"""The pages that bring in services from another Open Referral directory: a commissioner for the
council, a provider for its own organisation. Each posts, redirects to its report and keeps it."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Offer, OfferStatus, Provider, Role, User
from tests import factories
from tests.web.conftest import csrf_token
from web.api.openreferral.routes import PROFILE

EXAMPLE = (PROFILE / "examples" / "service_full.json").read_bytes()
_FORM_TOKEN = re.compile(r'name="form_token"[^>]*value="([^"]+)"')


def _post(client: FlaskClient, url: str, **data: Any) -> Any:
    page = client.get(url)
    fields: dict[str, Any] = {"csrf_token": csrf_token(page), **data}
    if token := _FORM_TOKEN.search(page.get_data(as_text=True)):
        fields["form_token"] = token.group(1)
    return client.post(url, data=fields, content_type="multipart/form-data")


def _file(content: bytes, name: str = "feed.json") -> tuple[io.BytesIO, str]:
    return io.BytesIO(content), name


def test_a_commissioner_brings_in_a_file_and_reads_the_report(
    app: Flask, db_session: Session, make_user: Callable[..., User], login: Callable
) -> None:
    commissioner = make_user(Role.commissioner)
    client = app.test_client()
    login(client, commissioner)
    url = "/commissioner/directory/import"
    form = client.get(url)
    assert form.status_code == 200
    assert "Bring in services from another directory" in form.get_data(as_text=True)

    answer = _post(client, url, file=_file(EXAMPLE))

    assert answer.status_code == 303
    report = client.get(answer.headers["Location"])
    text = report.get_data(as_text=True)
    assert report.status_code == 200
    assert "Community Counselling" in text and "Example Organization Inc." in text
    assert "It has no places yet" in text
    offer = db_session.scalars(select(Offer)).one()
    assert offer.status == OfferStatus.draft
    assert offer.provider.council_id == commissioner.council_id

    # The same file again (a double submit, say): nothing new, and the report says so.
    again = client.get(_post(client, url, file=_file(EXAMPLE)).headers["Location"])
    assert "No change" in again.get_data(as_text=True)
    assert len(db_session.scalars(select(Offer)).all()) == 1


def test_wrong_input_is_named_beside_its_field_and_changes_nothing(
    app: Flask, db_session: Session, make_user: Callable[..., User], login: Callable
) -> None:
    client = app.test_client()
    login(client, make_user(Role.commissioner))
    url = "/commissioner/directory/import"
    cases = [
        ({}, "Give the web address of the feed, or choose a file"),
        ({"address": "file:///etc/passwd"}, "starts with https:// or http://"),
        ({"address": "https://x.example", "file": _file(EXAMPLE)}, "not both"),
        ({"file": _file(b"{oops")}, "The file is not JSON"),
        ({"file": _file(b'{"hello": 1}')}, "holds no Open Referral services"),
    ]
    for data, words in cases:
        answer = _post(client, url, **data)
        text = answer.get_data(as_text=True)
        assert answer.status_code == 400, words
        assert words in text and "There is a problem" in text, words
        assert 'class="govuk-error-message"' in text
    assert db_session.scalars(select(Provider)).all() == []


def test_a_provider_brings_in_only_its_own_organisation(
    app: Flask, db_session: Session, make_user: Callable[..., User], login: Callable
) -> None:
    user = make_user(Role.provider)
    provider = db_session.scalars(select(Provider)).one()
    name_before = provider.name
    client = app.test_client()
    login(client, user)
    url = "/provider/directory/import"

    done = _post(client, url, file=_file(EXAMPLE))
    assert done.status_code == 303
    assert client.get(done.headers["Location"]).status_code == 200
    offer = db_session.scalars(select(Offer)).one()
    assert offer.provider_id == provider.id
    assert provider.name == name_before  # the provider's own profile stands

    two = json.loads(EXAMPLE)
    other = {**two, "id": "another", "organization": {**two["organization"], "id": "org-2"}}
    refused = client.get(_post(client, url, file=_file(json.dumps([two, other]).encode()))
                         .headers["Location"]).get_data(as_text=True)  # fmt: skip
    assert "the feed holds 2 organisations" in refused.lower()
    assert len(db_session.scalars(select(Offer)).all()) == 1


def test_a_report_is_only_for_its_own_council_or_provider(
    app: Flask, db_session: Session, make_user: Callable[..., User], login: Callable
) -> None:
    client = app.test_client()
    login(client, make_user(Role.commissioner))
    report = _post(client, "/commissioner/directory/import", file=_file(EXAMPLE)).headers[
        "Location"
    ]
    record_id = report.rsplit("/", 1)[1]

    elsewhere = app.test_client()
    login(elsewhere, make_user(Role.commissioner, council=factories.CouncilFactory()))
    assert elsewhere.get(report).status_code == 404
    provider = app.test_client()
    login(provider, make_user(Role.provider))
    assert provider.get(f"/provider/directory/imports/{record_id}").status_code == 404
