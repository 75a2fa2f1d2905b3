"""Advocates: consent requests, caseload, and acting for a person within the scopes granted.

Every view here is for signed-in advocates only (checked once, by `guard_blueprint`).

Acting for someone is session state: "Act for" stores the person's profile id in the signed
session cookie, and every page under ``/advocate/acting`` shows the "You are acting for ..."
banner. The consent is read afresh on every request, and the services check the scope of each
action (``web.services.acting.authorise``): when the person revokes it, the advocate's next
request is refused (403) and the acting state is cleared.
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
from models.people import DAYS, TIMES_OF_DAY, Consent, PersonProfile
from web.auth import Role, current_account, guard_blueprint
from web.db import get_session
from web.services import allocations, catalogue, choices, consents, profiles
from web.services.errors import Conflict, InvalidInput, NotAllowed, NotFound, ServiceError
from web.services.matching import DAY_NAMES, format_money

bp = Blueprint("advocate", __name__, url_prefix="/advocate")
guard_blueprint(bp, Role.advocate)

ACTING_KEY = "acting_for_person_id"
SCOPE_OPTIONS = [(scope, consents.SCOPE_LABELS[scope]) for scope in consents.SCOPES]


def _me() -> User:
    user = current_account()
    assert user is not None  # guard_blueprint let only signed-in advocates through
    return user


@bp.context_processor
def _acting_banner() -> dict[str, Any]:
    consent: Consent | None = g.get("acting_consent")
    return {
        "acting_for": consent.person.display_name if consent else None,
        "acting_consent": consent,
        "format_money": format_money,
        "scope_labels": consents.SCOPE_LABELS,
        "category_labels": catalogue.CATEGORY_LABELS,
        "nav_items": _nav(),
    }


def _nav() -> list[dict[str, Any]]:
    endpoint = request.endpoint or ""
    items = [
        ("Your caseload", "advocate.dashboard"),
        ("Ask to help someone", "advocate.ask"),
    ]
    return [
        {"href": url_for(name), "text": text, "active": endpoint == name} for text, name in items
    ]


@bp.before_request
def _load_acting_for() -> Response | None:
    """On acting pages, find the live consent or refuse the request."""
    if not (request.endpoint or "").startswith("advocate.acting_"):
        return None
    person_id = session.get(ACTING_KEY)
    if person_id is None:
        flash("Choose who you are helping first.", "info")
        return redirect(url_for("advocate.dashboard"))
    try:
        g.acting_consent = consents.consent_to_act(get_session(), _me(), int(person_id))
    except NotFound:
        session.pop(ACTING_KEY, None)
        abort(403, description="This person no longer lets you help them.")
    return None


def _person() -> PersonProfile:
    return g.acting_consent.person  # type: ignore[no-any-return]


def _refuse(error: ServiceError) -> Response:
    """Answer a service refusal: 404 for what the advocate may not know of, 403 for scopes."""
    if isinstance(error, NotFound):
        abort(404)
    if isinstance(error, NotAllowed):
        abort(403, description=error.message)
    flash(error.message, "info")
    return redirect(request.referrer or url_for("advocate.acting_home"))


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
def ask() -> str | Response:
    values: dict[str, Any] = {"scopes": ["view"]}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {
            "who": request.form.get("who", ""),
            "scopes": request.form.getlist("scopes"),
            "note": request.form.get("note", ""),
        }
        db = get_session()
        try:
            consent = consents.request_consent(
                db, _me(), who=values["who"], scopes=values["scopes"], note=values["note"]
            )
        except InvalidInput as error:
            errors = error.errors
        else:
            db.commit()
            flash(
                f"We have asked {consent.person.display_name}. You can help them once they "
                "say yes.",
                "success",
            )
            return redirect(url_for("advocate.dashboard"))
    return render_template(
        "advocate/ask.html",
        values=values,
        errors=errors,
        page_has_errors=bool(errors),
        scope_options=SCOPE_OPTIONS,
    )


@bp.post("/act/<int:person_id>")
def start_acting(person_id: int) -> Response:
    try:
        consent = consents.consent_to_act(get_session(), _me(), person_id)
    except NotFound:
        abort(404)
    session[ACTING_KEY] = consent.person_id
    return redirect(url_for("advocate.acting_home"))


@bp.post("/act/stop")
def stop_acting() -> Response:
    session.pop(ACTING_KEY, None)
    flash("You have stopped acting for someone.", "info")
    return redirect(url_for("advocate.dashboard"))


# -- acting for a person ----------------------------------------------------------------------


@bp.get("/acting/")
def acting_home() -> str:
    return render_template("advocate/acting/home.html", person=_person())


@bp.route("/acting/about-me", methods=["GET", "POST"])
def acting_about_me() -> str | Response:
    db = get_session()
    person = _person()
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "aspirations_text": person.aspirations_text or "",
        "tags": [t.slug for t in person.outcome_tags],
        "max_travel_km": "" if person.max_travel_km is None else str(person.max_travel_km),
        **{f"free_{day}": list(person.availability.get(day, [])) for day in DAYS},
    }
    if request.method == "POST":
        values = {
            "aspirations_text": request.form.get("aspirations_text", ""),
            "tags": request.form.getlist("tags"),
            "max_travel_km": request.form.get("max_travel_km", ""),
            **{f"free_{day}": request.form.getlist(f"free_{day}") for day in DAYS},
        }
        try:
            profiles.update_about_me(
                db,
                _me(),
                person,
                aspirations_text=values["aspirations_text"],
                tag_slugs=values["tags"],
                max_travel_km=values["max_travel_km"],
                availability={day: values[f"free_{day}"] for day in DAYS},
            )
        except InvalidInput as error:
            db.rollback()
            errors = error.errors
        except ServiceError as error:
            return _refuse(error)
        else:
            db.commit()
            flash(f"You changed About me for {person.display_name}.", "success")
            return redirect(url_for("advocate.acting_about_me"))
    try:
        about = profiles.about_me(db, _me(), person)
    except ServiceError as error:
        return _refuse(error)
    return render_template(
        "advocate/acting/about_me.html",
        about=about,
        values=values,
        errors=errors,
        page_has_errors=bool(errors),
        tag_options=[(t.slug, t.label) for t in about.tags],
        days=[(day, DAY_NAMES[day]) for day in DAYS],
        times=[(t, t.title()) for t in TIMES_OF_DAY],
    )


@bp.get("/acting/matches")
def acting_matches() -> str | Response:
    try:
        round_, matched, left_out = catalogue.matched_for_you(get_session(), _me(), _person())
    except ServiceError as error:
        return _refuse(error)
    return render_template(
        "advocate/acting/matches.html", round=round_, matched=matched, left_out=left_out
    )


@bp.get("/acting/choices")
def acting_choices() -> str | Response:
    try:
        mine = choices.my_choices(get_session(), _me(), _person())
    except ServiceError as error:
        return _refuse(error)
    return render_template("advocate/acting/choices.html", mine=mine)


@bp.post("/acting/choices")
def acting_change_choices() -> Response:
    db = get_session()
    person = _person()
    action = request.form.get("action", "")
    try:
        offer_id = int(request.form.get("offer_id", ""))
    except ValueError:
        abort(400)
    try:
        if action == "add":
            choices.add_choice(db, _me(), person, offer_id)
            message = "Added to the choices."
        elif action == "remove":
            choices.remove_choice(db, _me(), person, offer_id)
            message = "Removed from the choices."
        elif action in ("up", "down"):
            choices.move_choice(db, _me(), person, offer_id, action)
            message = "Changed the order of the choices."
        else:
            abort(400)
    except InvalidInput as error:
        db.rollback()
        flash(" ".join(error.errors.values()), "info")
        return redirect(url_for("advocate.acting_choices"))
    except ServiceError as error:
        db.rollback()
        return _refuse(error)
    db.commit()
    flash(message, "success")
    return redirect(url_for("advocate.acting_choices"))


@bp.get("/acting/place")
def acting_place() -> str | Response:
    try:
        places = allocations.my_places(get_session(), _me(), _person())
    except ServiceError as error:
        return _refuse(error)
    return render_template("advocate/acting/place.html", places=places)


@bp.post("/acting/place/<int:allocation_id>")
def acting_decide_place(allocation_id: int) -> Response:
    db = get_session()
    decision = request.form.get("decision")
    try:
        if decision == "accept":
            allocations.accept_place(db, _me(), _person(), allocation_id)
            message = f"You said yes to the place for {_person().display_name}."
        elif decision == "decline":
            allocations.decline_place(db, _me(), _person(), allocation_id)
            message = f"You said no to the place for {_person().display_name}."
        else:
            abort(400)
    except Conflict as error:
        db.rollback()
        flash(error.message, "info")
        return redirect(url_for("advocate.acting_place"))
    except ServiceError as error:
        db.rollback()
        return _refuse(error)
    db.commit()
    flash(message, "success")
    return redirect(url_for("advocate.acting_place"))
