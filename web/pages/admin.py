"""Administrators: accounts, councils and the audit trail.

Every view here is for signed-in admins only (checked once, by `guard_blueprint`).
"""

from __future__ import annotations

from flask import Blueprint, render_template

from web.auth import Role, guard_blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
guard_blueprint(bp, Role.admin)


@bp.get("/")
def dashboard() -> str:
    return render_template("admin/dashboard.html")
