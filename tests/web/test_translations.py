"""Issue 13: every string a person or an advocate reads is in Welsh, and nothing is fuzzy.

The check runs ``pybabel extract`` over the code (``babel.cfg``) into a temporary catalogue and
compares it with ``web/translations/cy/LC_MESSAGES/messages.po``: a string marked in a person's
or advocate's template or code that the Welsh catalogue lacks, leaves empty or marks fuzzy fails
the test, naming it. Update the catalogue with ``pybabel update`` (see ``web/i18n.py``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
WELSH = ROOT / "web" / "translations" / "cy" / "LC_MESSAGES" / "messages.po"
#: Where the strings a person or an advocate reads are made.
PERSON_AREAS = (
    "web/templates/base.html",
    "web/templates/form_fields.html",
    "web/templates/person/",
    "web/templates/advocate/",
    "web/templates/account/",
    "web/templates/notifications/",
    "web/templates/errors/",
    "web/pages/person",
    "web/pages/advocate.py",
    "web/pages/account.py",
    "web/services/explanations.py",
    "web/services/easy_read.py",
    "web/services/words.py",
    "web/i18n.py",
    "web/services/languages.py",
    "web/services/consents.py",
    "web/services/account_links.py",
    "web/services/accounts.py",
    "web/services/acting.py",
    "web/services/catalogue.py",
    "web/services/choice_lists.py",
    "web/services/choices.py",
    "web/services/feedback.py",
    "web/services/notifications.py",
    "web/services/passwords.py",
    "web/services/profiles.py",
    "web/services/proposals.py",
    "web/forms.py",
    "web/notifying.py",
    "web/errors.py",
    "web/services/matching.py",
    "web/services/recurrence.py",
    "web/services/readable_data.py",
    "web/submissions.py",
    "web/services/allocations.py",
    "web/services/places_cycle.py",
    "web/templates/public/start.html",
    "web/templates/public/accessibility.html",
    "web/templates/public/cookies.html",
)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    pot = tmp_path_factory.mktemp("babel") / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "n_:1,2", "-k", "_l", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with pot.open("rb") as handle:
        return read_po(handle)


@pytest.fixture(scope="module")
def welsh() -> Catalog:
    with WELSH.open("rb") as handle:
        return read_po(handle, locale="cy")


def _for_people(message: Message) -> bool:
    return any(path.startswith(PERSON_AREAS) for path, _line in message.locations)


def _where(message: Message) -> str:
    return ", ".join(f"{path}:{line}" for path, line in message.locations[:2])


def test_every_person_and_advocate_string_is_in_welsh(extracted: Catalog, welsh: Catalog) -> None:
    problems = []
    for message in extracted:
        if not message.id or not _for_people(message):
            continue
        found = welsh.get(message.id, message.context)
        if found is None:
            problems.append(f"missing: {message.id!r} ({_where(message)})")
        elif found.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif isinstance(found.string, tuple | list):
            if len(found.string) != welsh.num_plurals or not all(found.string):
                problems.append(f"plural forms missing: {message.id!r}")
        elif not found.string:
            problems.append(f"not translated: {message.id!r}")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


def test_welsh_keeps_every_placeholder(welsh: Catalog) -> None:
    """A translation that drops or misspells %(name)s would fail (or say the wrong thing)."""
    problems = []
    for message in welsh:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        wanted = set().union(*(_PLACEHOLDER.findall(i) for i in ids))
        for string in strings:
            if set(_PLACEHOLDER.findall(string)) - wanted or (
                not isinstance(message.id, tuple | list)
                and set(_PLACEHOLDER.findall(string)) != wanted
            ):
                problems.append(f"{message.id!r} -> {string!r}")
    assert not problems, "\n".join(problems)


def test_the_compiled_welsh_is_the_catalogue(welsh: Catalog) -> None:
    """The site reads messages.mo: it must be compiled from today's messages.po (the install
    script does it: ``pybabel compile -d web/translations``)."""
    compiled = WELSH.with_suffix(".mo")
    assert compiled.exists(), "run: pybabel compile -d web/translations"
    with compiled.open("rb") as handle:
        mo = read_mo(handle)
    stale = [m.id for m in welsh if m.id and m.string and not m.fuzzy and m.id not in mo]
    assert not stale, f"messages.mo is older than messages.po: {stale[:3]}"


def test_the_check_finds_a_missing_string(extracted: Catalog) -> None:
    """The comparison above can fail: a catalogue without the strings is found wanting."""
    empty = Catalog(locale="cy")
    people = [m for m in extracted if m.id and _for_people(m)]
    assert people, "no person or advocate string was extracted"
    assert all(empty.get(m.id) is None for m in people)
