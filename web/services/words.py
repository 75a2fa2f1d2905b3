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


def use_translations(
    gettext: Callable[[str], str], ngettext: Callable[[str, str, int], str]
) -> None:
    """Make :func:`_` and :func:`n_` look messages up with these (the web app's)."""
    global _gettext, _ngettext
    _gettext, _ngettext = gettext, ngettext


def _(message: str, **values: object) -> str:
    """``message`` in the reader's language, with ``%(name)s`` values filled in."""
    text = _gettext(message)
    return text % values if values else text


def n_(one: str, many: str, n: int, **values: object) -> str:
    """The form of a message for ``n`` in the reader's language (``%(num)s`` is ``n``)."""
    return _ngettext(one, many, n) % {"num": f"{n:,}", **values}


#: Plurals that are not the word with an "s" on the end, and verbs that follow a count.
IRREGULAR = {"person": "people", "child": "children", "is": "are", "has": "have", "was": "were"}


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
    if n == 1:
        return f"1 {noun}"
    if many is None:
        first, *rest = noun.split(" ")
        many = " ".join([plural(first), *(IRREGULAR.get(w, w) for w in rest)])
    return f"{n:,} {many}"
