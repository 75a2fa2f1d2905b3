"""Pages anyone may read: the start page, the accessibility statement and cookies; and
``/health`` for load balancers and monitors (200 when the database answers, else 503)."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import text

from web.db import get_session
from web.i18n import COOKIE as LANGUAGE_COOKIE

bp = Blueprint("public", __name__)


@bp.get("/")
def start() -> str:
    return render_template("public/start.html")


@bp.get("/accessibility")
def accessibility() -> str:
    return render_template("public/accessibility.html")


@bp.get("/cookies")
def cookies() -> str:
    return render_template("public/cookies.html", language_cookie=LANGUAGE_COOKIE)


@bp.get("/health")
def health() -> dict[str, str]:
    get_session().execute(text("SELECT 1"))  # a lost database answers 503 (web.errors)
    return {"status": "ok"}
