"""Rounds keep why a run that breaks the pot or a rule was published anyway.

``rounds.override_reason`` is the commissioner's reason and ``rounds.override_breaches`` the
sentences saying what the published run breaks; both are null for a run that keeps them all.
Columns are added in place (SQLite's ``ALTER TABLE ... ADD COLUMN``): no table copy.

Revision ID: 0004_publish_override
Revises: 0003_keys_outside_database
Create Date: 2026-12-03 12:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_publish_override"
down_revision: str | None = "0003_keys_outside_database"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rounds") as batch:
        batch.add_column(sa.Column("override_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("override_breaches", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rounds") as batch:
        batch.drop_column("override_breaches")
        batch.drop_column("override_reason")
