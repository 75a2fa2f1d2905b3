"""Bind each sealed one-time code secret to its account.

Migration 0003 sealed ``users.totp_secret`` with AES-GCM under the TOTP key, bound to nothing,
so a sealed secret copied to another user's row opened there. Each one is now sealed again
with the user's id and its purpose as associated data (``models.keys.binding``: "gcm2:"
values). A secret the configured key cannot open is left as it is: it was unreadable before,
and the account's second factor is reset as for a lost key (``tapestry accounts reset
--second-factor``).

Revision ID: 0010_bound_totp_secrets
Revises: 0009_openreferral_sources
Create Date: 2026-12-03 15:30:00.000000
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from models.keys import (
    BOUND_PREFIX,
    SEALED_PREFIX,
    TOTP_SECRET_PURPOSE,
    SealedValueUnreadable,
    binding,
    seal,
    unseal,
)

revision: str = "0010_bound_totp_secrets"
down_revision: str | None = "0009_openreferral_sources"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_users = sa.table(
    "users", sa.column("id", sa.Integer()), sa.column("totp_secret", sa.String(length=255))
)


def _rewrite_secrets(change: Callable[[int, str], str]) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_users.c.id, _users.c.totp_secret).where(_users.c.totp_secret.is_not(None))
    ).all()
    for row in rows:
        try:
            new = change(row.id, row.totp_secret)
        except SealedValueUnreadable:
            continue  # unreadable with this key before, and still: reset like a lost key
        if new != row.totp_secret:
            connection.execute(
                sa.update(_users).where(_users.c.id == row.id).values(totp_secret=new)
            )


def _bind(user_id: int, stored: str) -> str:
    bound_to = binding(TOTP_SECRET_PURPOSE, user_id)
    if stored.startswith(BOUND_PREFIX):
        return stored
    plain = unseal(stored) if stored.startswith(SEALED_PREFIX) else stored
    return seal(plain, bound_to=bound_to)


def _unbind(user_id: int, stored: str) -> str:
    if not stored.startswith(BOUND_PREFIX):
        return stored
    return seal(unseal(stored, bound_to=binding(TOTP_SECRET_PURPOSE, user_id)))


def upgrade() -> None:
    _rewrite_secrets(_bind)


def downgrade() -> None:
    _rewrite_secrets(_unbind)
