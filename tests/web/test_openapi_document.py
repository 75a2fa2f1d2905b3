"""The OpenAPI document is written when it is first read (``web.api.TapestryApi``): it still
has every API operation once, its resources in the order they are registered, and requests
that read it at the same moment all get the same whole document."""

from __future__ import annotations

import re
import threading
from importlib import import_module
from pathlib import Path
from typing import Any

from flask import Flask

from web import create_app
from web.api import API_PREFIX, RESOURCES

_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
# The document itself and the page describing it.
_NOT_API = ("api-docs.", "api_docs.")


def _app(tmp_path: Path) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test secret key, not for production",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "AUTO_UPGRADE_DB": False,
        }
    )


def _api_operations(app: Flask) -> set[tuple[str, str]]:
    """Every (path, method) of the API's blueprints, from the app's URL map."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX + "/") or rule.endpoint.startswith(_NOT_API):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        found |= {(path, method) for method in rule.methods or () if method in _METHODS}
    return found


def _documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method.upper() in _METHODS
    }


def test_every_operation_is_documented_once_in_the_order_registered(tmp_path: Path) -> None:
    app = _app(tmp_path)
    document = app.test_client().get("/api/v1/openapi.json").get_json()

    names = [import_module(f"web.api.{name}.routes").blp.name for name in RESOURCES]
    assert [tag["name"] for tag in document["tags"]] == names
    assert _documented(document) == _api_operations(app)
    # Reading it again adds nothing.
    assert app.test_client().get("/api/v1/openapi.json").get_json() == document


def test_readers_at_the_same_moment_get_the_same_whole_document(tmp_path: Path) -> None:
    app = _app(tmp_path)
    start = threading.Barrier(4)
    documents: list[dict[str, Any]] = []

    def read() -> None:
        client = app.test_client()
        start.wait(timeout=30)
        answer = client.get("/api/v1/openapi.json")
        assert answer.status_code == 200
        documents.append(answer.get_json())

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(documents) == 4
    assert all(document == documents[0] for document in documents)
    assert len(documents[0]["tags"]) == len(RESOURCES)
