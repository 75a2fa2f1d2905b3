"""People who use services: about me, offers matched for them, choices, places and feedback.

Every view here is for signed-in persons only (checked once, by `guard_blueprint`).
"""

from __future__ import annotations

from flask import Blueprint, render_template

from web.auth import Role, guard_blueprint

bp = Blueprint("person", __name__, url_prefix="/person")
guard_blueprint(bp, Role.person)


@bp.get("/")
def dashboard() -> str:
    return render_template("person/dashboard.html")
