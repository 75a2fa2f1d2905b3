"""The directory import page names a hostile file (too deeply nested, or holding Infinity)
beside its field, with a 400, and brings in nothing."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Provider, Role, User
from tests.web.conftest import csrf_token

_FORM_TOKEN = re.compile(r'name="form_token"[^>]*value="([^"]+)"')


def test_the_import_page_names_a_hostile_file_beside_its_field(
    app: Flask, db_session: Session, make_user: Callable[..., User], login: Callable
) -> None:
    client = app.test_client()
    login(client, make_user(Role.commissioner))
    url = "/commissioner/directory/import"
    for content in (b"[" * 100_000 + b"]" * 100_000, b'[{"id": "s", "minimum_age": Infinity}]'):
        page = client.get(url)
        fields: dict[str, Any] = {"csrf_token": csrf_token(page)}
        if token := _FORM_TOKEN.search(page.get_data(as_text=True)):
            fields["form_token"] = token.group(1)
        fields["file"] = (io.BytesIO(content), "feed.json")
        answer = client.post(url, data=fields, content_type="multipart/form-data")

        text = answer.get_data(as_text=True)
        assert answer.status_code == 400
        assert "The file is not JSON" in text and 'class="govuk-error-message"' in text
    assert db_session.scalars(select(Provider)).all() == []
