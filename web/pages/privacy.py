"""A person's own data ("Download my data") and the administrator's erasure pages.

``my_data_bp`` (``/person/my-data``: the JSON download, and a readable copy as a page and as a
printable document) is for signed-in persons; ``erasure_bp``
(``/admin/erasure``) for signed-in administrators. Both call ``web.services.privacy``.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from models.accounts import User
from models.privacy import ErasureRecord
from web import easy_read
from web.auth import Role, current_account, guard_blueprint
from web.db import get_session
from web.services import privacy, readable_data
from web.services.errors import InvalidInput

my_data_bp = Blueprint("my_data", __name__, url_prefix="/person/my-data")
guard_blueprint(my_data_bp, Role.person)

erasure_bp = Blueprint("erasure", __name__, url_prefix="/admin/erasure")
guard_blueprint(erasure_bp, Role.admin)


def _me() -> User:
    user = current_account()
    assert user is not None  # the blueprint's guard let only signed-in users through
    return user


def export_response(user: User) -> Response:
    """The user's export as a JSON file to download (``web.audit`` records the read)."""
    data = privacy.export_person(get_session(), user)
    body = json.dumps(data, ensure_ascii=False, indent=2)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="tapestry-my-data-{user.id}.json"'
    )
    return response


@my_data_bp.get("/")
def my_data() -> str:
    return render_template(easy_read.templates("person/my_data.html", _me().person_profile))


@my_data_bp.get("/read")
def read() -> str:
    """The same data as the download, in plain English (``web.audit`` records the read)."""
    return render_template("person/my_data_read.html", copy=_copy())


@my_data_bp.get("/print")
def printable() -> str:
    """The readable copy as one plain document that prints well (or saves as a PDF)."""
    return render_template("person/my_data_print.html", copy=_copy())


def _copy() -> readable_data.ReadableCopy:
    return readable_data.readable_copy(get_session(), _me())


@my_data_bp.get("/download")
def download() -> Response:
    return export_response(_me())


@erasure_bp.get("/")
def people() -> str:
    search = request.args.get("q", "")
    found = privacy.persons_for_erasure(get_session(), search)
    return render_template("admin/erasure_list.html", people=found, search=search)


@erasure_bp.route("/<int:user_id>", methods=["GET", "POST"])
def erase(user_id: int) -> str | Response | tuple[str, int]:
    db = get_session()
    person = db.get(User, user_id)
    if person is None or person.role != Role.person:
        abort(404)
    errors: dict[str, str] = {}
    reason = ""
    if request.method == "POST":
        reason = request.form.get("reason", "")
        try:
            privacy.erase_person(db, _me(), person, reason=reason, request_id=g.get("request_id"))
        except InvalidInput as invalid:
            db.rollback()
            errors = invalid.errors
        else:
            db.commit()
            flash(f"We have erased the data of person {user_id}.", "success")
            return redirect(url_for("erasure.people"))
    records = list(
        db.scalars(select(ErasureRecord).where(ErasureRecord.subject_user_id == user_id))
    )
    html = render_template(
        "admin/erase.html",
        person=person,
        reason=reason,
        errors=errors,
        page_has_errors=bool(errors),
        records=records,
        kept=privacy.KEPT_ON_ERASURE,
    )
    return (html, 400) if errors else html
