"""Offers: the further areas a service serves besides its main one.

A new column, an empty list for every offer: each keeps its one area as its main area.

Revision ID: 0014_offer_other_areas
Revises: 0013_person_postcode
Create Date: 2026-12-03 21:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_offer_other_areas"
down_revision: str | None = "0013_person_postcode"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("offers") as batch:
        batch.add_column(
            sa.Column("other_areas", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    # The default only fills the rows there were; new rows get theirs from the model.
    with op.batch_alter_table("offers") as batch:
        batch.alter_column("other_areas", existing_type=sa.JSON(), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("offers") as batch:
        batch.drop_column("other_areas")
