"""Migration 0011: offers gain an address, languages and a contact, and keep all they had."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from models import Offer, make_engine, upgrade
from models.db import alembic_config

BEFORE = "0010_bound_totp_secrets"


def test_existing_offers_keep_their_data_and_get_no_address_or_languages(
    empty_database_url: str,
) -> None:
    upgrade(empty_database_url, BEFORE)
    engine = make_engine(empty_database_url)
    now = "CURRENT_TIMESTAMP"
    try:
        with engine.begin() as connection:
            connection.execute(text(
                f"INSERT INTO councils (id, name, slug, areas, updated_at, created_at) "
                f"VALUES (1, 'Westmere', 'westmere', '[\"east\"]', {now}, {now})"
            ))  # fmt: skip
            connection.execute(text(
                f"INSERT INTO providers (id, council_id, name, slug, areas_served, updated_at, "
                f"created_at) VALUES (1, 1, 'Harbour', 'harbour', '[\"east\"]', {now}, {now})"
            ))  # fmt: skip
            connection.execute(text(
                "INSERT INTO offers (id, provider_id, title, description, category, price_pence, "
                "capacity, area, location, latitude, longitude, schedule, accessibility, status, "
                f"updated_at, created_at) VALUES (1, 1, 'Kitchen', 'Cooking', 'social', 4550, 6, "
                "'east', 'The Old Mill', 50.1, -4.2, '{\"tue\": [\"morning\"]}', 'Step-free', "
                f"'published', {now}, {now})"
            ))  # fmt: skip

        upgrade(empty_database_url)

        with Session(engine) as session:
            offer = session.get(Offer, 1)
            assert offer is not None
            assert (offer.title, offer.price_pence, offer.location) == (
                "Kitchen",
                4550,
                "The Old Mill",
            )
            assert offer.schedule == {"tue": ["morning"]}
            assert (offer.latitude, offer.longitude, offer.accessibility) == (
                50.1,
                -4.2,
                "Step-free",
            )
            assert offer.languages == []
            assert (offer.address_line, offer.town, offer.postcode, offer.contact_name) == (
                None,
                None,
                None,
                None,
            )
            # New offers get their languages from the model, not a database default.
            offer.languages = ["Polish"]
            offer.postcode = "TR1 1AA"
            session.commit()

        command.downgrade(alembic_config(empty_database_url), BEFORE)
        with engine.connect() as connection:
            row = connection.execute(text("SELECT title, location FROM offers")).one()
        assert tuple(row) == ("Kitchen", "The Old Mill")
    finally:
        engine.dispose()
