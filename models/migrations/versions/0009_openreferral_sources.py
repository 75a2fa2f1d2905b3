"""Open Referral import: the feed's ids of the providers and offers an import made.

``openreferral_sources`` keys each imported organisation (a provider) and service (an offer)
on the feed's id within the council it was imported into, so a second import of the same feed
updates those records instead of making copies. A new table: existing data is untouched.

Revision ID: 0009_openreferral_sources
Revises: 0008_notifications_outbox
Create Date: 2026-12-03 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_openreferral_sources"
down_revision: str | None = "0008_notifications_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "openreferral_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("council_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "organization",
                "service",
                name="openreferral_source_kind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'organization' AND provider_id IS NOT NULL AND offer_id IS NULL)"
            " OR (kind = 'service' AND offer_id IS NOT NULL)",
            name=op.f("ck_openreferral_sources_kind_has_record"),
        ),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_openreferral_sources_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_openreferral_sources_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["offers.id"],
            name=op.f("fk_openreferral_sources_offer_id_offers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openreferral_sources")),
        sa.UniqueConstraint(
            "council_id",
            "kind",
            "source_id",
            name=op.f("uq_openreferral_sources_council_id_kind_source_id"),
        ),
    )
    with op.batch_alter_table("openreferral_sources", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_openreferral_sources_provider_id"), ["provider_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_openreferral_sources_offer_id"), ["offer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("openreferral_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_openreferral_sources_offer_id"))
        batch_op.drop_index(batch_op.f("ix_openreferral_sources_provider_id"))
    op.drop_table("openreferral_sources")
