"""Counted words, so no page or message says "1 places" or "2 person".

Pages use it as the ``count`` filter (``{{ n | count("place") }}``), services and views call
:func:`count`. Numbers of 1,000 or more get a thousands comma, as everywhere else on the site.
"""

from __future__ import annotations

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
