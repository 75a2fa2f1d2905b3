"""Offer drafts: a new offer's answers, kept on the server while the provider answers one
question a page. A new table; existing data is untouched.

Revision ID: 0016_offer_drafts
Revises: 0015_council_taxonomies
Create Date: 2026-12-04 22:51:47.119866
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_offer_drafts"
down_revision: str | None = "0015_council_taxonomies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "offer_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_offer_drafts_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_offer_drafts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_drafts")),
    )
    with op.batch_alter_table("offer_drafts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_offer_drafts_provider_id"), ["provider_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_offer_drafts_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("offer_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offer_drafts_user_id"))
        batch_op.drop_index(batch_op.f("ix_offer_drafts_provider_id"))

    op.drop_table("offer_drafts")
