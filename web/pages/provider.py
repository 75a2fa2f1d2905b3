"""Providers: organisation profile, offers, capacity, demand, placements and feedback.

Every view here is for signed-in providers only (checked once, by `guard_blueprint`).
"""

from __future__ import annotations

from flask import Blueprint, render_template

from web.auth import Role, guard_blueprint

bp = Blueprint("provider", __name__, url_prefix="/provider")
guard_blueprint(bp, Role.provider)


@bp.get("/")
def dashboard() -> str:
    return render_template("provider/dashboard.html")
