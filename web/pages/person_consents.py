"""A person's side of advocacy: "Who can help me" (answer requests, stop someone helping) and
"Changes made for you" (everything done for them by someone acting for them).

For signed-in persons only (checked once, by `guard_blueprint`). Kept apart from
``web/pages/person.py`` so the person journey and the advocate journey can change separately;
the URLs live under ``/person`` all the same.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from models.accounts import User
from models.people import PersonProfile
from web import easy_read
from web.auth import Role, current_account, guard_blueprint
from web.db import get_session
from web.services import consents
from web.services.errors import Conflict, InvalidInput, NotFound
from web.services.words import _

bp = Blueprint("person_consents", __name__, url_prefix="/person")
guard_blueprint(bp, Role.person)


def _me() -> tuple[User, PersonProfile]:
    user = current_account()
    assert user is not None  # guard_blueprint let only signed-in persons through
    if user.person_profile is None:
        abort(404)
    return user, user.person_profile


@bp.get("/who-can-help-me")
def who_can_help() -> str:
    user, person = _me()
    view = consents.consents_for_person(get_session(), user, person)
    return render_template(
        easy_read.templates("person/who_can_help.html", person),
        view=view,
        scope_labels=consents.SCOPE_LABELS,
        scopes=consents.SCOPES,
    )


@bp.get("/who-can-help-me/<int:consent_id>")
def confirm_stop(consent_id: int) -> str:
    """Ask "Are you sure?" before stopping someone helping: it cannot be undone from here."""
    user, person = _me()
    view = consents.consents_for_person(get_session(), user, person)
    consent = next((c for c in view.granted if c.id == consent_id), None)
    if consent is None:
        abort(404)
    return render_template("person/confirm_stop_helper.html", consent=consent)


@bp.post("/who-can-help-me/<int:consent_id>")
def answer(consent_id: int) -> Response:
    db = get_session()
    user, person = _me()
    decision = request.form.get("decision")
    try:
        if decision == "grant":
            scopes = request.form.getlist("scopes")
            consent = consents.grant_consent(db, user, person, consent_id, scopes=scopes)
            message = _("%(name)s can now help you.", name=consent.advocate.display_name)
        elif decision == "refuse":
            consent = consents.refuse_consent(db, user, person, consent_id)
            message = _("You said no to %(name)s.", name=consent.advocate.display_name)
        elif decision == "revoke":
            consent = consents.revoke_consent(db, user, person, consent_id)
            message = _("%(name)s cannot help you any more.", name=consent.advocate.display_name)
        else:
            abort(400)
    except NotFound:
        abort(404)
    except (Conflict, InvalidInput) as error:
        db.rollback()
        flash(error.message, "info")
        return redirect(url_for("person_consents.who_can_help"))
    db.commit()
    flash(message, "success")
    return redirect(url_for("person_consents.who_can_help"))


@bp.get("/changes-made-for-you")
def changes() -> str:
    user, person = _me()
    db = get_session()
    return render_template(
        "person/changes_made_for_you.html",
        changes=consents.changes_made_for(db, user, person),
        reads=consents.reads_for(db, user, person),
    )
