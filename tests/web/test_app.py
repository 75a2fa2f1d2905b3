"""The app factory: configuration layers, the instance folder, schema upgrades."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import inspect

from models.db import make_engine
from web import create_app
from web.db import database


def test_settings_come_from_defaults_then_environment_then_overrides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setenv("TAPESTRY_SESSION_IDLE_MINUTES", "7")
    monkeypatch.setenv("TAPESTRY_LOGIN_LIMIT_PER_ACCOUNT", "9")
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "AUTO_UPGRADE_DB": False,
            "LOGIN_LIMIT_PER_ACCOUNT": 3,
        }
    )
    assert app.config["SESSION_IDLE_MINUTES"] == 7  # environment, parsed as JSON
    assert app.config["LOGIN_LIMIT_PER_ACCOUNT"] == 3  # overrides win
    assert app.config["SESSION_ABSOLUTE_HOURS"] == 12  # default
    assert app.config["SESSION_COOKIE_SECURE"] is True  # not debug, not testing
    database(app).engine.dispose()


def test_a_new_database_is_created_and_upgraded_in_the_instance_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.delenv("TAPESTRY_DATABASE_URL", raising=False)
    monkeypatch.delenv("TAPESTRY_SECRET_KEY", raising=False)
    instance = tmp_path / "instance"
    app = create_app({"INSTANCE_PATH": str(instance)})
    database_file = instance / "tapestry.sqlite"
    assert app.config["DATABASE_URL"] == f"sqlite:///{database_file.resolve()}"
    engine = make_engine(app.config["DATABASE_URL"])
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"users", "user_sessions", "login_throttles", "alembic_version"} <= tables
    assert app.test_client().get("/").status_code == 200

    # The secret key is made once, kept private, and shared by every worker and restart.
    key_file = instance / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = create_app({"INSTANCE_PATH": str(instance)})
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"] == key_file.read_text()
    database(app).engine.dispose()
    database(again).engine.dispose()


def test_behind_a_trusted_proxy_the_clients_address_is_used(make_app):
    from flask import request

    app = make_app(TRUSTED_PROXIES=1)

    @app.get("/test-address")
    def address() -> str:
        return request.remote_addr or ""

    response = app.test_client().get("/test-address", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.get_data(as_text=True) == "203.0.113.9"
