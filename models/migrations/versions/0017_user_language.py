"""Accounts: the language each person chose for the site and their messages (issue 13).

A new column, empty for everyone: English (or the browser's choice) until they choose.

Revision ID: 0017_user_language
Revises: 0016_offer_drafts
Create Date: 2026-12-04 23:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_user_language"
down_revision: str | None = "0016_offer_drafts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("language")
