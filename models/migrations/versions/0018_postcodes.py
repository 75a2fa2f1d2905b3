"""Postcodes: the national table of UK postcodes and their points, from the ONS Postcode
Directory (``tapestry postcodes import``). A new, empty table; existing data is untouched.

Revision ID: 0018_postcodes
Revises: 0017_user_language
Create Date: 2026-12-04 23:05:24.238774
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_postcodes"
down_revision: str | None = "0017_user_language"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "postcodes",
        sa.Column("postcode", sa.String(length=8), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=False),
        sa.Column("longitude", sa.Double(), nullable=False),
        sa.Column("terminated", sa.String(length=7), nullable=True),
        sa.PrimaryKeyConstraint("postcode", name=op.f("pk_postcodes")),
    )


def downgrade() -> None:
    op.drop_table("postcodes")
