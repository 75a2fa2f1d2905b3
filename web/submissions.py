"""Every page form: a one-time token, and post/redirect/get even when the answer is an error.

One-time form tokens
    Each form carries ``{{ form_token_field() }}`` beside its CSRF field: a hidden
    ``form_token`` made fresh each time the page is drawn. When a signed-in account posts it,
    the token is claimed (an :class:`~models.accounts.IdempotencyRecord` keyed ``form:<token>``)
    in the request's database transaction, before the view runs. So it is consumed in the same
    commit as the form's work; if the view rolls back (the form had errors), the token is free
    again, as nothing was done. A second post of a consumed token (browser Back, a double click,
    a page posted again) does nothing: it is sent on to the page the first post led to, with a
    message saying so. Two posts racing each other meet on the record's unique key, and the
    loser's work is rolled back. Signed-out forms (signing in) keep the tokens they used in the
    browser's own session cookie. A page post without a token is refused (400) unless
    ``FORM_TOKENS_REQUIRED`` is false.

Post/redirect/get for every answer
    A page post that would answer with a page (an error summary, a refusal, a confirmation)
    is not answered with it: the page is kept for a few minutes in ``<instance>/form_answers``,
    and the browser is sent (303) to a page it can get, which shows it once. Field values and
    messages are kept because the page itself is kept. So Back and reload never meet the
    browser's "Confirm form resubmission". The page is shown at the posted address when that
    address can be got, else at the page the form was on (its ``Referer``). Set
    ``PAGE_POSTS_REDIRECT`` false to answer posts directly (most web tests do, to read a post's
    answer; tests/security/test_form_tokens.py and the browser tests keep it on).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from markupsafe import Markup
from sqlalchemy import event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest, MethodNotAllowed, NotFound
from werkzeug.wrappers import Response

from models.accounts import IdempotencyRecord
from web import security
from web.auth import current_account, home_url
from web.db import database, get_session
from web.security import is_api_request
from web.services.words import N_, _

log = logging.getLogger(__name__)

FIELD = "form_token"
KEY_PREFIX = "form:"
ALREADY_DONE = N_("You sent this form already, so we did not do it again. This is what happened.")
OUT_OF_DATE = "This form is out of date. Go back, reload the page and try again."
#: A kept answer page is shown once, and only if the browser comes for it this soon.
ANSWER_SECONDS = 10 * 60
#: Signed-out forms: how many used tokens the browser's session cookie remembers.
COOKIE_TOKENS = 20
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
_ANSWER_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")
#: Headers of a page answer that still mean something when it is shown after the redirect.
_KEPT_HEADERS = ("Retry-After", "Allow")


def init_app(app: Flask) -> None:
    """Register the template helper and the hooks; after ``web.security`` (CSRF first)."""
    app.config.setdefault("FORM_TOKENS_REQUIRED", True)
    app.config.setdefault("PAGE_POSTS_REDIRECT", True)
    app.jinja_env.globals["form_token_field"] = form_token_field
    app.before_request(_show_kept_answer)
    # A repeat is sent on before the CSRF check: signing in renews the CSRF secret, and a
    # repeat only redirects, so it needs no CSRF token to be safe.
    hooks = app.before_request_funcs.setdefault(None, [])
    hooks.insert(hooks.index(security._check_csrf), _refuse_repeat)
    app.before_request(_claim_form_token)
    app.after_request(_after_post)
    app.register_error_handler(IntegrityError, _handle_integrity_error)


def new_token() -> str:
    """A fresh one-time token: 24 random bytes, 32 URL-safe characters."""
    return secrets.token_urlsafe(24)


def form_token_field() -> Markup:
    """The hidden field every page form carries beside its CSRF token."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, new_token())


# --- the token -------------------------------------------------------------------------------


def _is_page_post() -> bool:
    return (
        request.method == "POST"
        and request.routing_exception is None
        and not is_api_request()
        and request.endpoint not in (None, "static", "govuk_assets")
    )


def _refuse_repeat() -> Response | None:
    """A post of a token already used: do nothing, and go where the first post went."""
    if not _is_page_post():
        return None
    token = request.form.get(FIELD, "")
    if not _TOKEN.match(token):
        return None
    for used, location in session.get("used_form_tokens", []):
        if used == token:  # used while signed out (signing in, say)
            return _already_done(location)
    account = current_account()
    if account is None:
        return None
    found = _find_claim(account.id, token)
    if found is None:
        return None
    return _already_done((found.response_headers or {}).get("Location"))


def _find_claim(user_id: int, token: str) -> IdempotencyRecord | None:
    return (
        get_session()
        .scalars(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id,
                IdempotencyRecord.key == KEY_PREFIX + token,
            )
        )
        .first()
    )


def _claim_form_token() -> None:
    if not _is_page_post():
        return
    token = request.form.get(FIELD, "")
    if not _TOKEN.match(token):
        if current_app.config["FORM_TOKENS_REQUIRED"]:
            raise BadRequest(description=OUT_OF_DATE)
        return
    g.form_token = token
    account = current_account()
    if account is None:
        g.form_token_signed_out = True
        return
    s = get_session()
    _watch(s, account.id, token)
    _add_claim(s)
    s.flush()


def _add_claim(s: Session) -> None:
    info = s.info["form_claim"]
    s.add(
        IdempotencyRecord(
            key=KEY_PREFIX + info["token"],
            user_id=info["user_id"],
            method="POST",
            path=request.path[:500],
            # Not a body's hash: a form token names one page's form, whatever it sends.
            request_hash="form",
            response_status=303,
            response_body="",
            response_headers={"Location": None},
        )
    )
    info["state"] = "pending"


def _watch(s: Session, user_id: int, token: str) -> None:
    """Follow the claim through the request's transactions.

    Committed: the token is used. Rolled back before any commit: nothing was done, but if the
    view tries again and commits, the claim must go in with that commit too.
    """
    s.info["form_claim"] = {"token": token, "user_id": user_id, "state": "pending"}

    def before_commit(session_: Session) -> None:
        info = session_.info.get("form_claim")
        if info and info["state"] == "lost":
            _add_claim(session_)

    def after_commit(session_: Session) -> None:
        info = session_.info.get("form_claim")
        if info and info["state"] == "pending":
            info["state"] = "committed"

    def after_soft_rollback(session_: Session, previous: Any) -> None:
        info = session_.info.get("form_claim")
        if info and info["state"] == "pending" and not previous.nested:
            info["state"] = "lost"

    event.listen(s, "before_commit", before_commit)
    event.listen(s, "after_commit", after_commit)
    event.listen(s, "after_soft_rollback", after_soft_rollback)


def _already_done(location: str | None) -> Response:
    g.form_token_replayed = True
    flash(_(ALREADY_DONE), "info")
    return redirect(location or _gettable_target(), 303)


def _handle_integrity_error(error: IntegrityError) -> Any:
    """The loser of two posts of one token racing: undo its work, answer as a repeat."""
    from web import errors

    s = g.get("db_session")
    token = g.get("form_token")
    account = current_account() if token else None
    if s is not None and token and account is not None:
        s.rollback()
        found = _find_claim(account.id, token)
        if found is not None:
            return _already_done((found.response_headers or {}).get("Location"))
    return errors.handle_database_error(error)


# --- after the view ----------------------------------------------------------------------------


def _after_post(response: Response) -> Response:
    if not _is_page_post() or g.get("form_token_replayed"):
        return response
    if response.status_code >= 500:
        return response
    if 300 <= response.status_code < 400:
        _record_result(response.headers.get("Location"))
        return response
    if response.mimetype != "text/html" or not current_app.config["PAGE_POSTS_REDIRECT"]:
        return response
    return _keep_answer(response)


def _record_result(location: str | None) -> None:
    token = g.get("form_token")
    if not token:
        return
    s = g.get("db_session")
    info = s.info.get("form_claim") if s is not None else None
    if info is not None:
        if info["state"] != "committed":
            return
        # A session of its own: the view's may hold work it chose not to commit.
        with database().session_factory() as own:
            own.execute(
                update(IdempotencyRecord)
                .where(
                    IdempotencyRecord.user_id == info["user_id"],
                    IdempotencyRecord.key == KEY_PREFIX + token,
                )
                .values(response_headers={"Location": _local_path(location)})
            )
            own.commit()
        return
    if g.get("form_token_signed_out"):
        used = [pair for pair in session.get("used_form_tokens", []) if pair[0] != token]
        used.append([token, _local_path(location)])
        session["used_form_tokens"] = used[-COOKIE_TOKENS:]


def _local_path(location: str | None) -> str | None:
    if not location:
        return None
    parts = urlsplit(location)
    if parts.netloc and parts.netloc != request.host:
        return None
    query = f"?{parts.query}" if parts.query else ""
    return parts.path + query + (f"#{parts.fragment}" if parts.fragment else "")


# --- kept answers (post/redirect/get for pages) ------------------------------------------------


def _answers_dir() -> Path:
    return Path(current_app.instance_path) / "form_answers"


def _keep_answer(response: Response) -> Response:
    folder = _answers_dir()
    folder.mkdir(parents=True, exist_ok=True)
    _forget_old_answers(folder)
    answer_id = secrets.token_urlsafe(24)
    target = _gettable_target()
    kept = {
        "path": urlsplit(target).path,
        "status": response.status_code,
        "headers": {h: response.headers[h] for h in _KEPT_HEADERS if h in response.headers},
        "body": response.get_data(as_text=True),
    }
    path = folder / f"{answer_id}.json"
    path.write_text(json.dumps(kept), encoding="utf-8")
    path.chmod(0o600)
    session["form_answer"] = {"id": answer_id, "path": kept["path"]}
    moved = redirect(target, 303)
    for cookie in response.headers.getlist("Set-Cookie"):
        moved.headers.add("Set-Cookie", cookie)
    return moved


def _show_kept_answer() -> Response | None:
    if request.method != "GET" or "form_answer" not in session:
        return None
    waiting = session.get("form_answer") or {}
    if waiting.get("path") != request.path:
        return None
    session.pop("form_answer", None)
    answer_id = str(waiting.get("id", ""))
    if not _ANSWER_ID.match(answer_id):
        return None
    path = _answers_dir() / f"{answer_id}.json"
    try:
        fresh = time.time() - path.stat().st_mtime < ANSWER_SECONDS
        kept = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    finally:
        path.unlink(missing_ok=True)
    if not fresh:
        return None
    g.form_token_replayed = True
    shown = Response(kept["body"], status=int(kept["status"]), mimetype="text/html")
    for header, value in kept.get("headers", {}).items():
        shown.headers[header] = value
    # Never from a cache: it holds what was typed, and is shown once.
    shown.headers["Cache-Control"] = "no-store"
    return shown


def _forget_old_answers(folder: Path) -> None:
    """Kept answers hold what people typed: none outlives ``ANSWER_SECONDS`` for long."""
    cutoff = time.time() - ANSWER_SECONDS
    for old in folder.glob("*.json"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)
        except OSError:
            continue


def _gettable_target() -> str:
    """Where to show a post's answer: the posted address if it can be got, else the form's."""
    if _can_get(request.path):
        return request.path
    referrer = _local_path(request.referrer)
    if referrer and _can_get(urlsplit(referrer).path):
        return referrer
    account = current_account()
    return home_url(account) if account is not None else url_for("public.start")


def _can_get(path: str) -> bool:
    adapter = current_app.url_map.bind(request.host)
    try:
        adapter.match(path, method="GET")
    except (NotFound, MethodNotAllowed):
        return False
    except Exception:  # noqa: BLE001 - a redirect rule (trailing slash) still leads to a page
        return True
    return True
