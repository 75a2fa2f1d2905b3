"""Council taxonomies: a council's own taxonomies and terms, and the offers tagged with them.

Three new tables (``council_taxonomies``, ``council_taxonomy_terms``, ``offer_council_terms``);
existing data is untouched, and no offer has a council term until its provider gives one.

Revision ID: 0015_council_taxonomies
Revises: 0014_offer_other_areas
Create Date: 2026-12-04 22:16:12.467503
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_council_taxonomies"
down_revision: str | None = "0014_offer_other_areas"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "council_taxonomies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("council_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("uri", sa.String(length=500), nullable=True),
        sa.Column("version", sa.String(length=50), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_council_taxonomies_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_council_taxonomies")),
        sa.UniqueConstraint(
            "council_id", "name", name=op.f("uq_council_taxonomies_council_id_name")
        ),
        sa.UniqueConstraint(
            "council_id", "source_id", name=op.f("uq_council_taxonomies_council_id_source_id")
        ),
    )
    op.create_table(
        "council_taxonomy_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("taxonomy_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("term_uri", sa.String(length=500), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["council_taxonomy_terms.id"],
            name=op.f("fk_council_taxonomy_terms_parent_id_council_taxonomy_terms"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["taxonomy_id"],
            ["council_taxonomies.id"],
            name=op.f("fk_council_taxonomy_terms_taxonomy_id_council_taxonomies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_council_taxonomy_terms")),
        sa.UniqueConstraint(
            "taxonomy_id", "code", name=op.f("uq_council_taxonomy_terms_taxonomy_id_code")
        ),
        sa.UniqueConstraint(
            "taxonomy_id", "source_id", name=op.f("uq_council_taxonomy_terms_taxonomy_id_source_id")
        ),
    )
    with op.batch_alter_table("council_taxonomy_terms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_council_taxonomy_terms_taxonomy_id"), ["taxonomy_id"], unique=False
        )

    op.create_table(
        "offer_council_terms",
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("term_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["offers.id"],
            name=op.f("fk_offer_council_terms_offer_id_offers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["term_id"],
            ["council_taxonomy_terms.id"],
            name=op.f("fk_offer_council_terms_term_id_council_taxonomy_terms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("offer_id", "term_id", name=op.f("pk_offer_council_terms")),
    )
    with op.batch_alter_table("offer_council_terms", schema=None) as batch_op:
        batch_op.create_index("ix_offer_council_terms_term_id", ["term_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("offer_council_terms", schema=None) as batch_op:
        batch_op.drop_index("ix_offer_council_terms_term_id")

    op.drop_table("offer_council_terms")
    with op.batch_alter_table("council_taxonomy_terms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_council_taxonomy_terms_taxonomy_id"))

    op.drop_table("council_taxonomy_terms")
    op.drop_table("council_taxonomies")
