"""Sign in, the one-time code step, sign out, passwords (changed, forgotten, one-off), the
account page: how we tell you things, your email address and where you are signed in."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale
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
from web.errors import error_payload
from web.forms import (
    ButtonForm,
    ChangePasswordForm,
    ForgotPasswordForm,
    LanguageForm,
    NewPasswordForm,
    NotificationSettingsForm,
    SecondFactorForm,
    SignInForm,
)
from web.i18n import remember_language
from web.services import account_links, accounts, languages, notifications
from web.services.errors import InvalidInput, TooManyRequests
from web.services.words import N_, _, count

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
        return count(seconds, "second")
    return count(math.ceil(seconds / 60), "minute")


def _throttled_message(wait: timedelta | None) -> str:
    return _(
        "You have tried to sign in too many times. Wait %(wait)s, then try again.",
        wait=_wait_words(wait),
    )


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
    flash(_("You have signed out"), "success")
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
        try:
            accounts.change_password(
                db, user, form.current_password.data or "", form.new_password.data or "", now=now
            )
        except InvalidInput as error:
            db.rollback()
            for name, message in error.errors.items():
                getattr(form, name).errors = [message]
            return render_template("account/change_password.html", form=form), 400
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
        flash(_("Your password has been changed. You have been signed out everywhere else."))
        response = redirect(home_url(user))
        set_auth_cookie(response, token)
        return response
    elif form.is_submitted():
        status = 400
    return render_template("account/change_password.html", form=form), status


# -- a one-off password must be changed first ---------------------------------------------------

#: What someone with a one-off password may still do before changing it.
_BEFORE_CHANGING = frozenset(
    {
        "account.change_password",
        "account.sign_out",
        "account.second_factor",
        "static",
        "assets",
    }
)


@bp.before_app_request
def _one_off_password_first() -> Any:
    if not current_user.is_authenticated or not current_user.user.must_change_password:
        return None
    endpoint = request.endpoint or ""
    if endpoint in _BEFORE_CHANGING or endpoint.startswith("public."):
        return None
    message = _("You signed in with a one-off password. Choose your own password first.")
    if request.path.startswith("/api/"):
        response = jsonify(error_payload(403, message, {"password": message}))
        response.status_code = 403
        return response
    flash(message, "info")
    return redirect(url_for("account.change_password"))


# -- forgotten passwords ------------------------------------------------------------------------


@bp.route("/account/forgot-password", methods=["GET", "POST"])
def forgot_password() -> Any:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            account_links.request_password_reset(
                db, form.email.data or "", address=client_address(), now=utcnow()
            )
        except InvalidInput as error:
            db.rollback()
            form.email.errors = [error.errors["email"]]
            return render_template("account/forgot_password.html", form=form), 400
        except TooManyRequests as error:
            db.commit()  # the try is counted
            form.email.errors = [error.message]
            return render_template("account/forgot_password.html", form=form), 429
        db.commit()
        return redirect(url_for("account.forgot_password_sent"))
    status = 400 if form.is_submitted() else 200
    return render_template("account/forgot_password.html", form=form), status


@bp.get("/account/forgot-password/sent")
def forgot_password_sent() -> Any:
    return render_template("account/forgot_password_sent.html")


_RESET_TOKEN = "reset_token"


@bp.get("/account/reset/<token>")
def reset_link(token: str) -> Response:
    # The token leaves the address bar at once (no Referer, no history) and waits in the
    # signed session cookie until the new password is set.
    session[_RESET_TOKEN] = token[:200]
    return redirect(url_for("account.reset_password"))


@bp.route("/account/reset", methods=["GET", "POST"])
def reset_password() -> Any:
    db = get_session()
    token = session.get(_RESET_TOKEN, "")
    if account_links.reset_link_user(db, token, now=utcnow()) is None:
        session.pop(_RESET_TOKEN, None)
        status = 400 if request.method == "POST" else 200
        return render_template("account/bad_link.html", message=_(BAD_LINK_TEXT)), status
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            user = account_links.reset_password(
                db,
                token,
                form.new_password.data or "",
                form.confirm_password.data or "",
                now=utcnow(),
            )
        except InvalidInput as error:
            db.rollback()
            if "token" in error.errors:
                session.pop(_RESET_TOKEN, None)
                return render_template("account/bad_link.html", message=_(BAD_LINK_TEXT)), 400
            for name, message in error.errors.items():
                getattr(form, name).errors = [message]
            return render_template("account/reset_password.html", form=form), 400
        _audit("account.password_reset", user)
        db.commit()
        session.pop(_RESET_TOKEN, None)
        flash(_("Your new password is set. Sign in with it now."), "success")
        return redirect(url_for("account.sign_in"))
    status = 400 if form.is_submitted() else 200
    return render_template("account/reset_password.html", form=form), status


BAD_LINK_TEXT = account_links.BAD_LINK


# -- the account page: email, how we tell you, where you are signed in -------------------------


@bp.get("/account")
@login_required
def account_home() -> Any:
    user = current_user.user
    prefs = notifications.preferences(get_session(), user)
    return render_template("account/index.html", user=user, prefs=prefs, confirm_form=ButtonForm())


@bp.post("/account/confirm-email")
@login_required
def send_confirmation() -> Response:
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    db = get_session()
    user = current_user.user
    if user.email_confirmed_at is not None:
        flash(_("Your email address is confirmed already."), "info")
        return redirect(url_for("account.account_home"))
    try:
        account_links.send_email_confirmation(db, user, now=utcnow())
    except TooManyRequests as error:
        db.commit()
        flash(error.message, "info")
        return redirect(url_for("account.account_home"))
    db.commit()
    flash(
        _("We have sent a link to %(email)s. Open it to confirm your address.", email=user.email),
        "success",
    )
    return redirect(url_for("account.account_home"))


@bp.get("/account/confirm/<token>")
def confirm_email(token: str) -> Any:
    db = get_session()
    try:
        user = account_links.confirm_email(db, token, now=utcnow())
    except InvalidInput:
        db.rollback()
        # A page that explains, not an error: old links are opened every day.
        return render_template("account/bad_link.html", message=_(BAD_LINK_TEXT))
    _audit("account.email_confirmed", user)
    db.commit()
    flash(_("Thank you. Your email address is confirmed."), "success")
    if current_user.is_authenticated:
        return redirect(url_for("account.account_home"))
    return redirect(url_for("account.sign_in"))


@bp.route("/account/notifications", methods=["GET", "POST"])
@login_required
def notification_settings() -> Any:
    db = get_session()
    user = current_user.user
    form = NotificationSettingsForm()
    if request.method == "GET":
        prefs = notifications.preferences(db, user)
        form.channel.data = prefs.channel.value
        form.phone.data = _phone_words(prefs.phone)
        form.postal_address.data = prefs.postal_address or ""
    elif form.validate_on_submit():
        try:
            notifications.set_preferences(
                db,
                user,
                channel=form.channel.data or "",
                phone=form.phone.data or "",
                postal_address=form.postal_address.data or "",
            )
        except InvalidInput as error:
            db.rollback()
            for name, message in error.errors.items():
                getattr(form, name).errors = [message]
            return render_template("account/notifications.html", form=form), 400
        _audit("account.notifications_changed", user)
        db.commit()
        flash(_("Saved. We will tell you things the way you chose."), "success")
        return redirect(url_for("account.account_home"))
    else:
        return render_template("account/notifications.html", form=form), 400
    return render_template("account/notifications.html", form=form)


@bp.route("/account/language", methods=["GET", "POST"])
@login_required
def language_setting() -> Any:
    """The language of the account's pages and messages (also set by the header's links)."""
    user = current_user.user
    form = LanguageForm()
    if request.method == "GET":
        form.language.data = user.language or languages.DEFAULT
        return render_template("account/language.html", form=form, languages=languages.LANGUAGES)
    if form.validate_on_submit():
        db = get_session()
        try:
            chosen = languages.choose_language(db, user, form.language.data or "")
        except InvalidInput as error:
            db.rollback()
            form.language.errors = [error.errors["language"]]
        else:
            _audit("account.language_changed", user)
            db.commit()
            response = redirect(url_for("account.account_home"))
            remember_language(response, chosen)
            # Said in the language just chosen: the next page is in it.
            with force_locale(chosen):
                flash(_("Saved. Your pages and messages will be in %(language)s.",
                        language=languages.LANGUAGES[chosen]), "success")  # fmt: skip
            return response
    return render_template("account/language.html", form=form, languages=languages.LANGUAGES), 400


def _phone_words(phone: str | None) -> str:
    if not phone:
        return ""
    national = "0" + phone.removeprefix("+44")
    return f"{national[:5]} {national[5:]}"


@bp.get("/account/sessions")
@login_required
def signed_in_sessions() -> Any:
    db = get_session()
    rows = accounts.live_sessions(db, current_user.user, now=utcnow(), policy=session_policy())
    this = current_user.user_session
    return render_template(
        "account/sessions.html",
        rows=rows,
        this_id=this.id if this is not None else None,
        describe=_device_words,
        form=None,
        button=ButtonForm(),
    )


@bp.post("/account/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int) -> Response:
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    db = get_session()
    this = current_user.user_session
    if this is not None and this.id == session_id:
        flash(_("To sign out here, use Sign out at the top of the page."), "info")
        return redirect(url_for("account.signed_in_sessions"))
    if accounts.end_own_session(db, current_user.user, session_id, now=utcnow()):
        _audit("account.session_ended", current_user.user)
        flash(_("You are signed out there now."), "success")
    else:
        flash(_("That one was signed out already."), "info")
    db.commit()
    return redirect(url_for("account.signed_in_sessions"))


@bp.post("/account/sessions/end-others")
@login_required
def end_other_sessions() -> Response:
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    db = get_session()
    ended = accounts.end_all_sessions(
        db, current_user.user, now=utcnow(), keep=current_user.user_session
    )
    _audit("account.other_sessions_ended", current_user.user)
    db.commit()
    flash(
        _("You are signed out everywhere else.")
        if ended
        else _("You were not signed in anywhere else."),
        "success",
    )
    return redirect(url_for("account.signed_in_sessions"))


def _device_words(user_agent: str | None) -> str:
    """A short name for a browser, like "Firefox on Windows", from its User-Agent."""
    text = user_agent or ""
    browser = next(
        (_(name) for key, name in _BROWSERS if key in text),
        _("A web browser") if text else _("Unknown"),
    )
    system = next((_(name) for key, name in _SYSTEMS if key in text), None)
    return _("%(browser)s on %(system)s", browser=browser, system=system) if system else browser


_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", N_("A program (curl)")),
)
_SYSTEMS = (
    ("Android", N_("an Android phone or tablet")),
    ("iPhone", N_("an iPhone")),
    ("iPad", N_("an iPad")),
    ("Windows", "Windows"),
    ("Mac OS X", N_("a Mac")),
    ("CrOS", N_("a Chromebook")),
    ("Linux", "Linux"),
)
