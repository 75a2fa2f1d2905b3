"""Sign-in throttling slows guesses with growing delays instead of locking accounts.

``login_throttles.next_try_at`` is when the next try on a key is checked (null: now);
``window_start`` is now when the last try was counted, so a key idle for the window starts
again. The column is added in place (SQLite's ``ALTER TABLE ... ADD COLUMN``): no table copy.

Revision ID: 0005_login_delays
Revises: 0004_publish_override
Create Date: 2026-12-03 12:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_login_delays"
down_revision: str | None = "0004_publish_override"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("login_throttles") as batch:
        batch.add_column(sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("login_throttles") as batch:
        batch.drop_column("next_try_at")
