"""Pages anyone may read: the start page, the accessibility statement and cookies."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("public", __name__)


@bp.get("/")
def start() -> str:
    return render_template("public/start.html")


@bp.get("/accessibility")
def accessibility() -> str:
    return render_template("public/accessibility.html")


@bp.get("/cookies")
def cookies() -> str:
    return render_template("public/cookies.html")
