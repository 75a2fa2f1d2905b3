"""People: whether each person reads the site and their messages in Easy Read (issue 13).

A new column, off for everyone until they (or someone they let change things) switch it on.

Revision ID: 0020_easy_read
Revises: 0019_notification_handover
Create Date: 2026-12-06 00:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_easy_read"
down_revision: str | None = "0019_notification_handover"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person_profiles") as batch:
        batch.add_column(
            sa.Column("easy_read", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("person_profiles") as batch:
        batch.drop_column("easy_read")
