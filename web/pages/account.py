"""Sign in, the one-time code step, sign out and change password."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from models.accounts import User, UserSession
from models.audit import append_event
from models.base import utcnow
from web.auth import (
    clear_auth_cookie,
    client_address,
    current_user_session,
    device_from_cookie,
    home_url,
    pending_second_factor_session,
    session_policy,
    set_auth_cookie,
    set_device_cookie,
    throttle_policy,
)
from web.db import get_session
from web.forms import ChangePasswordForm, SecondFactorForm, SignInForm
from web.services import accounts

bp = Blueprint("account", __name__)


def _audit(action: str, user: User | None, **details: str) -> None:
    """Record an account event in the audit trail (no email, password or address in it)."""
    append_event(
        get_session(),
        action,
        actor_user_id=user.id if user is not None else None,
        object_type="user" if user is not None else None,
        object_id=user.id if user is not None else None,
        request_id=g.get("request_id"),
        details=details or None,
    )


def _wait_words(wait: timedelta | None) -> str:
    seconds = max(1, math.ceil((wait or throttle_policy().first_delay).total_seconds()))
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


def _throttled_message(wait: timedelta | None) -> str:
    return f"You have tried to sign in too many times. Wait {_wait_words(wait)}, then try again."


def _retry_after(wait: timedelta | None) -> dict[str, str]:
    seconds = max(1, math.ceil((wait or throttle_policy().first_delay).total_seconds()))
    return {"Retry-After": str(seconds)}


WRONG_MESSAGE = "The email address or password is not right"


# A backslash is read as a slash by some browsers; a control character (CR, LF) cannot go in a
# Location header; half a surrogate pair cannot be encoded at all.
_NOT_IN_A_LOCATION = re.compile("[\x00-\x1f\x7f\\\\\ud800-\udfff]")


def _safe_next(target: str | None) -> str | None:
    """A local path to go back to after signing in; anything else is ignored."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if _NOT_IN_A_LOCATION.search(target):
        return None
    return target


def _begin(user: User, next_url: str | None) -> Response:
    """Start a session for ``user`` and send them on (to the one-time code step if needed)."""
    db = get_session()
    token, _row = accounts.start_session(
        db,
        user,
        now=utcnow(),
        policy=session_policy(),
        address=client_address(),
        user_agent=request.headers.get("User-Agent"),
    )
    session.clear()  # a fresh CSRF secret for the signed-in session
    if next_url:
        session["next_url"] = next_url
    if accounts.needs_second_factor(user):
        target = url_for("account.second_factor")
    else:
        target = session.pop("next_url", None) or home_url(user)
    # The answer is made before the commit: a session is never kept that the person cannot get.
    response = redirect(target)
    _audit("account.sign_in", user)
    db.commit()
    set_auth_cookie(response, token)
    set_device_cookie(response, user.id)
    return response


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    if current_user.is_authenticated:
        return redirect(home_url(current_user.user))
    form = SignInForm()
    next_url = _safe_next(request.args.get("next"))
    status = 200
    headers: dict[str, str] = {}
    if form.validate_on_submit():
        db = get_session()
        email = form.email.data or ""
        attempt = accounts.begin_sign_in(
            db,
            email,
            address=client_address(),
            now=utcnow(),
            policy=throttle_policy(),
            device=device_from_cookie(),
        )
        db.commit()  # the attempt counts even if the check fails; no lock held while hashing
        outcome = accounts.finish_sign_in(
            db,
            attempt,
            form.password.data or "",
            email=email,
            address=client_address(),
            now=utcnow(),
        )
        if outcome.status is accounts.SignInStatus.ok and outcome.user is not None:
            return _begin(outcome.user, next_url)
        _audit("account.sign_in_refused", outcome.user, reason=outcome.status.value)
        db.commit()
        if outcome.status is accounts.SignInStatus.throttled:
            form.email.errors = [_throttled_message(outcome.wait)]
            status = 429
            headers = _retry_after(outcome.wait)
        else:
            form.email.errors = [WRONG_MESSAGE]
            status = 401
    elif form.is_submitted():
        status = 400
    return render_template("account/sign_in.html", form=form), status, headers


@bp.route("/sign-in/code", methods=["GET", "POST"])
def second_factor() -> Any:
    row = pending_second_factor_session()
    if row is None:
        if current_user.is_authenticated:
            return redirect(home_url(current_user.user))
        return redirect(url_for("account.sign_in"))
    user = row.user
    setting_up = not user.totp_secret
    secret = accounts.new_totp_secret_for(row, current_app.secret_key or "") if setting_up else None
    form = SecondFactorForm()
    status = 200
    if form.validate_on_submit():
        db = get_session()
        now = utcnow()
        wait = accounts.count_second_factor_try(db, user, now, throttle_policy())
        passed = wait is None and accounts.verify_second_factor(
            db, row, form.code.data or "", now=now, setup_secret=secret
        )
        if passed:
            accounts.second_factor_passed(db, user)
            _audit("account.second_factor_set_up" if setting_up else "account.second_factor", user)
        else:
            _audit("account.second_factor_refused", user)
        db.commit()
        if passed:
            return redirect(session.pop("next_url", None) or home_url(user))
        if wait is not None:
            form.code.errors = [_throttled_message(wait)]
            status = 429
        else:
            form.code.errors = ["That code is not right. Enter the newest code from your app"]
            status = 401
    elif form.is_submitted():
        status = 400
    return (
        render_template(
            "account/second_factor.html",
            form=form,
            setting_up=setting_up,
            secret=secret,
            secret_uri=accounts.totp_uri(secret, user.email) if secret else None,
        ),
        status,
    )


@bp.post("/sign-out")
def sign_out() -> Response:
    row: UserSession | None = current_user_session() or pending_second_factor_session()
    if row is not None:
        db = get_session()
        accounts.end_session(db, row, now=utcnow())
        _audit("account.sign_out", row.user)
        db.commit()
    session.clear()
    flash("You have signed out", "success")
    response = redirect(url_for("public.start"))
    clear_auth_cookie(response)
    return response


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Any:
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        db = get_session()
        user = current_user.user
        now = utcnow()
        problem = accounts.change_password(
            db, user, form.current_password.data or "", form.new_password.data or "", now=now
        )
        if problem is None:
            token, row = accounts.start_session(
                db,
                user,
                now=now,
                policy=session_policy(),
                address=client_address(),
                user_agent=request.headers.get("User-Agent"),
            )
            # This device has just proved the password and already passed the one-time code.
            row.second_factor_at = current_user.user_session.second_factor_at
            _audit("account.password_changed", user)
            db.commit()
            flash("Your password has been changed. You have been signed out everywhere else.")
            response = redirect(home_url(user))
            set_auth_cookie(response, token)
            return response
        db.rollback()
        field = form.current_password if "current" in problem else form.new_password
        field.errors = [problem]
        status = 400
    elif form.is_submitted():
        status = 400
    return render_template("account/change_password.html", form=form), status
