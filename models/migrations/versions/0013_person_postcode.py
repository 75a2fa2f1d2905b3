"""People: the postcode they give, so matching can measure how far away each offer is.

A new column, empty for everyone: people add it on their "About me" page.

Revision ID: 0013_person_postcode
Revises: 0012_offer_schedule_rules
Create Date: 2026-12-03 21:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_person_postcode"
down_revision: str | None = "0012_offer_schedule_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person_profiles") as batch:
        batch.add_column(sa.Column("postcode", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("person_profiles") as batch:
        batch.drop_column("postcode")
