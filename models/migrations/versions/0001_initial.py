"""Initial schema: every table, and the triggers that keep the audit trail append-only.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-26 00:21:36.053525
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("on_behalf_of_user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("object_type", sa.String(length=50), nullable=True),
        sa.Column("object_id", sa.String(length=100), nullable=True),
        sa.Column("request_id", sa.String(length=100), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_events_hash")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_events_prev_hash")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index("ix_audit_events_actor_user_id", ["actor_user_id"], unique=False)
        batch_op.create_index("ix_audit_events_object", ["object_type", "object_id"], unique=False)
        batch_op.create_index(
            "ix_audit_events_on_behalf_of_user_id", ["on_behalf_of_user_id"], unique=False
        )

    op.create_table(
        "councils",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_councils")),
        sa.UniqueConstraint("name", name=op.f("uq_councils_name")),
        sa.UniqueConstraint("slug", name=op.f("uq_councils_slug")),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("unique_key", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                name="job_status",
                native_enum=False,
                create_constraint=True,
                length=15,
            ),
            nullable=False,
        ),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=True),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_by", sa.String(length=200), nullable=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_jobs_attempts_nonneg")),
        sa.CheckConstraint(
            "progress >= 0 AND progress <= 100", name=op.f("ck_jobs_progress_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_status_run_after", ["status", "run_after"], unique=False)
        batch_op.create_index(
            "uq_jobs_one_active_per_key",
            ["unique_key"],
            unique=True,
            sqlite_where=sa.text("status IN ('queued', 'running') AND unique_key IS NOT NULL"),
            postgresql_where=sa.text("status IN ('queued', 'running') AND unique_key IS NOT NULL"),
        )

    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_login_throttles_attempts_nonneg")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )
    op.create_table(
        "outcome_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_tags")),
        sa.UniqueConstraint("slug", name=op.f("uq_outcome_tags_slug")),
    )
    op.create_table(
        "providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("council_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("website", sa.String(length=500), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("registered_identifier", sa.String(length=100), nullable=True),
        sa.Column("areas_served", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_providers_council_id_councils"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
        sa.UniqueConstraint("slug", name=op.f("uq_providers_slug")),
    )
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_providers_council_id"), ["council_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "person",
                "advocate",
                "provider",
                "commissioner",
                "admin",
                name="user_role",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_login_count", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("council_id", sa.Integer(), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_users_email_lower")),
        sa.CheckConstraint(
            "failed_login_count >= 0", name=op.f("ck_users_failed_login_count_nonneg")
        ),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_users_council_id_councils"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_council_id"), ["council_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_users_role"), ["role"], unique=False)

    op.create_table(
        "erasure_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_user_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "decision",
            sa.Enum(
                "erased",
                "partly_erased",
                "refused",
                name="erasure_decision",
                native_enum=False,
                create_constraint=True,
                length=21,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("kept", sa.JSON(), nullable=False),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"],
            ["users.id"],
            name=op.f("fk_erasure_records_decided_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_records")),
    )
    with op.batch_alter_table("erasure_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_erasure_records_subject_user_id"), ["subject_user_id"], unique=False
        )

    op.create_table(
        "idempotency_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("response_headers", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_idempotency_records_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_records")),
        sa.UniqueConstraint("key", "user_id", name=op.f("uq_idempotency_records_key_user_id")),
    )
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_records_created_at", ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_idempotency_records_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "employment",
                "training",
                "day_opportunity",
                "home_support",
                "social",
                "creative",
                name="offer_category",
                native_enum=False,
                create_constraint=True,
                length=23,
            ),
            nullable=False,
        ),
        sa.Column(
            "min_age_band",
            sa.Enum(
                "16-17",
                "18-24",
                "25-34",
                "35-49",
                "50-64",
                "65+",
                name="offer_min_age_band",
                native_enum=False,
                create_constraint=True,
                length=13,
            ),
            nullable=True,
        ),
        sa.Column(
            "max_age_band",
            sa.Enum(
                "16-17",
                "18-24",
                "25-34",
                "35-49",
                "50-64",
                "65+",
                name="offer_max_age_band",
                native_enum=False,
                create_constraint=True,
                length=13,
            ),
            nullable=True,
        ),
        sa.Column("min_need_level", sa.Integer(), nullable=True),
        sa.Column("max_need_level", sa.Integer(), nullable=True),
        sa.Column("eligibility_text", sa.Text(), nullable=True),
        sa.Column("price_pence", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("area", sa.String(length=100), nullable=True),
        sa.Column("location", sa.String(length=300), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("accessibility", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "published",
                "withdrawn",
                name="offer_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("capacity >= 0", name=op.f("ck_offers_capacity_nonneg")),
        sa.CheckConstraint(
            "max_need_level IS NULL OR (max_need_level >= 0 AND max_need_level <= 10)",
            name=op.f("ck_offers_max_need_range"),
        ),
        sa.CheckConstraint(
            "min_need_level IS NULL OR (min_need_level >= 0 AND min_need_level <= 10)",
            name=op.f("ck_offers_min_need_range"),
        ),
        sa.CheckConstraint("price_pence >= 0", name=op.f("ck_offers_price_nonneg")),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_offers_provider_id_providers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offers_area"), ["area"], unique=False)
        batch_op.create_index(batch_op.f("ix_offers_provider_id"), ["provider_id"], unique=False)
        batch_op.create_index("ix_offers_status_category", ["status", "category"], unique=False)

    op.create_table(
        "person_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("area", sa.String(length=100), nullable=True),
        sa.Column(
            "age_band",
            sa.Enum(
                "16-17",
                "18-24",
                "25-34",
                "35-49",
                "50-64",
                "65+",
                name="age_band",
                native_enum=False,
                create_constraint=True,
                length=13,
            ),
            nullable=True,
        ),
        sa.Column("equity_attributes", sa.JSON(), nullable=True),
        sa.Column("equity_consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assessed_needs", sa.Text(), nullable=True),
        sa.Column("need_level", sa.Integer(), nullable=False),
        sa.Column("need_set_by_user_id", sa.Integer(), nullable=True),
        sa.Column("need_set_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("aspirations_text", sa.Text(), nullable=True),
        sa.Column("max_travel_km", sa.Integer(), nullable=True),
        sa.Column("availability", sa.JSON(), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "max_travel_km IS NULL OR max_travel_km >= 0",
            name=op.f("ck_person_profiles_max_travel_nonneg"),
        ),
        sa.CheckConstraint(
            "need_level >= 0 AND need_level <= 10", name=op.f("ck_person_profiles_need_level_range")
        ),
        sa.ForeignKeyConstraint(
            ["need_set_by_user_id"],
            ["users.id"],
            name=op.f("fk_person_profiles_need_set_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_person_profiles_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_profiles")),
        sa.UniqueConstraint("user_id", name=op.f("uq_person_profiles_user_id")),
    )
    with op.batch_alter_table("person_profiles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_profiles_area"), ["area"], unique=False)

    op.create_table(
        "provider_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_members_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_provider_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_members")),
        sa.UniqueConstraint(
            "provider_id", "user_id", name=op.f("uq_provider_members_provider_id_user_id")
        ),
    )
    with op.batch_alter_table("provider_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provider_members_user_id"), ["user_id"], unique=False)

    op.create_table(
        "retention_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("data_kind", sa.String(length=80), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("updated_by_user_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "retention_days >= 1", name=op.f("ck_retention_policies_retention_days_pos")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_user_id"],
            ["users.id"],
            name=op.f("fk_retention_policies_updated_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_policies")),
        sa.UniqueConstraint("data_kind", name=op.f("uq_retention_policies_data_kind")),
    )
    op.create_table(
        "rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("council_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("pot_pence", sa.BigInteger(), nullable=True),
        sa.Column("choice_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "open",
                "closed",
                "allocated",
                "published",
                name="round_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column(
            "mechanism",
            sa.Enum(
                "welfare",
                "stable",
                name="round_mechanism",
                native_enum=False,
                create_constraint=True,
                length=15,
            ),
            nullable=False,
        ),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("time_limit_s", sa.Double(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("max_choices", sa.Integer(), nullable=False),
        sa.Column("max_placements", sa.Integer(), nullable=False),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("published_run_id", sa.Integer(), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("max_choices >= 1", name=op.f("ck_rounds_max_choices_pos")),
        sa.CheckConstraint("max_placements >= 1", name=op.f("ck_rounds_max_placements_pos")),
        sa.CheckConstraint(
            "pot_pence IS NULL OR pot_pence >= 0", name=op.f("ck_rounds_pot_nonneg")
        ),
        sa.CheckConstraint("time_limit_s > 0", name=op.f("ck_rounds_time_limit_pos")),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_rounds_council_id_councils"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_rounds_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rounds")),
    )
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rounds_council_id"), ["council_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_rounds_status"), ["status"], unique=False)

    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("second_factor_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=400), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_sessions_token_hash")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "budgets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("committed_pence", sa.BigInteger(), nullable=False),
        sa.Column("set_by_user_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_pence >= 0", name=op.f("ck_budgets_amount_nonneg")),
        sa.CheckConstraint(
            "committed_pence <= amount_pence", name=op.f("ck_budgets_not_overspent")
        ),
        sa.CheckConstraint("committed_pence >= 0", name=op.f("ck_budgets_committed_nonneg")),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person_profiles.id"],
            name=op.f("fk_budgets_person_id_person_profiles"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.id"],
            name=op.f("fk_budgets_round_id_rounds"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["set_by_user_id"],
            ["users.id"],
            name=op.f("fk_budgets_set_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budgets")),
        sa.UniqueConstraint("round_id", "person_id", name=op.f("uq_budgets_round_id_person_id")),
    )
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_budgets_person_id"), ["person_id"], unique=False)

    op.create_table(
        "choices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("on_behalf_of_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rank >= 1", name=op.f("ck_choices_rank_pos")),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_choices_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["offers.id"],
            name=op.f("fk_choices_offer_id_offers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["on_behalf_of_user_id"],
            ["users.id"],
            name=op.f("fk_choices_on_behalf_of_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person_profiles.id"],
            name=op.f("fk_choices_person_id_person_profiles"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.id"],
            name=op.f("fk_choices_round_id_rounds"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_choices")),
        sa.UniqueConstraint(
            "round_id", "person_id", "offer_id", name=op.f("uq_choices_round_id_person_id_offer_id")
        ),
        sa.UniqueConstraint(
            "round_id", "person_id", "rank", name=op.f("uq_choices_round_id_person_id_rank")
        ),
    )
    with op.batch_alter_table("choices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_choices_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            "ix_choices_round_id_offer_id", ["round_id", "offer_id"], unique=False
        )

    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("advocate_id", sa.Integer(), nullable=False),
        sa.Column("can_view", sa.Boolean(), nullable=False),
        sa.Column("can_draft", sa.Boolean(), nullable=False),
        sa.Column("can_submit", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "requested",
                "granted",
                "revoked",
                "declined",
                name="consent_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status != 'granted' OR granted_at IS NOT NULL",
            name=op.f("ck_consents_granted_has_time"),
        ),
        sa.CheckConstraint(
            "status != 'revoked' OR revoked_at IS NOT NULL",
            name=op.f("ck_consents_revoked_has_time"),
        ),
        sa.ForeignKeyConstraint(
            ["advocate_id"],
            ["users.id"],
            name=op.f("fk_consents_advocate_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person_profiles.id"],
            name=op.f("fk_consents_person_id_person_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consents_advocate_id"), ["advocate_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_consents_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            "uq_consents_live_person_advocate",
            ["person_id", "advocate_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('requested', 'granted')"),
            postgresql_where=sa.text("status IN ('requested', 'granted')"),
        )

    op.create_table(
        "offer_outcome_tags",
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["offers.id"],
            name=op.f("fk_offer_outcome_tags_offer_id_offers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["outcome_tags.id"],
            name=op.f("fk_offer_outcome_tags_tag_id_outcome_tags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("offer_id", "tag_id", name=op.f("pk_offer_outcome_tags")),
    )
    with op.batch_alter_table("offer_outcome_tags", schema=None) as batch_op:
        batch_op.create_index("ix_offer_outcome_tags_tag_id", ["tag_id"], unique=False)

    op.create_table(
        "person_outcome_tags",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person_profiles.id"],
            name=op.f("fk_person_outcome_tags_person_id_person_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["outcome_tags.id"],
            name=op.f("fk_person_outcome_tags_tag_id_outcome_tags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", "tag_id", name=op.f("pk_person_outcome_tags")),
    )
    with op.batch_alter_table("person_outcome_tags", schema=None) as batch_op:
        batch_op.create_index("ix_person_outcome_tags_tag_id", ["tag_id"], unique=False)

    op.create_table(
        "proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("council_id", sa.Integer(), nullable=False),
        sa.Column("proposer_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("area", sa.String(length=100), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "under_consideration",
                "commissioned",
                "declined",
                name="proposal_status",
                native_enum=False,
                create_constraint=True,
                length=27,
            ),
            nullable=False,
        ),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("commissioned_round_id", sa.Integer(), nullable=True),
        sa.Column("responded_by_user_id", sa.Integer(), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["commissioned_round_id"],
            ["rounds.id"],
            name=op.f("fk_proposals_commissioned_round_id_rounds"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_proposals_council_id_councils"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["proposer_id"],
            ["person_profiles.id"],
            name=op.f("fk_proposals_proposer_id_person_profiles"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["responded_by_user_id"],
            ["users.id"],
            name=op.f("fk_proposals_responded_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
    )
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposals_council_id"), ["council_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_proposals_proposer_id"), ["proposer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_proposals_status"), ["status"], unique=False)

    op.create_table(
        "round_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.Column("places_taken", sa.Integer(), nullable=False),
        sa.CheckConstraint("places >= 0", name=op.f("ck_round_offers_places_nonneg")),
        sa.CheckConstraint("places_taken <= places", name=op.f("ck_round_offers_not_oversold")),
        sa.CheckConstraint("places_taken >= 0", name=op.f("ck_round_offers_places_taken_nonneg")),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["offers.id"],
            name=op.f("fk_round_offers_offer_id_offers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.id"],
            name=op.f("fk_round_offers_round_id_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_offers")),
        sa.UniqueConstraint("round_id", "offer_id", name=op.f("uq_round_offers_round_id_offer_id")),
    )
    with op.batch_alter_table("round_offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_round_offers_offer_id"), ["offer_id"], unique=False)

    op.create_table(
        "solver_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "succeeded",
                "failed",
                name="run_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=True),
        sa.Column(
            "mechanism",
            sa.Enum(
                "welfare",
                "stable",
                name="run_mechanism",
                native_enum=False,
                create_constraint=True,
                length=15,
            ),
            nullable=False,
        ),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("input_hash", sa.String(length=64), nullable=True),
        sa.Column("ortools_version", sa.String(length=40), nullable=True),
        sa.Column("instance_json", sa.Text(), nullable=True),
        sa.Column("result_json", sa.Text(), nullable=True),
        sa.Column("status_of_result", sa.String(length=20), nullable=True),
        sa.Column("objective", sa.BigInteger(), nullable=True),
        sa.Column("bound", sa.BigInteger(), nullable=True),
        sa.Column("solve_seconds", sa.Double(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "progress >= 0 AND progress <= 100", name=op.f("ck_solver_runs_progress_range")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_solver_runs_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_solver_runs_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.id"],
            name=op.f("fk_solver_runs_round_id_rounds"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_solver_runs")),
    )
    with op.batch_alter_table("solver_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_solver_runs_round_id"), ["round_id"], unique=False)
        batch_op.create_index(
            "uq_solver_runs_one_active_per_round",
            ["round_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('queued', 'running')"),
            postgresql_where=sa.text("status IN ('queued', 'running')"),
        )

    # rounds.published_run_id and solver_runs.round_id refer to each other, so this key is added
    # once both tables exist (SQLite: by batch mode's copy of the still-empty table).
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_rounds_published_run",
            "solver_runs",
            ["published_run_id"],
            ["id"],
            ondelete="SET NULL",
        )

    op.create_table(
        "allocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("utility", sa.BigInteger(), nullable=True),
        sa.Column("price_pence", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "offered",
                "accepted",
                "declined",
                "withdrawn",
                name="allocation_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("on_behalf_of_user_id", sa.Integer(), nullable=True),
        sa.Column("explanation", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("price_pence >= 0", name=op.f("ck_allocations_price_nonneg")),
        sa.CheckConstraint("rank IS NULL OR rank >= 1", name=op.f("ck_allocations_rank_pos")),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"],
            ["users.id"],
            name=op.f("fk_allocations_decided_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["offers.id"],
            name=op.f("fk_allocations_offer_id_offers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["on_behalf_of_user_id"],
            ["users.id"],
            name=op.f("fk_allocations_on_behalf_of_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person_profiles.id"],
            name=op.f("fk_allocations_person_id_person_profiles"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.id"],
            name=op.f("fk_allocations_round_id_rounds"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["solver_runs.id"],
            name=op.f("fk_allocations_run_id_solver_runs"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
        sa.UniqueConstraint(
            "run_id", "person_id", "offer_id", name=op.f("uq_allocations_run_id_person_id_offer_id")
        ),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index("ix_allocations_offer_id", ["offer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_allocations_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            "ix_allocations_round_id_status", ["round_id", "status"], unique=False
        )

    op.create_table(
        "proposal_supports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person_profiles.id"],
            name=op.f("fk_proposal_supports_person_id_person_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_proposal_supports_proposal_id_proposals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal_supports")),
        sa.UniqueConstraint(
            "proposal_id", "person_id", name=op.f("uq_proposal_supports_proposal_id_person_id")
        ),
    )
    with op.batch_alter_table("proposal_supports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proposal_supports_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "commitments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("allocation_id", sa.Integer(), nullable=False),
        sa.Column("budget_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("amount_pence > 0", name=op.f("ck_commitments_amount_pos")),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.id"],
            name=op.f("fk_commitments_allocation_id_allocations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["budget_id"],
            ["budgets.id"],
            name=op.f("fk_commitments_budget_id_budgets"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_commitments_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_commitments_provider_id_providers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commitments")),
        sa.UniqueConstraint("allocation_id", name=op.f("uq_commitments_allocation_id")),
    )
    with op.batch_alter_table("commitments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commitments_budget_id"), ["budget_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_commitments_provider_id"), ["provider_id"], unique=False
        )

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("allocation_id", sa.Integer(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rating >= 1 AND rating <= 5", name=op.f("ck_feedback_rating_range")),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.id"],
            name=op.f("fk_feedback_allocation_id_allocations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_feedback_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["offers.id"],
            name=op.f("fk_feedback_offer_id_offers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person_profiles.id"],
            name=op.f("fk_feedback_person_id_person_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint(
            "offer_id",
            "person_id",
            "allocation_id",
            name=op.f("uq_feedback_offer_id_person_id_allocation_id"),
        ),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_offer_id"), ["offer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feedback_person_id"), ["person_id"], unique=False)

    _create_audit_guards()


def downgrade() -> None:
    _drop_audit_guards()
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.drop_constraint("fk_rounds_published_run", type_="foreignkey")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_person_id"))
        batch_op.drop_index(batch_op.f("ix_feedback_offer_id"))

    op.drop_table("feedback")
    with op.batch_alter_table("commitments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commitments_provider_id"))
        batch_op.drop_index(batch_op.f("ix_commitments_budget_id"))

    op.drop_table("commitments")
    with op.batch_alter_table("proposal_supports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposal_supports_person_id"))

    op.drop_table("proposal_supports")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index("ix_allocations_round_id_status")
        batch_op.drop_index(batch_op.f("ix_allocations_person_id"))
        batch_op.drop_index("ix_allocations_offer_id")

    op.drop_table("allocations")
    with op.batch_alter_table("solver_runs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_solver_runs_one_active_per_round",
            sqlite_where=sa.text("status IN ('queued', 'running')"),
            postgresql_where=sa.text("status IN ('queued', 'running')"),
        )
        batch_op.drop_index(batch_op.f("ix_solver_runs_round_id"))

    op.drop_table("solver_runs")
    with op.batch_alter_table("round_offers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_round_offers_offer_id"))

    op.drop_table("round_offers")
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposals_status"))
        batch_op.drop_index(batch_op.f("ix_proposals_proposer_id"))
        batch_op.drop_index(batch_op.f("ix_proposals_council_id"))

    op.drop_table("proposals")
    with op.batch_alter_table("person_outcome_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_person_outcome_tags_tag_id")

    op.drop_table("person_outcome_tags")
    with op.batch_alter_table("offer_outcome_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_offer_outcome_tags_tag_id")

    op.drop_table("offer_outcome_tags")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_consents_live_person_advocate",
            sqlite_where=sa.text("status IN ('requested', 'granted')"),
            postgresql_where=sa.text("status IN ('requested', 'granted')"),
        )
        batch_op.drop_index(batch_op.f("ix_consents_person_id"))
        batch_op.drop_index(batch_op.f("ix_consents_advocate_id"))

    op.drop_table("consents")
    with op.batch_alter_table("choices", schema=None) as batch_op:
        batch_op.drop_index("ix_choices_round_id_offer_id")
        batch_op.drop_index(batch_op.f("ix_choices_person_id"))

    op.drop_table("choices")
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budgets_person_id"))

    op.drop_table("budgets")
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_user_id"))

    op.drop_table("user_sessions")
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rounds_status"))
        batch_op.drop_index(batch_op.f("ix_rounds_council_id"))

    op.drop_table("rounds")
    op.drop_table("retention_policies")
    with op.batch_alter_table("provider_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_members_user_id"))

    op.drop_table("provider_members")
    with op.batch_alter_table("person_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_profiles_area"))

    op.drop_table("person_profiles")
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_index("ix_offers_status_category")
        batch_op.drop_index(batch_op.f("ix_offers_provider_id"))
        batch_op.drop_index(batch_op.f("ix_offers_area"))

    op.drop_table("offers")
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_records_user_id"))
        batch_op.drop_index("ix_idempotency_records_created_at")

    op.drop_table("idempotency_records")
    with op.batch_alter_table("erasure_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasure_records_subject_user_id"))

    op.drop_table("erasure_records")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_role"))
        batch_op.drop_index(batch_op.f("ix_users_council_id"))

    op.drop_table("users")
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_providers_council_id"))

    op.drop_table("providers")
    op.drop_table("outcome_tags")
    op.drop_table("login_throttles")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_jobs_one_active_per_key",
            sqlite_where=sa.text("status IN ('queued', 'running') AND unique_key IS NOT NULL"),
            postgresql_where=sa.text("status IN ('queued', 'running') AND unique_key IS NOT NULL"),
        )
        batch_op.drop_index("ix_jobs_status_run_after")

    op.drop_table("jobs")
    op.drop_table("councils")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_on_behalf_of_user_id")
        batch_op.drop_index("ix_audit_events_object")
        batch_op.drop_index("ix_audit_events_actor_user_id")
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))

    op.drop_table("audit_events")


# The audit trail is append-only. SQLite: triggers abort any UPDATE or DELETE (SQLite has no
# TRUNCATE; its "truncate optimisation" of DELETE without WHERE is disabled by a DELETE trigger).
# PostgreSQL: one trigger function refuses UPDATE, DELETE (row triggers) and TRUNCATE
# (statement trigger). Only someone who may drop triggers can tamper, and the hash chain then
# shows it.
_SQLITE_GUARDS = (
    """
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END
    """,
    """
    CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END
    """,
)

_POSTGRES_GUARDS = (
    """
    CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()
    """,
    """
    CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()
    """,
)


def _create_audit_guards() -> None:
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": _SQLITE_GUARDS, "postgresql": _POSTGRES_GUARDS}.get(dialect)
    if statements is None:
        raise RuntimeError(f"no append-only guard for the {dialect} database")
    for statement in statements:
        op.execute(statement)


def _drop_audit_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update_delete ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_refuse_change()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
