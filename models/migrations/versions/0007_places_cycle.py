"""The places cycle: answer deadlines, provider confirmation, waiting list positions.

* ``rounds.answer_days`` (default 7, 1 to 60): days a person has to answer an offer.
* ``allocations.answer_by``: when an unanswered offer expires (set for the offers held now,
  from when they were made); ``confirmed_at``, ``start_date``, ``provider_reason`` and
  ``provider_decided_by_user_id``: the provider's confirmation or refusal of a placement.
* ``allocation_status`` gains ``expired``, ``given_up`` and ``provider_declined`` (the column
  grows to fit them and its CHECK constraint is made again).
* ``waiting_positions``: where each person stood on each waiting list when they last looked.

Revision ID: 0007_places_cycle
Revises: 0006_random_person_references
Create Date: 2026-12-03 15:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_places_cycle"
down_revision: str | None = "0006_random_person_references"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("offered", "accepted", "declined", "withdrawn")
NEW = (*OLD, "expired", "given_up", "provider_declined")


def _status(values: tuple[str, ...], length: int) -> sa.Enum:
    return sa.Enum(
        *values, name="allocation_status", native_enum=False, create_constraint=True, length=length
    )


def upgrade() -> None:
    with op.batch_alter_table("rounds") as batch:
        batch.add_column(
            sa.Column("answer_days", sa.Integer(), server_default=sa.text("7"), nullable=False)
        )
        batch.create_check_constraint(
            op.f("ck_rounds_answer_days_range"), "answer_days >= 1 AND answer_days <= 60"
        )
    with op.batch_alter_table("allocations") as batch:
        batch.add_column(sa.Column("answer_by", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("start_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("provider_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("provider_decided_by_user_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_allocations_provider_decided_by_user_id_users"),
            "users",
            ["provider_decided_by_user_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_allocations_answer_by"), ["answer_by"], unique=False)
        batch.alter_column(
            "status", existing_type=_status(OLD, 17), type_=_status(NEW, 25), nullable=False
        )
    # Offers already waiting for an answer get the default seven days from when they were made.
    allocations = sa.table(
        "allocations",
        sa.column("status", sa.String),
        sa.column("answer_by", sa.DateTime(timezone=True)),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("id", sa.Integer),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(allocations.c.id, allocations.c.created_at).where(
            allocations.c.status == "offered"
        )
    ).all()
    from datetime import timedelta

    for allocation_id, created_at in rows:
        connection.execute(
            allocations.update()
            .where(allocations.c.id == allocation_id)
            .values(answer_by=created_at + timedelta(days=7))
        )
    op.create_table(
        "waiting_positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("position >= 1", name=op.f("ck_waiting_positions_position_pos")),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["offers.id"],
            name=op.f("fk_waiting_positions_offer_id_offers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person_profiles.id"],
            name=op.f("fk_waiting_positions_person_id_person_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.id"],
            name=op.f("fk_waiting_positions_round_id_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waiting_positions")),
        sa.UniqueConstraint(
            "person_id",
            "round_id",
            "offer_id",
            name=op.f("uq_waiting_positions_person_id_round_id_offer_id"),
        ),
    )
    op.create_index(
        op.f("ix_waiting_positions_person_id"), "waiting_positions", ["person_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_waiting_positions_person_id"), table_name="waiting_positions")
    op.drop_table("waiting_positions")
    op.execute(
        "UPDATE allocations SET status = 'withdrawn' "
        "WHERE status IN ('expired', 'given_up', 'provider_declined')"
    )
    with op.batch_alter_table("allocations") as batch:
        batch.alter_column(
            "status", existing_type=_status(NEW, 25), type_=_status(OLD, 17), nullable=False
        )
        batch.drop_index(op.f("ix_allocations_answer_by"))
        batch.drop_constraint(
            op.f("fk_allocations_provider_decided_by_user_id_users"), type_="foreignkey"
        )
        batch.drop_column("provider_decided_by_user_id")
        batch.drop_column("provider_reason")
        batch.drop_column("start_date")
        batch.drop_column("confirmed_at")
        batch.drop_column("answer_by")
    with op.batch_alter_table("rounds") as batch:
        batch.drop_constraint(op.f("ck_rounds_answer_days_range"), type_="check")
        batch.drop_column("answer_days")
