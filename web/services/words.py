"""Counted words, so no page or message says "1 places" or "2 person".

Pages use it as the ``count`` filter (``{{ n | count("place") }}``), services and views call
:func:`count`. Numbers of 1,000 or more get a thousands comma, as everywhere else on the site.
"""

from __future__ import annotations

from collections.abc import Callable

#: The translations in force: ``gettext(message)`` and ``ngettext(one, many, n)``. Plain
#: English until the web app installs Flask-Babel's (see ``web.i18n``), so services, the
#: worker and the command line make the same sentences without Flask.
_gettext: Callable[[str], str] = str


def _english_plural(one: str, many: str, n: int) -> str:
    return one if n == 1 else many


_ngettext: Callable[[str, str, int], str] = _english_plural


def _english() -> str:
    return "en"


_language: Callable[[], str] = _english


def _no_context(context: str, message: str) -> str:
    return message


_pgettext: Callable[[str, str], str] = _no_context


def use_translations(
    gettext: Callable[[str], str],
    ngettext: Callable[[str, str, int], str],
    language: Callable[[], str] = _english,
    pgettext: Callable[[str, str], str] = _no_context,
) -> None:
    """Make :func:`_`, :func:`n_` and :func:`pgettext` look messages up with these (the web
    app's), and :func:`current_language` answer with ``language``."""
    global _gettext, _ngettext, _language, _pgettext
    _gettext, _ngettext, _language, _pgettext = gettext, ngettext, language, pgettext


def current_language() -> str:
    """The reader's language code ("en", "cy"): for caches of words, which must be kept per
    language."""
    return _language()


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue where it is translated later (by :func:`_`)."""
    return message


def _(message: str, **values: object) -> str:
    """``message`` in the reader's language, with ``%(name)s`` values filled in."""
    text = _gettext(message)
    return text % values if values else text


def pgettext(context: str, message: str, **values: object) -> str:
    """``message`` as said in ``context`` ("in a sentence": "Monday" is "dydd Llun" there,
    "Dydd Llun" on its own), with ``%(name)s`` values filled in."""
    text = _pgettext(context, message)
    return text % values if values else text


def n_(one: str, many: str, n: int, **values: object) -> str:
    """The form of a message for ``n`` in the reader's language (``%(num)s`` is ``n``)."""
    return _ngettext(one, many, n) % {"num": f"{n:,}", **values}


#: The parts of a day people say they are free in (``models.people.TIMES_OF_DAY``).
TIME_WORDS: dict[str, str] = {
    "morning": N_("morning"),
    "afternoon": N_("afternoon"),
    "evening": N_("evening"),
}


def time_word(part: str) -> str:
    """ "morning" in the reader's language ("bore"); a part we do not know as it is."""
    return _(TIME_WORDS[part]) if part in TIME_WORDS else part


#: Plurals that are not the word with an "s" on the end, and verbs that follow a count.
IRREGULAR = {"person": "people", "child": "children", "is": "are", "has": "have", "was": "were"}


#: The counted nouns people read, each through ``ngettext`` so that every language can say
#: its own number forms (Welsh has six). A noun that is not here is counted in English.
COUNTED: dict[str, Callable[[int], str]] = {
    "person": lambda n: n_("%(num)s person", "%(num)s people", n),
    "place": lambda n: n_("%(num)s place", "%(num)s places", n),
    "service": lambda n: n_("%(num)s service", "%(num)s services", n),
    "choice": lambda n: n_("%(num)s choice", "%(num)s choices", n),
    "idea": lambda n: n_("%(num)s idea", "%(num)s ideas", n),
    "offer": lambda n: n_("%(num)s offer", "%(num)s offers", n),
    "budget": lambda n: n_("%(num)s budget", "%(num)s budgets", n),
    "rating": lambda n: n_("%(num)s rating", "%(num)s ratings", n),
    "number": lambda n: n_("%(num)s number", "%(num)s numbers", n),
    "day": lambda n: n_("%(num)s day", "%(num)s days", n),
    "day left": lambda n: n_("%(num)s day left", "%(num)s days left", n),
    "second": lambda n: n_("%(num)s second", "%(num)s seconds", n),
    "minute": lambda n: n_("%(num)s minute", "%(num)s minutes", n),
    "mile": lambda n: n_("%(num)s mile", "%(num)s miles", n),
    "session": lambda n: n_("%(num)s session", "%(num)s sessions", n),
    "record": lambda n: n_("%(num)s record", "%(num)s records", n),
}


def plural(word: str) -> str:
    """One word for more than one: "places", "people", "boxes"."""
    if word in IRREGULAR:
        return IRREGULAR[word]
    if word.endswith(("s", "sh", "ch", "x")):
        return word + "es"
    return word + "s"


def count(n: float, noun: str, many: str | None = None) -> str:
    """``n`` and the noun in the right number: "1 place", "0 places", "1,200 people".

    ``noun`` may go on with a verb or other words: "place is" gives "2 places are", "day
    left" gives "3 days left" (only the first word and a verb from ``IRREGULAR`` change).
    ``many`` is the whole plural when that rule would get it wrong. A whole float is shown as a
    whole number ("30 seconds"), any other as it is ("2.5 seconds")."""
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    if many is None and isinstance(n, int) and noun in COUNTED:
        return COUNTED[noun](n)
    if n == 1:
        return f"1 {noun}"
    if many is None:
        first, *rest = noun.split(" ")
        many = " ".join([plural(first), *(IRREGULAR.get(w, w) for w in rest)])
    return f"{n:,} {many}"
