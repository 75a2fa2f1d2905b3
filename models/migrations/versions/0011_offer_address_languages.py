"""Offers: a postal address (street, town, postcode), languages and a contact's name.

What the Open Referral UK profile asks of a service's location and contacts. The columns are
added in place; every existing offer keeps what it had (its ``location`` stays the place's
name) and gets no languages (an empty list) and no address until its provider gives one.

Revision ID: 0011_offer_address_languages
Revises: 0010_bound_totp_secrets
Create Date: 2026-12-03 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_offer_address_languages"
down_revision: str | None = "0010_bound_totp_secrets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("offers") as batch:
        batch.add_column(sa.Column("address_line", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("town", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("postcode", sa.String(length=10), nullable=True))
        batch.add_column(
            sa.Column("languages", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch.add_column(sa.Column("contact_name", sa.String(length=200), nullable=True))
    # The default only fills the rows there were; new rows get theirs from the model.
    with op.batch_alter_table("offers") as batch:
        batch.alter_column("languages", existing_type=sa.JSON(), server_default=None)
        batch.create_index(batch.f("ix_offers_postcode"), ["postcode"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("offers") as batch:
        batch.drop_index(batch.f("ix_offers_postcode"))
        batch.drop_column("contact_name")
        batch.drop_column("languages")
        batch.drop_column("postcode")
        batch.drop_column("town")
        batch.drop_column("address_line")
