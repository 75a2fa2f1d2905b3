"""Providers answer each placement (confirm with a start date, or decline with a reason) and
see their money statement by month, with a CSV copy.

The views belong to the provider blueprint (:mod:`web.pages.provider`): signed-in providers
only, and only their own organisation's placements (another's answers 404).
"""

from __future__ import annotations

import calendar
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from models.base import utcnow
from web.db import get_session
from web.pages.provider import _me, _provider, bp
from web.services import places_cycle, providers
from web.services.errors import Conflict, InvalidInput, NotAllowed, NotFound


def _date_from_form() -> tuple[str, dict[str, str]]:
    """The start date typed as day, month and year, as ISO text (or the fields as typed)."""
    values = {part: request.form.get(f"start_date-{part}", "").strip() for part in
              ("day", "month", "year")}  # fmt: skip
    day, month, year = values["day"], values["month"], values["year"]
    if not (day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4):
        return "", values
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}", values


@bp.route("/placements/<int:allocation_id>", methods=["GET", "POST"])
def placement(allocation_id: int) -> str | Response | tuple[str, int]:
    db = get_session()
    try:
        found = providers.placement(db, _me(), _provider(), allocation_id)
    except (NotFound, NotAllowed):
        abort(404)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"reason": ""}
    if found.start_date is not None:
        values.update(
            {
                "day": str(found.start_date.day),
                "month": str(found.start_date.month),
                "year": str(found.start_date.year),
            }
        )
    if request.method == "POST":
        action = request.form.get("action", "")
        try:
            if action == "confirm":
                start, typed = _date_from_form()
                values.update(typed)
                places_cycle.confirm_placement(
                    db, _me(), _provider(), allocation_id, start_date=start
                )
                message = (
                    f"You confirmed the place. {found.person_name} starts on the date you gave."
                )
            elif action == "decline":
                values["reason"] = request.form.get("reason", "")
                places_cycle.decline_placement(
                    db, _me(), _provider(), allocation_id, reason=values["reason"]
                )
                message = "You said you cannot take this person. The council will see why."
            else:
                raise InvalidInput({"action": "Choose to confirm the place or to decline it"})
        except InvalidInput as invalid:
            db.rollback()
            errors = dict(invalid.errors)
        except Conflict as conflict:
            db.rollback()
            flash(conflict.message, "error")
            return redirect(url_for("provider.placement", allocation_id=allocation_id))
        except (NotFound, NotAllowed):
            db.rollback()
            abort(404)
        else:
            db.commit()
            flash(message, "success")
            return redirect(url_for("provider.placements"))
    html = render_template(
        "provider/placement.html",
        placement=found,
        today=utcnow().date(),
        values=values,
        errors=errors,
        page_has_errors=bool(errors),
    )
    return (html, 400) if errors else html


@bp.get("/money")
def money() -> str:
    lines = places_cycle.provider_money(get_session(), _me(), _provider())
    return render_template(
        "provider/money.html", lines=lines, provider=_provider(), month_name=_month_name
    )


def _month_name(month: str) -> str:
    """``"2027-01"`` -> ``"January 2027"``."""
    year, number = month.split("-")
    return f"{calendar.month_name[int(number)]} {year}"


@bp.get("/money.csv")
def money_csv() -> Response:
    lines = places_cycle.provider_money(get_session(), _me(), _provider())
    return Response(
        places_cycle.provider_money_csv(lines),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="money-by-month.csv"'},
    )
