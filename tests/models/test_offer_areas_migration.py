"""Migration 0014: offers gain further areas; each keeps its one area as its main area."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from models import Offer, make_engine, upgrade
from models.db import alembic_config

BEFORE = "0013_person_postcode"


def test_existing_offers_keep_their_area_and_get_no_others_and_it_downgrades(
    empty_database_url: str,
) -> None:
    upgrade(empty_database_url, BEFORE)
    engine = make_engine(empty_database_url)
    now = "CURRENT_TIMESTAMP"
    try:
        with engine.begin() as connection:
            connection.execute(text(
                f"INSERT INTO councils (id, name, slug, areas, updated_at, created_at) "
                f"VALUES (1, 'Westmere', 'westmere', '[\"east\", \"north\"]', {now}, {now})"
            ))  # fmt: skip
            connection.execute(text(
                f"INSERT INTO providers (id, council_id, name, slug, areas_served, updated_at, "
                f"created_at) VALUES (1, 1, 'Harbour', 'harbour', '[\"east\", \"north\"]', "
                f"{now}, {now})"
            ))  # fmt: skip
            for offer_id, area in ((1, "'east'"), (2, "NULL")):
                connection.execute(text(
                    "INSERT INTO offers (id, provider_id, title, description, category, "
                    "price_pence, capacity, area, status, languages, schedule, schedule_rules, "
                    "updated_at, created_at) "
                    f"VALUES ({offer_id}, 1, 'Kitchen', 'Cooking', 'social', 4550, 6, {area}, "
                    f"'published', '[]', '{{}}', '[]', {now}, {now})"
                ))  # fmt: skip

        upgrade(empty_database_url)

        with Session(engine) as session:
            kitchen, online = session.get(Offer, 1), session.get(Offer, 2)
            assert kitchen is not None and online is not None
            assert (kitchen.area, kitchen.other_areas, kitchen.service_areas) == (
                "east",
                [],
                ["east"],
            )
            assert (online.area, online.other_areas, online.service_areas) == (None, [], [])
            kitchen.other_areas = ["north"]
            session.commit()
            assert session.get(Offer, 1).service_areas == ["east", "north"]  # type: ignore[union-attr]

        command.downgrade(alembic_config(empty_database_url), BEFORE)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, area FROM offers ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "east"), (2, None)]
    finally:
        engine.dispose()
