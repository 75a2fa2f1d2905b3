"""``tapestry openreferral import FILE|URL --council SLUG``: its report, exit statuses and the
limits on what it will fetch."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select

from models import Council, Offer
from models.db import make_session_factory
from models.keys import use_keys
from web.api.openreferral.routes import PROFILE
from web.cli import main

EXAMPLE = PROFILE / "examples" / "service_full.json"


def _run(args: list[str]) -> Result:
    try:
        return CliRunner().invoke(main, args)
    finally:
        use_keys(None)


@pytest.fixture
def council(fresh_engine: Engine) -> str:
    with make_session_factory(fresh_engine).begin() as session:
        session.add(Council(name="Eastholm", slug="eastholm", areas=["north"]))
    return "eastholm"


def test_a_file_is_imported_then_a_second_import_changes_nothing(
    fresh_database_url: str, fresh_engine: Engine, council: str
) -> None:
    args = ["openreferral", "import", str(EXAMPLE), "--council", council]
    first = _run([*args, "--url", fresh_database_url])
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[0] == (
        "organisations: 1 created, 0 updated, 0 unchanged, 0 refused; "
        "services: 1 created, 0 updated, 0 unchanged, 0 refused"
    )
    assert "note: service ac148810-d857-441c-9679-408f346de14b" in first.stdout

    second = _run([*args, "--url", fresh_database_url])
    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines()[0] == (
        "organisations: 0 created, 0 updated, 1 unchanged, 0 refused; "
        "services: 0 created, 0 updated, 1 unchanged, 0 refused"
    )
    with make_session_factory(fresh_engine)() as session:
        assert session.scalars(select(Offer.title)).all() == ["Community Counselling"]


def test_refused_records_are_one_line_each_with_exit_status_1(
    fresh_database_url: str, tmp_path: Path, council: str
) -> None:
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps([{"id": "s-1", "name": "Lonely service"}]), "utf-8")
    result = _run(["openreferral", "import", str(feed), "--council", council,
                   "--url", fresh_database_url])  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "refused service s-1 (Lonely service): it names no organisation (organization.id)"
    ]


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("file:///etc/passwd", "only http:// and https:// web addresses can be read"),
        ("ftp://127.0.0.1/feed.json", "only http:// and https:// web addresses can be read"),
        ("missing.json", "missing.json: cannot be read (No such file or directory)"),
    ],
)
def test_a_source_that_cannot_be_read_is_one_line_with_exit_status_2(
    fresh_database_url: str, council: str, source: str, words: str
) -> None:
    result = _run(["openreferral", "import", source, "--council", council,
                   "--url", fresh_database_url])  # fmt: skip
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert words in result.stderr


def test_an_unknown_council_is_one_line_with_exit_status_2(fresh_database_url: str) -> None:
    result = _run(["openreferral", "import", str(EXAMPLE), "--council", "nowhere",
                   "--url", fresh_database_url])  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr == "tapestry: --council: no council is called 'nowhere'\n"


class _Feed(BaseHTTPRequestHandler):
    """A feed that redirects to a file, answers 500, or sends too much."""

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        if self.path == "/to-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
        elif self.path == "/broken":
            self.send_response(500)
            self.end_headers()
        else:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"name": "' + b"x" * 2048 + b'"}')

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def feed_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("path", "words"),
    [("/to-file", "it redirects away from http(s)"), ("/broken", "the feed answered 500")],
)
def test_a_feed_that_redirects_to_a_file_or_fails_is_refused(
    fresh_database_url: str, council: str, feed_server: str, path: str, words: str
) -> None:
    result = _run(["openreferral", "import", feed_server + path, "--council", council,
                   "--url", fresh_database_url])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert words in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_feed_larger_than_the_limit_is_refused(
    feed_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from web.services import openreferral_import

    monkeypatch.setattr(openreferral_import, "MAX_DOCUMENT_BYTES", 1024)
    with pytest.raises(openreferral_import.SourceProblem) as caught:
        openreferral_import.fetch_json(feed_server + "/big")
    assert "larger than" in caught.value.problems[0]
