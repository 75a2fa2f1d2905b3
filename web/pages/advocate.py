"""Advocates: consent requests, caseload, and acting for a person within the scopes granted.

Every view here is for signed-in advocates only (checked once, by `guard_blueprint`).
"""

from __future__ import annotations

from flask import Blueprint, render_template

from web.auth import Role, guard_blueprint

bp = Blueprint("advocate", __name__, url_prefix="/advocate")
guard_blueprint(bp, Role.advocate)


@bp.get("/")
def dashboard() -> str:
    return render_template("advocate/dashboard.html")
