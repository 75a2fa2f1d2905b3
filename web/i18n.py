"""Languages: Flask-Babel for pages, flash messages, form errors, emails and reasons.

The language of a request is, in order: the signed-in account's saved choice; then a
``lang`` query parameter (``?lang=cy``, remembered in a cookie), or that cookie, for
signed-out pages; then English. The header's "English | Cymraeg" links go to
``/language/<code>``, which saves the choice (on the account too, when signed in) and sends the
reader back to the page they were on; it works without JavaScript.

Strings are marked with ``_()`` / ``ngettext()`` in templates and ``web.services.words._`` /
``n_`` in Python (services make their sentences without Flask: this module hands them the
request's translations). ``babel.cfg`` says where to look; the catalogue check is
``tests/web/test_translations.py``.
"""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, current_app, has_request_context, redirect, request, url_for
from flask_babel import Babel, format_date, format_datetime, get_locale, get_translations
from werkzeug.wrappers import Response

from web.services import languages, words

COOKIE = "tapestry_lang"
#: A year: the choice is the reader's until they change it.
COOKIE_MAX_AGE = 365 * 24 * 3600

bp = Blueprint("language", __name__)
babel = Babel()


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", languages.DEFAULT)
    babel.init_app(app, locale_selector=select_language)
    words.use_translations(
        lambda message: get_translations().gettext(message),
        lambda one, many, n: get_translations().ngettext(one, many, n),
        lambda: page_language() if has_request_context() else languages.DEFAULT,
        lambda context, message: get_translations().pgettext(context, message),
    )
    app.jinja_env.globals["language_links"] = language_links
    app.jinja_env.globals["page_language"] = page_language
    app.jinja_env.globals["language_name"] = language_name
    app.jinja_env.filters["long_date"] = long_date
    app.jinja_env.filters["day_date"] = day_date
    app.jinja_env.filters["time_word"] = words.time_word
    app.jinja_env.filters["date_time"] = date_time
    # Marks a string for the catalogue where it is translated later (``yo(N_(..), N_(..))``).
    app.jinja_env.globals["N_"] = words.N_
    app.after_request(_remember_query_language)
    app.register_blueprint(bp)


def select_language() -> str:
    """The request's language: see the module's docstring."""
    from web.auth import current_account

    if not has_request_context():  # the worker, the command line: see web.notifying
        return languages.DEFAULT
    user = current_account()
    saved = languages.known(user.language) if user is not None else None
    return (
        saved
        or languages.known(request.args.get("lang"))
        or languages.known(request.cookies.get(COOKIE))
        or languages.DEFAULT
    )


def long_date(value: date | datetime | None) -> str:
    """``4 December 2026`` in the page's language (``4 Rhagfyr 2026``); "" for none."""
    if value is None:
        return ""
    return str(format_date(value, "d MMMM y"))


def day_date(value: date | datetime | None) -> str:
    """``Friday 4 December 2026`` in the page's language (``Dydd Gwener 4 Rhagfyr 2026``): for
    the day something starts, where the name of the day helps; "" for none."""
    if value is None:
        return ""
    return str(format_date(value, "EEEE d MMMM y"))


def date_time(value: datetime | None) -> str:
    """``4 December 2026, 3:05pm`` in English, ``4 Rhagfyr 2026, 15:05`` in Welsh (the
    24-hour clock, as Welsh public services write times); "" for none."""
    if value is None:
        return ""
    if page_language() == "en":
        return (
            str(format_datetime(value, "d MMMM y, h:mma")).replace("AM", "am").replace("PM", "pm")
        )
    return str(format_datetime(value, "d MMMM y, HH:mm"))


def language_name(code: str | None) -> str:
    """The name of a language in itself ("Cymraeg"), English for none or one we lack."""
    return languages.LANGUAGES.get(languages.known(code) or languages.DEFAULT, "English")


def page_language() -> str:
    """For ``<html lang>``: the code of the language the page is in."""
    return str(get_locale() or languages.DEFAULT)


def language_links() -> list[dict[str, str | bool]]:
    """The header's links, one per language, the current one marked."""
    here = page_language()
    back = _back_path()
    return [
        {
            "code": code,
            "name": name,
            "current": code == here,
            "url": url_for("language.choose", code=code, next=back),
        }
        for code, name in languages.LANGUAGES.items()
    ]


@bp.get("/language/<code>")
def choose(code: str) -> Response:
    """Use ``code`` from now on, and go back to the page (``next``) in it."""
    from web.auth import current_account
    from web.db import get_session

    language = languages.known(code) or languages.DEFAULT
    user = current_account()
    if user is not None and user.language != language:
        session = get_session()
        languages.choose_language(session, user, language)
        session.commit()
    response = redirect(_safe_next(request.args.get("next")))
    _set_cookie(response, language)
    return response


def _remember_query_language(response: Response) -> Response:
    language = languages.known(request.args.get("lang"))
    if language and request.cookies.get(COOKIE) != language:
        _set_cookie(response, language)
    return response


def remember_language(response: Response, language: str) -> None:
    """Keep ``language`` in the reader's cookie too (for the pages before signing in)."""
    _set_cookie(response, language)


def _set_cookie(response: Response, language: str) -> None:
    response.set_cookie(
        COOKIE,
        language,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config["SESSION_COOKIE_SECURE"]),
    )


def _back_path() -> str:
    """This page's path and query, without ``lang``, to come back to after switching."""
    if request.method != "GET":
        return request.path
    query = urlencode([(k, v) for k, v in request.args.items(multi=True) if k != "lang"])
    return request.path + (f"?{query}" if query else "")


def _safe_next(target: str | None) -> str:
    """A path on this site only: never a link to elsewhere (an open redirect)."""
    parts = urlsplit(target or "/")
    if parts.scheme or parts.netloc or not (target or "/").startswith("/"):
        return "/"
    if (target or "").startswith("//") or "\\" in (target or ""):
        return "/"
    return target or "/"
