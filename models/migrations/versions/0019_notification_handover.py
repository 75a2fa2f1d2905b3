"""Notifications: when a worker began handing each message to the sender.

A new column, empty for every message: a message taken over from a dead worker is treated as
possibly delivered only when it is set (see web/services/notifications.py).

Revision ID: 0019_notification_handover
Revises: 0018_postcodes
Create Date: 2026-12-04 23:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_notification_handover"
down_revision: str | None = "0018_postcodes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("handed_over_at")
