"""Keys outside the database: made in the instance folder on first use, never stored in the
database; one-time code secrets are encrypted with one of them."""

from __future__ import annotations

import stat
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from models import make_engine, upgrade
from models.accounts import Role, User
from models.keys import (
    TOTP_SECRET_PURPOSE,
    KeyProblem,
    SealedValueUnreadable,
    binding,
    is_sealed,
    load_keys,
    seal,
    unseal,
)


def test_keys_are_made_in_the_folder_once_readable_by_the_owner_only(tmp_path: Path) -> None:
    first = load_keys(tmp_path)
    again = load_keys(tmp_path)

    assert first == again
    assert first.audit != first.totp and len(first.audit) == 32
    for name in ("audit_key", "totp_key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert load_keys(tmp_path / "other") != first


def test_settings_win_over_the_files_and_must_be_long_enough(tmp_path: Path) -> None:
    configured = load_keys(tmp_path, audit="a" * 32, totp="t" * 32)

    assert configured.audit != load_keys(tmp_path).audit
    assert not (tmp_path / "audit_key").read_text().startswith("a" * 32)
    with pytest.raises(KeyProblem, match="TAPESTRY_AUDIT_KEY must be at least 32 characters"):
        load_keys(tmp_path, audit="short")
    (tmp_path / "totp_key").write_text("too short\n")
    with pytest.raises(KeyProblem, match="totp_key must hold at least 32 characters"):
        load_keys(tmp_path)


def test_sealed_values_need_the_same_key(tmp_path: Path) -> None:
    keys = load_keys(tmp_path)
    sealed = seal("JBSWY3DPEHPK3PXP", keys)

    assert is_sealed(sealed) and "JBSWY3DPEHPK3PXP" not in sealed
    assert sealed != seal("JBSWY3DPEHPK3PXP", keys)  # a new nonce each time
    assert unseal(sealed, keys) == "JBSWY3DPEHPK3PXP"
    with pytest.raises(KeyProblem, match="cannot be decrypted with this TOTP key"):
        unseal(sealed, load_keys(tmp_path / "other"))


def test_the_database_holds_no_totp_secret(db_session: Session) -> None:
    secret = pyotp.random_base32()
    user = User(
        email="boss@example.org",
        display_name="Boss",
        role=Role.admin,
        password_hash="x",
        totp_secret=secret,
    )
    db_session.add(user)
    db_session.flush()
    db_session.expire_all()

    raw = db_session.execute(
        text("SELECT totp_secret FROM users WHERE id = :id"), {"id": user.id}
    ).scalar_one()
    assert secret not in raw and is_sealed(raw) and raw.startswith("gcm2:")
    assert db_session.scalars(select(User).where(User.id == user.id)).one().totp_secret == secret


def test_sealed_values_open_only_where_they_are_bound(tmp_path: Path) -> None:
    keys = load_keys(tmp_path)
    mine, theirs = binding(TOTP_SECRET_PURPOSE, 1), binding(TOTP_SECRET_PURPOSE, 2)
    sealed = seal("JBSWY3DPEHPK3PXP", keys, bound_to=mine)

    assert unseal(sealed, keys, bound_to=mine) == "JBSWY3DPEHPK3PXP"
    with pytest.raises(SealedValueUnreadable, match="sealed for another account"):
        unseal(sealed, keys, bound_to=theirs)
    with pytest.raises(SealedValueUnreadable):
        unseal(sealed, keys, bound_to=binding("another.column", 1))
    with pytest.raises(SealedValueUnreadable, match="not bound to its account"):
        unseal(seal("JBSWY3DPEHPK3PXP", keys), keys, bound_to=mine)


def _add_user(db_session: Session, email: str, secret: str) -> User:
    user = User(
        email=email, display_name=email, role=Role.admin, password_hash="x", totp_secret=secret
    )
    db_session.add(user)
    db_session.flush()
    return user


def test_a_secret_copied_to_another_account_does_not_open(db_session: Session) -> None:
    first = _add_user(db_session, "one@example.org", pyotp.random_base32())
    second = _add_user(db_session, "two@example.org", pyotp.random_base32())
    db_session.execute(
        text("UPDATE users SET totp_secret = (SELECT totp_secret FROM users WHERE id = :a) "
             "WHERE id = :b"),
        {"a": first.id, "b": second.id},
    )  # fmt: skip
    db_session.expire_all()

    assert first.totp_secret is not None
    with pytest.raises(SealedValueUnreadable, match="sealed for another account"):
        _ = second.totp_secret
    # Setting a new secret on an account that has its id seals it for that id at once.
    second.totp_secret = "JBSWY3DPEHPK3PXP"
    db_session.flush()
    db_session.expire_all()
    assert second.totp_secret == "JBSWY3DPEHPK3PXP"


def test_the_migration_encrypts_stored_secrets_and_the_downgrade_restores_them(
    empty_database_url: str,
) -> None:
    upgrade(empty_database_url, "0002_solver_run_analysis")
    engine = make_engine(empty_database_url)
    secret = pyotp.random_base32()
    read = text("SELECT totp_secret FROM users WHERE email = 'boss@example.org'")
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (email, display_name, role, password_hash, totp_secret, "
                    "is_active, password_changed_at, failed_login_count, created_at, updated_at) "
                    "VALUES ('boss@example.org', 'Boss', 'admin', 'x', :secret, true, "
                    "CURRENT_TIMESTAMP, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"secret": secret},
            )
        upgrade(empty_database_url)
        with engine.connect() as connection:
            sealed = connection.execute(read).scalar_one()
            user_id = connection.execute(text("SELECT id FROM users")).scalar_one()
        bound_to = binding(TOTP_SECRET_PURPOSE, user_id)
        assert is_sealed(sealed) and unseal(sealed, bound_to=bound_to) == secret

        from alembic import command

        from models.db import alembic_config

        command.downgrade(alembic_config(empty_database_url), "0002_solver_run_analysis")
        with engine.connect() as connection:
            assert connection.execute(read).scalar_one() == secret
    finally:
        engine.dispose()


def test_without_any_setting_the_process_refuses_to_guess_a_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from models import keys

    for setting in ("TAPESTRY_AUDIT_KEY", "TAPESTRY_TOTP_KEY", "TAPESTRY_INSTANCE_PATH"):
        monkeypatch.delenv(setting, raising=False)
    monkeypatch.setattr(keys, "_active", None)

    with pytest.raises(KeyProblem, match="no keys are configured"):
        keys.active_keys()


def test_the_binding_migration_binds_each_secret_to_its_account(empty_database_url: str) -> None:
    upgrade(empty_database_url, "0009_openreferral_sources")
    engine = make_engine(empty_database_url)
    secrets = {"one@example.org": pyotp.random_base32(), "two@example.org": pyotp.random_base32()}
    stale = seal(pyotp.random_base32(), load_keys("/nonexistent", audit="a" * 32, totp="b" * 32))
    rows = text("SELECT id, email, totp_secret FROM users ORDER BY id")
    try:
        with engine.begin() as connection:
            for email, secret in [*secrets.items(), ("lost@example.org", None)]:
                connection.execute(
                    text(
                        "INSERT INTO users (email, display_name, role, password_hash, "
                        "totp_secret, is_active, password_changed_at, failed_login_count, "
                        "must_change_password, created_at, updated_at) VALUES (:email, 'X', "
                        "'admin', 'x', :sealed, true, CURRENT_TIMESTAMP, 0, false, "
                        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"email": email, "sealed": stale if secret is None else seal(secret)},
                )
        upgrade(empty_database_url)
        with engine.connect() as connection:
            stored = connection.execute(rows).all()
        for user_id, email, sealed in stored[:2]:
            assert sealed.startswith("gcm2:")
            bound_to = binding(TOTP_SECRET_PURPOSE, user_id)
            assert unseal(sealed, bound_to=bound_to) == secrets[email]
        assert stored[2].totp_secret == stale  # unreadable before, left for a reset
        with pytest.raises(SealedValueUnreadable):
            unseal(stored[0].totp_secret, bound_to=binding(TOTP_SECRET_PURPOSE, stored[1].id))

        from alembic import command

        from models.db import alembic_config

        command.downgrade(alembic_config(empty_database_url), "0009_openreferral_sources")
        with engine.connect() as connection:
            back = connection.execute(rows).all()
        assert [unseal(row.totp_secret) for row in back[:2]] == list(secrets.values())
    finally:
        engine.dispose()
