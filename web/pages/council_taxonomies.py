"""The council's own service types (Open Referral UK taxonomies) on a page, for commissioners.

The page lists each taxonomy the council publishes in its Open Referral feed, with its terms as
a tree and how many services each tags, and takes a taxonomy file to publish a new one or
replace one (``web.services.openreferral_taxonomies.load_taxonomies``, which
``tapestry openreferral taxonomy`` calls too). A file with problems changes nothing: the page
comes back with each problem, and where in the file it is, beside the file field. A file that
loads redirects to the list with what changed.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from models.accounts import Council, User
from web.auth import Role, current_account, guard_blueprint
from web.db import get_session
from web.services.errors import InvalidInput
from web.services.openreferral_import import SourceProblem, UnstorableText, parse_json
from web.services.openreferral_taxonomies import (
    council_taxonomies,
    load_taxonomies,
    problem_place,
)
from web.services.words import count

bp = Blueprint("council_taxonomies", __name__, url_prefix="/commissioner/taxonomies")
guard_blueprint(bp, Role.commissioner)

#: At most this many problems are listed; the rest are counted.
SHOWN_PROBLEMS = 20


def _council() -> tuple[User, Council]:
    user = current_account()
    assert user is not None  # the blueprint's guard let only signed-in commissioners through
    council = get_session().get(Council, user.council_id) if user.council_id else None
    if council is None:
        abort(404)
    return user, council


def _read_file() -> tuple[Any, dict[str, str]]:
    """The JSON document of the file posted, or the error for the ``file`` field."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return None, {"file": "Choose a taxonomy file to publish"}
    try:
        return parse_json(upload.read(), upload.filename), {}
    except UnstorableText as problem:
        text = problem.problems[0].removeprefix(f"{upload.filename}: ")
        return None, {"file": text[0].upper() + text[1:]}
    except SourceProblem:
        return None, {"file": "The file is not JSON. Choose an Open Referral taxonomy file"}


def _page(errors: dict[str, str], problems: list[str], status: int) -> Any:
    _, council = _council()
    return (
        render_template(
            "commissioner/taxonomies.html",
            council=council,
            taxonomies=council_taxonomies(get_session(), council),
            errors=errors,
            problems=problems,
            page_has_errors=bool(errors),
        ),
        status,
    )


@bp.get("")
def index() -> Any:
    return _page({}, [], 200)


@bp.post("")
def publish() -> Any:
    user, council = _council()
    document, errors = _read_file()
    if errors:
        return _page(errors, [], 400)
    session = get_session()
    try:
        changes = load_taxonomies(
            session, council, document, actor_user_id=user.id, request_id=g.get("request_id")
        )
    except InvalidInput as problem:
        session.rollback()
        found = [f"{problem_place(field)}: {message}." for field, message in problem.errors.items()]
        shown = found[:SHOWN_PROBLEMS]
        if len(found) > len(shown):
            shown.append(f"And {count(len(found) - len(shown), 'problem')} more.")
        summary = f"The file has {count(len(found), 'problem')}, so nothing changed"
        return _page({"file": summary}, shown, 400)
    session.commit()
    for change in changes:
        flash(change.sentence(), "success")
    return redirect(url_for(".index"), 303)
