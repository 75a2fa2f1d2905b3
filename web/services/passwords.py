"""What makes a password one we refuse: too short, too long, or easy to guess.

Every place a password is set (changing it, setting a new one from an emailed link, creating
an account) asks :func:`password_problem`. The rules follow NCSC and NIST SP 800-63B: a
minimum of 12 characters and no rules about "one capital and one number", but a check against
passwords that are common or breached and the patterns they are built on:

- the bundled list (``data/common_passwords.txt``) of common passwords and the words they
  are built on, compared with the password's *core*: lower case, look-alike digits and signs
  read as letters (``p@ssw0rd`` is ``password``), and the digits and signs at either end taken
  away (``Summer2024!`` is ``summer``);
- runs along the alphabet, the digits or the keyboard (``abcdefghijkl``, ``qwertyuiopas``);
- a short piece said again and again (``abcabcabcabc``), or only a few different characters;
- the person's own email address, or the part before the ``@``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from web.services.words import N_, _

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
LIST_FILE = Path(__file__).parent / "data" / "common_passwords.txt"

_LOOK_ALIKES = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
)
_SEPARATORS = re.compile(r"[\s._\-+*/\\|,;:'\"]+")
_EDGES = re.compile(r"^[^a-z]+|[^a-z]+$")
_RUNS = (
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890123456789",
    "qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "qazwsxedcrfvtgbyhnujmikolp",
    "1q2w3e4r5t6y7u8i9o0p",
    "azertyuiopqsdfghjklmwxcvbn",
)

TOO_EASY = N_(
    "This password is too easy to guess. Try 3 or 4 random words together, "
    "or let your browser make one up"
)


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list, lower case (comment lines left out)."""
    lines = LIST_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def _is_run(text: str) -> bool:
    if len(text) < 6:
        return False
    return any(text in run or text in run[::-1] for run in _RUNS)


def _repeats_a_short_piece(text: str) -> bool:
    for size in range(1, 7):
        whole, rest = divmod(len(text), size)
        if whole >= 2 and rest == 0 and text[:size] * whole == text:
            return True
    return False


def _cores(password: str) -> set[str]:
    """The forms of ``password`` compared with the list (see the module's documentation)."""
    lowered = password.lower()
    cores: set[str] = set()
    for text in (lowered, _SEPARATORS.sub("", lowered)):
        middle = re.sub(r"^[\d\W_]+|[\d\W_]+$", "", text)
        for form in (text, middle, text.translate(_LOOK_ALIKES), middle.translate(_LOOK_ALIKES)):
            cores.add(form)
            cores.add(_EDGES.sub("", form))
    cores.discard("")
    return cores


def password_problem(password: str, *, email: str | None = None) -> str | None:
    """Why ``password`` cannot be used, in plain words, or None when it is fine."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _("Your password must be at least %(num)s characters long", num=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return _("Your password must be %(most)s characters or fewer", most=MAX_PASSWORD_LENGTH)
    lowered = password.strip().lower()
    joined = _SEPARATORS.sub("", lowered)
    if email:
        address = email.strip().lower()
        local = address.partition("@")[0]
        local = _SEPARATORS.sub("", local)
        if address in lowered or (len(local) >= 4 and local in joined):
            return _("Your password must not have your email address in it")
    if len(set(joined)) < 5 or _repeats_a_short_piece(joined):
        return _(TOO_EASY)
    if _is_run(joined) or _is_run(joined.translate(_LOOK_ALIKES)):
        return _(TOO_EASY)
    blocked = common_passwords()
    if any(core in blocked for core in _cores(password)):
        return _(TOO_EASY)
    return None
