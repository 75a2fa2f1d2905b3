"""Keys outside the database: keyed audit hashes and encrypted one-time code secrets.

Audit events get ``hash_scheme`` (1: the plain SHA-256 of every event written so far, which
keep verifying as they are; 2: HMAC-SHA256 under the audit key, for every new event) and
``key_id``. The audit trail is append-only, so old events are never rewritten: columns are
added in place (no table copy, which would lose its triggers).

``users.totp_secret`` grows to hold the sealed form and every stored secret is encrypted with
the TOTP key (``models.keys``: the setting or the instance folder's ``totp_key`` file).

Revision ID: 0003_keys_outside_database
Revises: 0002_solver_run_analysis
Create Date: 2026-12-03 12:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.keys import is_sealed, seal, unseal

revision: str = "0003_keys_outside_database"
down_revision: str | None = "0002_solver_run_analysis"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_users = sa.table(
    "users", sa.column("id", sa.Integer()), sa.column("totp_secret", sa.String(length=255))
)


def _rewrite_secrets(change) -> None:  # type: ignore[no-untyped-def]
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_users.c.id, _users.c.totp_secret).where(_users.c.totp_secret.is_not(None))
    ).all()
    for row in rows:
        new = change(row.totp_secret)
        if new != row.totp_secret:
            connection.execute(
                sa.update(_users).where(_users.c.id == row.id).values(totp_secret=new)
            )


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN on both databases: it fires no row triggers.
    op.add_column(
        "audit_events",
        sa.Column("hash_scheme", sa.Integer(), server_default="1", nullable=False),
    )
    op.add_column("audit_events", sa.Column("key_id", sa.String(length=16), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.alter_column(
            "totp_secret",
            existing_type=sa.String(length=64),
            type_=sa.String(length=255),
            existing_nullable=True,
        )
    _rewrite_secrets(lambda value: value if is_sealed(value) else seal(value))


def downgrade() -> None:
    _rewrite_secrets(lambda value: unseal(value) if is_sealed(value) else value)
    with op.batch_alter_table("users") as batch:
        batch.alter_column(
            "totp_secret",
            existing_type=sa.String(length=255),
            type_=sa.String(length=64),
            existing_nullable=True,
        )
    # Native DROP COLUMN (SQLite 3.35+, PostgreSQL): the table and its triggers stay.
    op.execute("ALTER TABLE audit_events DROP COLUMN key_id")
    op.execute("ALTER TABLE audit_events DROP COLUMN hash_scheme")
