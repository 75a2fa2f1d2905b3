"""Offers: when they run as RFC 5545 rules (RRULE, DTSTART, EXDATE), not only days and parts.

Each offer gets ``schedule_rules``. Its days-and-parts pattern is carried over as weekly rules,
one for each part of the day at the feed's hours (morning 09:00 to 12:00, afternoon 12:00 to
17:00, evening 17:00 to 21:00), starting on the day the offer was made. ``schedule`` stays, as
the days and parts the rules fall on.

Revision ID: 0012_offer_schedule_rules
Revises: 0011_offer_address_languages
Create Date: 2026-12-03 21:10:00.000000
"""

import json
from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0012_offer_schedule_rules"
down_revision: str | None = "0011_offer_address_languages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CODES = dict(zip(DAYS, ("MO", "TU", "WE", "TH", "FR", "SA", "SU"), strict=True))
HOURS = {
    "morning": ("09:00", "12:00"),
    "afternoon": ("12:00", "17:00"),
    "evening": ("17:00", "21:00"),
}


def _start(value: object) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and len(value) >= 10:
        return value[:10]
    return date.today().isoformat()


def _rules(pattern: object, start: str) -> list[dict[str, object]]:
    if isinstance(pattern, str):
        pattern = json.loads(pattern or "{}")
    if not isinstance(pattern, dict):
        return []
    rules: list[dict[str, object]] = []
    for part, (opens, closes) in HOURS.items():
        days = [d for d in DAYS if part in (pattern.get(d) or [])]
        if days:
            rules.append(
                {
                    "rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=" + ",".join(CODES[d] for d in days),
                    "dtstart": start,
                    "opens_at": opens,
                    "closes_at": closes,
                    "exdates": [],
                }
            )
    return rules


def upgrade() -> None:
    with op.batch_alter_table("offers") as batch:
        batch.add_column(
            sa.Column("schedule_rules", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table("offers") as batch:
        batch.alter_column("schedule_rules", existing_type=sa.JSON(), server_default=None)
    offers = sa.table(
        "offers",
        sa.column("id", sa.Integer),
        sa.column("schedule", sa.JSON),
        sa.column("schedule_rules", sa.JSON),
        sa.column("created_at", sa.DateTime),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(offers.c.id, offers.c.schedule, offers.c.created_at)).all()
    for offer_id, pattern, created_at in rows:
        rules = _rules(pattern, _start(created_at))
        if rules:
            bind.execute(
                offers.update().where(offers.c.id == offer_id).values(schedule_rules=rules)
            )


def downgrade() -> None:
    with op.batch_alter_table("offers") as batch:
        batch.drop_column("schedule_rules")
