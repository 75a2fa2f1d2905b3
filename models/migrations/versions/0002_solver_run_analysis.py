"""Solver runs keep their analysis: the price of each rule and the value of one more place.

Revision ID: 0002_solver_run_analysis
Revises: 0001_initial
Create Date: 2026-11-26 00:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_solver_run_analysis"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("solver_runs") as batch:
        batch.add_column(sa.Column("analysis", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("solver_runs") as batch:
        batch.drop_column("analysis")
