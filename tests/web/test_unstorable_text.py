"""Files and feeds whose JSON holds text no database can store (NUL, or half of a surrogate pair
written as ``"\\ud800"``) are refused with where it is, never a 500, and change nothing.

Each of these once answered 500 (or a traceback on the command line): the import page, the
council taxonomy page and ``tapestry openreferral taxonomy`` (which also printed a traceback
for JSON nested too deeply).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from models import Council, CouncilTaxonomy, Offer, Provider, Role, User
from models.db import make_session_factory
from models.keys import use_keys
from tests.web.test_directory_import_pages import EXAMPLE, _file, _post
from web.cli import main
from web.services.openreferral_import import UnstorableText, parse_json, unstorable_text

HALF_PAIR = "\\ud800"  # as JSON writes it: json.loads makes a lone surrogate of it
NUL = "\\u0000"


@pytest.mark.parametrize("bad", [HALF_PAIR, NUL], ids=["half a pair", "NUL"])
def test_the_import_page_names_the_field_and_imports_nothing(
    app: Flask, db_session: Session, make_user: Callable[..., User], login: Callable, bad: str
) -> None:
    client = app.test_client()
    login(client, make_user(Role.commissioner))
    body = EXAMPLE.decode().replace('"Community Counselling"', f'"Community{bad} Counselling"', 1)
    assert body != EXAMPLE.decode()

    answer = _post(client, "/commissioner/directory/import", file=_file(body.encode()))

    text = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "name has a character that cannot be kept" in text
    assert db_session.scalar(select(func.count()).select_from(Offer)) == 0
    assert db_session.scalars(select(Provider)).all() == []


def test_the_place_is_named_however_deep_and_in_keys() -> None:
    document = json.loads('{"contents": [{"a": 1}, {"schedules": [{"notes": "x\\ud800"}]}]}')
    assert unstorable_text(document) == "contents[1].schedules[0].notes"
    assert unstorable_text(json.loads('[{"k\\u0000": 1}]')) == "the document[0]"
    assert unstorable_text(json.loads('{"fine": ["\\u00e9\\ud83d\\ude00"]}')) is None  # a pair
    deep = "[" * 900 + '"\\ud800"' + "]" * 900
    with pytest.raises(UnstorableText):
        parse_json(deep.encode(), "deep.json")


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ('{"id": "t", "name": "Bus' + HALF_PAIR + '", "taxonomy_terms": []}',
         "name has a character that cannot be kept (NUL, or half of a pair)"),
        ("[" * 100_000 + "]" * 100_000, "not JSON Tapestry can read (nested too deeply)"),
        ('{"id": "t", "name": NaN}', "not JSON (NaN is not a number JSON allows)"),
    ],
    ids=["half a pair", "too deep", "NaN"],
)  # fmt: skip
def test_the_taxonomy_command_refuses_what_it_cannot_read_in_one_line(
    fresh_database_url: str, fresh_engine: Engine, tmp_path: Path, content: str, line: str
) -> None:
    with make_session_factory(fresh_engine).begin() as session:
        session.add(Council(name="Eastholm", slug="eastholm", areas=["north"]))
    path = tmp_path / "types.json"
    path.write_text(content, "utf-8")
    try:
        result = CliRunner().invoke(
            main,
            ["openreferral", "taxonomy", str(path), "--council", "eastholm"],
            env={"TAPESTRY_DATABASE_URL": fresh_database_url},
        )
    finally:
        use_keys(None)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"tapestry: {path}: {line}"]
    with make_session_factory(fresh_engine)() as session:
        assert session.scalar(select(func.count()).select_from(CouncilTaxonomy)) == 0
