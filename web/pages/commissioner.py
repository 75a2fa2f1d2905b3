"""Council commissioners: rounds, budgets, allocation runs and results.

Every view here is for signed-in commissioners only (checked once, by `guard_blueprint`).
"""

from __future__ import annotations

from flask import Blueprint, render_template

from web.auth import Role, guard_blueprint

bp = Blueprint("commissioner", __name__, url_prefix="/commissioner")
guard_blueprint(bp, Role.commissioner)


@bp.get("/")
def dashboard() -> str:
    return render_template("commissioner/dashboard.html")
