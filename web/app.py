"""The Tapestry web app factory: ``create_app(overrides=None)`` (also importable from ``web``).

Configuration is read in three layers, each overriding the one before:

1. the defaults in ``DEFAULTS`` below;
2. environment variables prefixed ``TAPESTRY_`` (``TAPESTRY_DATABASE_URL``,
   ``TAPESTRY_SECRET_KEY``, ``TAPESTRY_SESSION_IDLE_MINUTES=15``, ...; values are parsed as
   JSON when they can be, so numbers and ``true``/``false`` work);
3. ``overrides`` (tests, the demo).

Settings others may rely on:

==========================  ================================================================
``INSTANCE_PATH``           the instance folder (default: Flask's, ``./instance``)
``DATABASE_URL``            default ``sqlite:///<instance folder>/tapestry.sqlite``
``AUTO_UPGRADE_DB``         run Alembic migrations at start-up when behind (default true)
``SECRET_KEY``              default: a random key kept in ``<instance>/secret_key``
``AUDIT_KEY``               the audit chain's HMAC key (text, 32+ characters); default: a
                            random key kept in ``<instance>/audit_key`` (``models.keys``)
``AUDIT_RETIRED_KEYS``      audit keys retired by a rotation (one text, or a JSON list): they
                            verify older events only (also ``<instance>/audit_keys_retired``)
``TOTP_KEY``                encrypts one-time code secrets; default ``<instance>/totp_key``
``SESSION_IDLE_MINUTES``    a session ends after this long unused (30)
``SESSION_ABSOLUTE_HOURS``  a session ends this long after sign-in (12)
``SESSION_COOKIE_SECURE``   ``Secure`` cookie flag; default on unless debug or testing
``LOGIN_LIMIT_PER_ACCOUNT`` free sign-in tries per email or browser before delays (5)
``LOGIN_LIMIT_PER_ADDRESS`` free sign-in tries per IP address before delays (30)
``LOGIN_WINDOW_MINUTES``    a throttle key idle this long starts again (15)
``MAX_CONTENT_LENGTH``      largest request body in bytes (1 MiB; 413 above it)
``FORM_TOKENS_REQUIRED``    refuse a page form posted without its one-time token (true)
``PAGE_POSTS_REDIRECT``     answer every page post with a redirect (true; ``web.submissions``)
``TRUSTED_PROXIES``         proxies in front of the app (0); set it so sign-in limits per
                            address see the client's address from ``X-Forwarded-For``
==========================  ================================================================

Serving with gunicorn: ``gunicorn 'web.wsgi:app'`` (``web/wsgi.py``).

Where things are: pages per actor in ``web/pages/<actor>.py`` (blueprints named after the
actor, each guarded by ``web.auth.guard_blueprint``), the JSON API in ``web/api/``, errors in
``web/errors.py``, security headers and CSRF in ``web/security.py``, the request's database
session from ``web.db.get_session()``.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from flask import Flask, send_from_directory
from jinja2 import BytecodeCache, ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader
from jinja2.bccache import Bucket

from models.db import default_database_url
from models.keys import Keys, load_keys, use_keys

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "AUTO_UPGRADE_DB": True,
    "SERVICE_NAME": "Tapestry",
    "SESSION_IDLE_MINUTES": 30,
    "SESSION_ABSOLUTE_HOURS": 12,
    "LOGIN_LIMIT_PER_ACCOUNT": 5,
    "LOGIN_LIMIT_PER_ADDRESS": 30,
    "LOGIN_WINDOW_MINUTES": 15,
    "AUTH_COOKIE_NAME": "tapestry_session",
    # Flask's own signed cookie holds only the CSRF secret, messages shown once, and nothing
    # that identifies anyone; who is signed in lives in the server-side session table.
    "SESSION_COOKIE_NAME": "tapestry_state",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": None,  # None: decided from debug/testing in create_app
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "MAX_FORM_MEMORY_SIZE": 512 * 1024,
    "WTF_CSRF_CHECK_DEFAULT": False,  # web.security checks every unsafe request itself
    "WTF_CSRF_TIME_LIMIT": 3600 * 12,
    "HSTS_MAX_AGE": 31536000,
    "TRUSTED_PROXIES": 0,
    "API_TITLE": "Tapestry API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
}

_WEB_DIR = Path(__file__).resolve().parent


class _CompiledTemplates(BytecodeCache):
    """Compiled templates kept in memory and shared by every app made in this process.

    Each Flask app has its own Jinja environment, which would otherwise parse and compile
    every template again; the test suite makes an app per test, where that was a third of
    the time. Jinja checks each template's source against the checksum stored with its
    code, so an edited template is compiled afresh. Every app sets the same Jinja options
    (``_configure_templates``), so code compiled for one is right for all.
    """

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        code = bucket.bytecode_to_string()
        with self._lock:
            self._code[bucket.key] = code

    def clear(self) -> None:
        with self._lock:
            self._code.clear()


_COMPILED_TEMPLATES = _CompiledTemplates()


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app: config, database, accounts, security, errors, pages and API."""
    app = site_settings(overrides)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key(Path(app.instance_path))
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = not (app.debug or app.testing)
    # The keys kept outside the database, before any migration or audit event needs them.
    use_keys(site_keys(app))

    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep {code, status, ...} order
    _configure_templates(app)
    proxies = int(app.config["TRUSTED_PROXIES"] or 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )

    from web import audit, auth, db, errors, i18n, security, submissions

    db.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    i18n.init_app(app)
    audit.init_app(app)
    errors.init_app(app)
    submissions.init_app(app)
    _register_blueprints(app)
    return app


def site_settings(overrides: dict[str, Any] | None = None) -> Flask:
    """An app holding only the site's settings (defaults, ``TAPESTRY_*``, ``overrides``), its
    instance folder and its database URL, found without making or writing anything: the
    command line reads it to check the database before anything is made (``create_app``
    goes on to make the instance folder and its keys)."""
    app = Flask("web", instance_relative_config=True)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("TAPESTRY")
    if overrides:
        app.config.update(overrides)
    if app.config.get("INSTANCE_PATH"):
        app.instance_path = str(app.config["INSTANCE_PATH"])
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = default_database_url(app.instance_path)
    return app


def site_keys(app: Flask, *, make: bool = True) -> Keys:
    """The audit and TOTP keys of the site: its settings, else its instance folder's files
    (made there on first use, unless ``make`` is false: then a missing one is a KeyProblem)."""
    # Settings from the environment are parsed as JSON, so a key of digits may be a number.
    audit, totp = app.config.get("AUDIT_KEY"), app.config.get("TOTP_KEY")
    retired = app.config.get("AUDIT_RETIRED_KEYS")  # one text, or a list of them
    return load_keys(
        app.instance_path,
        audit=None if audit is None else str(audit),
        totp=None if totp is None else str(totp),
        retired_audit=retired if retired is None or isinstance(retired, list) else str(retired),
        make=make,
    )


def _instance_secret_key(instance: Path) -> str:
    """A random key kept in the instance folder, so every worker and restart shares it."""
    path = instance / "secret_key"
    if not path.exists():
        key = secrets.token_hex(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker wrote it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(key)
    return path.read_text().strip()


def _configure_templates(app: Flask) -> None:
    app.jinja_loader = ChoiceLoader(  # type: ignore[assignment]
        [
            FileSystemLoader(str(_WEB_DIR / "templates")),
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.bytecode_cache = _COMPILED_TEMPLATES

    from govuk_frontend_wtf.main import WTFormsHelpers

    WTFormsHelpers(app)

    # GOV.UK Frontend's stylesheet asks for its fonts and images under /assets.
    assets = _WEB_DIR / "static" / "govuk" / "assets"
    if not (_WEB_DIR / "static" / "govuk" / "govuk-frontend.min.css").exists():
        log.warning(
            "GOV.UK Frontend is not installed; pages will be unstyled: run ./scripts/assets"
        )

    @app.route("/assets/<path:filename>", endpoint="govuk_assets")
    def govuk_assets(filename: str):  # type: ignore[no-untyped-def]
        return send_from_directory(assets, filename, max_age=86400)


def _register_blueprints(app: Flask) -> None:
    from web.api import init_app as init_api
    from web.api.openreferral.routes import init_app as init_openreferral
    from web.pages import (
        account,
        admin,
        advocate,
        commissioner,
        council_taxonomies,
        directory_import,
        market,
        person,
        person_consents,
        privacy,
        provider,
        public,
    )

    for module in (
        public,
        market,
        account,
        person,
        person_consents,
        advocate,
        provider,
        commissioner,
        council_taxonomies,
        admin,
    ):
        app.register_blueprint(module.bp)
    # The person's pages again, for an advocate acting for them (see web.pages.advocate).
    app.register_blueprint(advocate.acting_bp)
    # Download my data (persons) and erasure (admins).
    app.register_blueprint(privacy.my_data_bp)
    app.register_blueprint(privacy.erasure_bp)
    init_api(app)
    # The public Open Referral UK feed of each council's published offers.
    init_openreferral(app)
    # Bringing in services from another Open Referral directory (commissioners, providers).
    directory_import.init_app(app)
