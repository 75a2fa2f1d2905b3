"""The national postcode table: ``tapestry postcodes import FILE`` reads the ONS Postcode
Directory (its real column layout, in ``tests/fixtures/onspd_sample.csv``), and a person's
postcode, the feed's proximity search and matching then place people by it.

The fixture has 14 rows: 7 postcodes in use, 2 no longer used (``doterm``), 1 with no
coordinates (ONSPD's 99.999999, 0) and 4 broken rows (a bad postcode, a latitude that is not a
number, a point outside the UK, an end month that is not ``YYYYMM``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from models import Postcode
from models.db import make_session_factory
from models.keys import use_keys
from tests import factories
from tests.services.person_world import World, make_world
from tests.web.api_helpers import assert_error, call
from web.cli import main
from web.services.openreferral import postcode_point
from web.services.postcodes import ColumnsMissing, import_onspd, national_point

ONSPD = Path(__file__).parent.parent / "fixtures" / "onspd_sample.csv"
REFUSED = [
    "line 12: pcds: 'NOT A CODE' is not a UK postcode",
    "line 13: lat, long: EX2 5ZZ has no numbers for its point",
    "line 14: lat, long: EX2 6ZZ is at 40.72487, -3.5268, outside the UK",
    "line 15: doterm: '2011-6' is not a year and month like 201106",
]


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Postcode)) or 0


def test_the_directory_is_read_and_a_second_import_changes_nothing(db_session: Session) -> None:
    with ONSPD.open(encoding="utf-8", newline="") as lines:
        report = import_onspd(db_session, lines)
    assert (report.created, report.updated, report.unchanged) == (9, 0, 0)
    assert (report.terminated, report.without_point) == (2, 1)
    assert report.refused == REFUSED
    assert national_point(db_session, "EX1 1AA") == (50.72487, -3.5268)
    assert db_session.get(Postcode, "PL1 1AE").terminated == "2000-12"  # type: ignore[union-attr]
    assert national_point(db_session, "GY1 1AA") is None  # no coordinates: left out

    with ONSPD.open(encoding="utf-8", newline="") as lines:
        again = import_onspd(db_session, lines)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 9)
    assert _count(db_session) == 9

    # A newer directory: one postcode moved, one ended.
    text = ONSPD.read_text("utf-8").replace('"50.724670","-3.526580"', '"50.724700","-3.526600"')
    text = text.replace('"TR1 2AB","198001","",', '"TR1 2AB","198001","202402",')
    newer = import_onspd(db_session, text.splitlines(keepends=True))
    assert (newer.created, newer.updated, newer.unchanged) == (0, 2, 7)
    assert national_point(db_session, "EX1 1AB") == (50.7247, -3.5266)
    assert db_session.get(Postcode, "TR1 2AB").terminated == "2024-02"  # type: ignore[union-attr]


def test_a_file_without_the_columns_is_refused(db_session: Session) -> None:
    with pytest.raises(ColumnsMissing, match="it lacks lat, doterm"):
        import_onspd(db_session, ["pcds,long\n", "EX1 1AA,-3.5\n"])
    assert _count(db_session) == 0


def test_the_table_places_a_postcode_before_the_services_do(db_session: Session) -> None:
    council = factories.CouncilFactory(slug="westmere")
    provider = factories.ProviderFactory(council=council)
    factories.OfferFactory(provider=provider, postcode="EX1 1AA", latitude=51.0, longitude=-3.0)
    db_session.flush()
    assert postcode_point(db_session, council, "EX1 1AA") == (51.0, -3.0)  # no table yet
    with ONSPD.open(encoding="utf-8", newline="") as lines:
        import_onspd(db_session, lines)
    assert postcode_point(db_session, council, "EX1 1AA") == (50.72487, -3.5268)
    # A postcode no service gives, which the services could not place.
    assert postcode_point(db_session, council, "TR1 1AA") == (50.26319, -5.05115)
    # Not in the table: the services' own postcodes, as before.
    assert postcode_point(db_session, council, "EX1 7QQ") == (51.0, -3.0)


@pytest.fixture
def world(db_session: Session) -> World:
    return make_world()


def test_a_persons_postcode_in_the_api_is_tidied_and_placed(
    app: Flask, login, world: World, db_session: Session
) -> None:
    with ONSPD.open(encoding="utf-8", newline="") as lines:
        import_onspd(db_session, lines)
    db_session.flush()
    client = app.test_client()
    login(client, world.user)
    assert "postcode" in client.get("/api/v1/me/profile").get_json()

    body = call(client, "PATCH", "/api/v1/me/profile", {"postcode": " tr1  1aa "}).get_json()
    assert body["postcode"] == "TR1 1AA"
    db_session.refresh(world.person)
    assert (world.person.latitude, world.person.longitude) == (50.26319, -5.05115)

    wrong = assert_error(call(client, "PATCH", "/api/v1/me/profile", {"postcode": "nowhere"}), 422)
    assert set(wrong["errors"]) == {"postcode"}
    for bad in (7, ["TR1 1AA"], "x" * 21):
        assert (
            "postcode"
            in assert_error(call(client, "PATCH", "/api/v1/me/profile", {"postcode": bad}), 422)[
                "errors"
            ]
        )
    db_session.refresh(world.person)
    assert world.person.postcode == "TR1 1AA"  # the failed requests changed nothing

    # Not sent: kept. Null: taken away, and the point with it.
    kept = call(client, "PATCH", "/api/v1/me/profile", {"max_travel_km": 4}).get_json()
    assert kept["postcode"] == "TR1 1AA"
    gone = call(client, "PATCH", "/api/v1/me/profile", {"postcode": None}).get_json()
    assert gone["postcode"] is None
    db_session.refresh(world.person)
    assert world.person.latitude is None


def test_the_openapi_document_describes_the_postcode(app: Flask) -> None:
    schemas = app.test_client().get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    read = next(
        v for k, v in schemas.items() if k.startswith("Profile") and "id" in v["properties"]
    )
    patch = next(v for k, v in schemas.items() if k.startswith("ProfilePatch"))
    assert read["properties"]["postcode"]["type"] == ["string", "null"] or read["properties"][
        "postcode"
    ].get("nullable")
    assert patch["properties"]["postcode"]["maxLength"] == 20
    assert "EX1 1AA" in patch["properties"]["postcode"]["description"]


def _run(args: list[str], url: str) -> Result:
    try:
        return CliRunner().invoke(main, [*args, "--url", url])
    finally:
        use_keys(None)


def test_the_command_reports_each_bad_row_and_changes_nothing_when_none_is_valid(
    fresh_database_url: str, fresh_engine: Engine, tmp_path: Path
) -> None:
    first = _run(["postcodes", "import", str(ONSPD)], fresh_database_url)
    assert first.exit_code == 1, first.output
    assert first.stdout == (
        "postcodes: 9 created, 0 updated, 0 unchanged (2 of them no longer used); "
        "1 without coordinates left out; 4 refused\n"
    )
    assert first.stderr.splitlines() == [f"tapestry: {ONSPD}: {line}" for line in REFUSED]
    again = _run(["postcodes", "import", str(ONSPD)], fresh_database_url)
    assert again.stdout.startswith("postcodes: 0 created, 0 updated, 9 unchanged")

    lines = ONSPD.read_text("utf-8").splitlines(keepends=True)
    broken = tmp_path / "broken.csv"
    broken.write_text(lines[0] + "".join(lines[11:]), "utf-8")  # the header, then bad rows
    none = _run(["postcodes", "import", str(broken)], fresh_database_url)
    assert none.exit_code == 2
    assert none.stderr.splitlines()[-1] == (
        f"tapestry: {broken}: no row has a postcode Tapestry can use"
    )
    assert len(none.stderr.splitlines()) == 5  # one line per bad row, then why it stopped

    headless = tmp_path / "headless.csv"
    headless.write_text("EX1 1AA,50.7,-3.5\n", "utf-8")
    for path in (headless, tmp_path / "missing.csv"):
        refused = _run(["postcodes", "import", str(path)], fresh_database_url)
        assert refused.exit_code == 2 and len(refused.stderr.splitlines()) == 1, refused.output
    with make_session_factory(fresh_engine)() as session:
        assert _count(session) == 9
