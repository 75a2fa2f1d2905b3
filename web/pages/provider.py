"""Providers: organisation profile, offers, capacity, demand, placements and feedback.

Every view here is for signed-in providers only (checked once, by `guard_blueprint`). A
provider user sees only their own organisation; another's offer answers 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from models.accounts import User
from models.providers import Offer, Provider
from web.auth import Role, current_account, guard_blueprint
from web.db import get_session
from web.services import offers, providers, schedules
from web.services.catalogue import CATEGORY_LABELS
from web.services.errors import Conflict, InvalidInput, NotAllowed, NotFound, ServiceError
from web.services.matching import DAY_NAMES, format_money
from web.services.openreferral import COUNCIL_TERM, record_id
from web.services.recurrence import OFTEN_CHOICES, WEEK_CHOICES, describe_rule, rule_key
from web.services.words import count

bp = Blueprint("provider", __name__, url_prefix="/provider")
guard_blueprint(bp, Role.provider)

STATUS_WORDS = {"draft": "Draft", "published": "Published", "withdrawn": "Withdrawn"}


def _me() -> User:
    user = current_account()
    assert user is not None  # guard_blueprint let only signed-in providers through
    return user


def _provider() -> Provider:
    if "provider" not in g:
        try:
            g.provider = providers.provider_for(get_session(), _me())
        except NotFound:
            abort(403, description="Your account is not linked to an organisation yet.")
    return g.provider  # type: ignore[no-any-return]


@bp.context_processor
def _helpers() -> dict[str, Any]:
    endpoint = request.endpoint or ""
    items = [
        ("Your services", "provider.dashboard"),
        ("Demand", "provider.demand"),
        ("Placements", "provider.placements"),
        ("Money", "provider.money"),
        ("Feedback", "provider.feedback"),
        ("Organisation", "provider.profile"),
    ]
    return {
        "format_money": format_money,
        "category_labels": CATEGORY_LABELS,
        "status_words": STATUS_WORDS,
        "nav_items": [
            {"href": url_for(name), "text": text, "active": endpoint == name}
            for text, name in items
        ],
    }


def _request_id() -> str | None:
    return g.get("request_id")


def _own_offer(offer_id: int) -> Offer:
    try:
        return offers.own_offer(get_session(), _me(), _provider(), offer_id)
    except (NotFound, NotAllowed):
        abort(404)


@bp.get("/")
def dashboard() -> str:
    provider = _provider()
    return render_template(
        "provider/dashboard.html",
        provider=provider,
        offers=offers.provider_offers(get_session(), _me(), provider),
    )


# -- organisation profile ---------------------------------------------------------------------


@bp.route("/organisation", methods=["GET", "POST"])
def profile() -> str | Response:
    db = get_session()
    provider = _provider()
    errors: dict[str, str] = {}
    values: dict[str, Any] = {name: getattr(provider, name) for name in providers.PROFILE_FIELDS}
    if request.method == "POST":
        values = {name: request.form.get(name, "") for name in providers.PROFILE_FIELDS}
        values["areas_served"] = request.form.getlist("areas_served")
        try:
            providers.update_profile(db, _me(), provider, values, request_id=_request_id())
        except InvalidInput as error:
            db.rollback()
            errors = error.errors
        else:
            db.commit()
            flash("Your organisation's details are saved.", "success")
            return redirect(url_for("provider.profile"))
    areas = providers.council_areas(db, provider)
    return render_template(
        "provider/profile.html",
        values=values,
        errors=errors,
        page_has_errors=bool(errors),
        area_options=[(a, a) for a in areas],
    )


# -- offers -----------------------------------------------------------------------------------


def _offer_values(offer: Offer) -> dict[str, Any]:
    pounds, pence = divmod(offer.price_pence, 100)
    values: dict[str, Any] = {
        name: getattr(offer, name)
        for name in (
            "title",
            "description",
            "location",
            "eligibility_text",
            "accessibility",
            "address_line",
            "town",
            "postcode",
            "contact_name",
        )
    }
    values["languages"] = ", ".join(offer.languages or [])
    values.update(
        category=offer.category.value,
        price=f"{pounds}.{pence:02d}",
        capacity=str(offer.capacity),
        area=offer.area or "",
        other_areas=list(offer.other_areas or []),
        min_age_band=offer.min_age_band.value if offer.min_age_band else "",
        max_age_band=offer.max_age_band.value if offer.max_age_band else "",
        min_need_level="" if offer.min_need_level is None else str(offer.min_need_level),
        max_need_level="" if offer.max_need_level is None else str(offer.max_need_level),
        tags=[t.slug for t in offer.outcome_tags],
        council_terms=[record_id(COUNCIL_TERM, t.id) for t in offer.council_terms],
        schedule=dict(offer.schedule or {}),
    )
    return values


@bp.post("/offers/<int:offer_id>/status")
def change_status(offer_id: int) -> Response:
    db = get_session()
    offer = _own_offer(offer_id)
    action = request.form.get("action")
    try:
        if action == "publish":
            offers.publish_offer(db, _me(), _provider(), offer.id, request_id=_request_id())
            message = f"“{offer.title}” is published. People can now see it."
        elif action == "withdraw":
            offers.withdraw_offer(db, _me(), _provider(), offer.id, request_id=_request_id())
            message = (
                f"“{offer.title}” is withdrawn. People cannot see it now. "
                "To undo this, publish it again."
            )
        else:
            abort(400)
    except InvalidInput as error:
        db.rollback()
        flash("Fix these before you publish: " + " ".join(error.errors.values()), "info")
        return redirect(url_for("provider.edit_offer", offer_id=offer_id))
    except Conflict as error:
        db.rollback()
        flash(error.message, "info")
        return redirect(url_for("provider.edit_offer", offer_id=offer_id))
    db.commit()
    flash(message, "success")
    return redirect(url_for("provider.edit_offer", offer_id=offer_id))


@bp.route("/offers/<int:offer_id>/capacity", methods=["GET", "POST"])
def capacity(offer_id: int) -> str | Response:
    offer = _own_offer(offer_id)
    values = {"capacity": str(offer.capacity)}
    errors: dict[str, str] = {}
    if request.method == "POST":
        db = get_session()
        values = {"capacity": request.form.get("capacity", "")}
        try:
            offers.set_capacity(
                db, _me(), _provider(), offer.id, values["capacity"], request_id=_request_id()
            )
        except InvalidInput as error:
            db.rollback()
            errors = error.errors
            offer = _own_offer(offer_id)
        except ServiceError as error:
            db.rollback()
            flash(error.message, "info")
            return redirect(url_for("provider.dashboard"))
        else:
            db.commit()
            flash(f"“{offer.title}” now has {count(offer.capacity, 'place')}.", "success")
            return redirect(url_for("provider.dashboard"))
    return render_template(
        "provider/capacity.html",
        offer=offer,
        values=values,
        errors=errors,
        page_has_errors=bool(errors),
    )


# -- when an offer runs ------------------------------------------------------------------------

_RULE_FIELDS = ("often", "week", "weekday", "month_day", "opens_at", "closes_at", "not_on")
_DATE_FIELDS = tuple(f"{w}-{p}" for w in ("start", "end") for p in ("day", "month", "year"))


@bp.route("/offers/<int:offer_id>/schedule", methods=["GET", "POST"])
def schedule(offer_id: int) -> str | Response:
    """When does it run? The offer's times as plain words, and a form to add one more."""
    offer = _own_offer(offer_id)
    values: dict[str, Any] = {"days": []}
    errors: dict[str, str] = {}
    if request.method == "POST":
        db = get_session()
        values = {name: request.form.get(name, "") for name in _RULE_FIELDS + _DATE_FIELDS}
        values["days"] = request.form.getlist("days")
        try:
            schedules.add_rule(db, _me(), _provider(), offer.id, values, request_id=_request_id())
        except InvalidInput as error:
            db.rollback()
            errors = error.errors
            offer = _own_offer(offer_id)
        else:
            db.commit()
            flash("The time it runs is added.", "success")
            return redirect(url_for("provider.schedule", offer_id=offer.id))
    return render_template(
        "provider/schedule.html",
        offer=offer,
        rules=[(rule_key(r), describe_rule(r)) for r in offer.schedule_rules or []],
        values=values,
        errors=errors,
        page_has_errors=bool(errors),
        often_options=list(OFTEN_CHOICES.items()),
        week_options=list(WEEK_CHOICES.items()),
        day_options=list(DAY_NAMES.items()),
    )


@bp.post("/offers/<int:offer_id>/schedule/<key>/remove")
def remove_schedule(offer_id: int, key: str) -> Response:
    db = get_session()
    offer = _own_offer(offer_id)
    try:
        rule = schedules.remove_rule(
            db, _me(), _provider(), offer.id, key, request_id=_request_id()
        )
    except NotFound as error:
        db.rollback()
        flash(error.message, "info")
    else:
        db.commit()
        flash(f"Taken off: {describe_rule(rule)}.", "success")
    return redirect(url_for("provider.schedule", offer_id=offer_id))


# -- demand, placements, feedback -------------------------------------------------------------


@bp.get("/demand")
def demand() -> str:
    view = providers.demand(get_session(), _me(), _provider())
    return render_template("provider/demand.html", view=view)


@bp.get("/placements")
def placements() -> str:
    rows = providers.placements(get_session(), _me(), _provider())
    return render_template("provider/placements.html", placements=rows, provider=_provider())


@bp.get("/feedback")
def feedback() -> str:
    items = providers.feedback(get_session(), _me(), _provider())
    return render_template("provider/feedback.html", items=items)


# Placements' answers and the money statement, and the offer form a question at a time, live
# in their own modules, on this blueprint.
from web.pages import provider_offer_form, provider_placements  # noqa: E402, F401
