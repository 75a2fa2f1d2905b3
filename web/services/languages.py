"""The languages the site speaks, and each account's choice of one (issue 13).

English is the site's own language; Welsh (Cymraeg) is complete for every page a person or an
advocate sees. The words are in ``web/translations/<code>/LC_MESSAGES/messages.po``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from models.accounts import User
from web.services.errors import InvalidInput
from web.services.words import _

#: Each language's code (BCP 47, as on ``<html lang>``) and its name in itself.
LANGUAGES: dict[str, str] = {"en": "English", "cy": "Cymraeg"}
DEFAULT = "en"


def known(code: str | None) -> str | None:
    """``code`` when the site speaks it ("cy", "CY" and " cy " all give "cy"), else None."""
    tidy = (code or "").strip().lower()
    return tidy if tidy in LANGUAGES else None


def choose_language(session: Session, user: User, code: str) -> str:
    """Remember ``code`` as the account's language, for its pages and its messages."""
    language = known(code)
    if language is None:
        raise InvalidInput({"language": _("Choose English or Cymraeg")})
    user.language = language
    session.flush()
    return language
