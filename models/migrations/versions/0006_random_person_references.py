"""People's references are random (with a check character), not their sequential ids.

``person_profiles.reference`` is added; people who already have a reference keep it
(``P`` and their id in six digits, as it was shown to them), so nothing they wrote down stops
working. New people get a random one from ``models.people.new_person_reference``.

Revision ID: 0006_random_person_references
Revises: 0005_login_delays
Create Date: 2026-12-03 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_random_person_references"
down_revision: str | None = "0005_login_delays"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person_profiles") as batch:
        batch.add_column(sa.Column("reference", sa.String(length=16), nullable=True))
    profiles = sa.table("person_profiles", sa.column("id", sa.Integer), sa.column("reference"))
    connection = op.get_bind()
    ids = connection.execute(sa.select(profiles.c.id)).scalars().all()
    for person_id in ids:
        connection.execute(
            profiles.update()
            .where(profiles.c.id == person_id)
            .values(reference=f"P{person_id:06d}")
        )
    with op.batch_alter_table("person_profiles") as batch:
        batch.alter_column("reference", existing_type=sa.String(length=16), nullable=False)
        batch.create_unique_constraint(op.f("uq_person_profiles_reference"), ["reference"])


def downgrade() -> None:
    with op.batch_alter_table("person_profiles") as batch:
        batch.drop_constraint(op.f("uq_person_profiles_reference"), type_="unique")
        batch.drop_column("reference")
