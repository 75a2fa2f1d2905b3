"""Advocates: consent requests, caseload, and acting for a person within the scopes granted.

Every view here is for signed-in advocates only (checked once, by `guard_blueprint`).

Acting for someone is session state: "Act for" stores the person's profile id in the signed
session cookie. The person's own pages (``web.pages.person.person_pages``) are mounted again
under ``/advocate/acting`` as ``acting_bp``, every one with the "You are acting for ..." banner
and a way to stop. The consent is read afresh on every request, and the services check the
scope of each action (``web.services.acting.authorise``): view to see, draft to change About
me and the choices, submit to say yes or no to a place. When the person revokes the consent,
the advocate's next request goes to their caseload, told "This person no longer lets you help
them", and the acting state is cleared.
During an acting request ``g.acting_consent`` holds the live consent (``web.audit`` reads it to
record which person's needs were shown).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from models.accounts import User
from models.people import Consent, PersonProfile
from web.auth import Role, current_account, guard_blueprint
from web.db import get_session
from web.pages.person import person_pages
from web.services import consents
from web.services.errors import InvalidInput, NotFound, TooManyRequests
from web.services.words import N_, _

bp = Blueprint("advocate", __name__, url_prefix="/advocate")
guard_blueprint(bp, Role.advocate)

ACTING_KEY = "acting_for_person_id"
NO_LONGER_HELPING = N_("This person no longer lets you help them.")
SCOPE_OPTIONS = [(scope, consents.SCOPE_LABELS_FOR_ADVOCATE[scope]) for scope in consents.SCOPES]


def _me() -> User:
    user = current_account()
    assert user is not None  # guard_blueprint let only signed-in advocates through
    return user


@bp.context_processor
def _advocate_context() -> dict[str, Any]:
    return {"scope_labels": consents.SCOPE_LABELS_FOR_ADVOCATE, "nav_items": _nav()}


def _nav() -> list[dict[str, Any]]:
    endpoint = request.endpoint or ""
    items = [
        (N_("Your caseload"), "advocate.dashboard"),
        (N_("Ask to help someone"), "advocate.ask"),
    ]
    return [
        {"href": url_for(name), "text": _(text), "active": endpoint == name} for text, name in items
    ]


# -- caseload and consent requests -----------------------------------------------------------


@bp.get("/")
def dashboard() -> str:
    load = consents.caseload(get_session(), _me())
    return render_template(
        "advocate/dashboard.html",
        caseload=load,
        acting_person_id=session.get(ACTING_KEY),
        reference=consents.person_reference,
    )


@bp.route("/ask", methods=["GET", "POST"])
def ask() -> tuple[str, int] | Response:
    values: dict[str, Any] = {"scopes": ["view"]}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        values = {
            "who": request.form.get("who", ""),
            "scopes": request.form.getlist("scopes"),
            "note": request.form.get("note", ""),
        }
        db = get_session()
        try:
            consents.request_consent(
                db, _me(), who=values["who"], scopes=values["scopes"], note=values["note"]
            )
        except InvalidInput as error:
            errors = error.errors
        except TooManyRequests as error:
            errors = {"who": error.message}
            status = 429
        else:
            db.commit()
            flash(_(consents.ASKED_MESSAGE), "success")
            return redirect(url_for("advocate.dashboard"))
    page = render_template(
        "advocate/ask.html",
        values=values,
        errors=errors,
        page_has_errors=bool(errors),
        scope_options=[(scope, _(label)) for scope, label in SCOPE_OPTIONS],
    )
    return page, status


@bp.post("/act/<int:person_id>")
def start_acting(person_id: int) -> Response:
    try:
        consent = consents.consent_to_act(get_session(), _me(), person_id)
    except NotFound:
        abort(404)
    session[ACTING_KEY] = consent.person_id
    return redirect(url_for("advocate_acting.dashboard"))


@bp.post("/act/stop")
def stop_acting() -> Response:
    session.pop(ACTING_KEY, None)
    flash(_("You have stopped acting for someone."), "info")
    return redirect(url_for("advocate.dashboard"))


# -- acting for a person ----------------------------------------------------------------------


def _load_acting() -> tuple[User, PersonProfile]:
    """The person pages' loader for the mounted copy: the advocate and the person they act for."""
    return _me(), g.acting_consent.person


# The person's own pages, mounted again under /advocate/acting for the person chosen above.
acting_bp = person_pages("advocate_acting", "/advocate/acting", _load_acting)
guard_blueprint(acting_bp, Role.advocate)


@acting_bp.before_request
def _check_consent() -> Response | None:
    """Find the live consent on every request, or refuse: revocation works at once."""
    person_id = session.get(ACTING_KEY)
    if person_id is None:
        flash(_("Choose who you are helping first."), "info")
        return redirect(url_for("advocate.dashboard"))
    try:
        g.acting_consent = consents.consent_to_act(get_session(), _me(), int(person_id))
    except NotFound:
        # Not the generic 403: say what happened, on a page the advocate can use.
        session.pop(ACTING_KEY, None)
        flash(_(NO_LONGER_HELPING), "info")
        return redirect(url_for("advocate.dashboard"))
    return None


@acting_bp.context_processor
def _acting_context() -> dict[str, Any]:
    consent: Consent | None = g.get("acting_consent")
    return {
        "acting_for": consent.person.display_name if consent else None,
        "acting_stop_url": url_for("advocate.stop_acting"),
    }
