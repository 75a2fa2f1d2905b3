"""A copy of a person's data that a person can read: the export in plain English.

It is made from the same export as "Download my data" (:func:`web.services.privacy.
export_person`), so it holds everything that holds, and a table added later shows up here too.
Each kind of record gets a heading in plain words (``SECTIONS``) and each field a label;
money is in pounds, times in words, yes or no for true or false, and an offer's number is
shown as its name. Numbers that only join records together, and the audit trail's hashes, are
left out: they mean nothing to a reader, and the JSON keeps them for anyone who needs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from models.accounts import User
from web.services.privacy import export_person
from web.services.words import count

#: Kind of record (table) -> (heading, what it is, in a sentence). In the order shown.
SECTIONS: dict[str, tuple[str, str]] = {
    "users": ("Your account", "How you sign in and what we call you."),
    "person_profiles": ("About you", "What you and the council told us about you."),
    "person_outcome_tags": ("What you want help with", "The things you picked."),
    "budgets": ("Your budget", "Money the council set aside for you."),
    "choices": ("Your choices", "Services you said you want, best first."),
    "allocations": ("Your places", "Places you were offered, and what happened to them."),
    "commitments": ("Money for your places", "Money taken from your budget for a place."),
    "waiting_positions": ("Waiting lists", "Where you were on a waiting list."),
    "feedback": ("What you said about services", "Your stars and words about a place."),
    "proposals": ("Your ideas", "Ideas for new services that you shared."),
    "proposal_supports": ("Ideas you backed", "Other people's ideas you said yes to."),
    "consents": ("Who can help you", "People you let help you, or who asked to."),
    "notifications": ("Messages we sent you", "Emails, texts and letters about your places."),
    "notification_settings": ("How we contact you", "The way you chose to hear from us."),
    "user_sessions": ("When you signed in", "Each time you signed in, and when it ended."),
    "audit_events": (
        "What happened on your account",
        "A record of changes, kept so nobody can change things in secret.",
    ),
}
OTHER = ("Other records", "Other things we keep that name you.")

#: Fields that only join records or check the audit trail: not shown (the JSON has them).
HIDDEN_FIELDS = frozenset(
    {"id", "user_id", "person_id", "hash", "prev_hash", "key_id", "request_id", "row_version"}
)
#: Field -> label, where turning the field's name into words would not be plain enough.
LABELS: dict[str, str] = {
    "display_name": "Name",
    "email": "Email address",
    "aspirations_text": "What you want to do",
    "assessed_needs": "Your needs (from the council)",
    "need_level": "How much help you need (0 to 10)",
    "max_travel_km": "How far you can travel (km)",
    "equity_attributes": "Things about you, to check fairness",
    "equity_consent_at": "When you let us use them",
    "offer_id": "Service",
    "rank": "Place in your list",
    "status": "What happened",
    "rating": "Stars (out of 5)",
    "comment": "What you said",
    "created_at": "When",
    "updated_at": "Last changed",
    "last_login_at": "Last signed in",
    "can_view": "May see your pages",
    "can_draft": "May change your answers",
    "can_submit": "May say yes or no to a place for you",
    "event_type": "What happened",
    "occurred_at": "When",
}


@dataclass(frozen=True)
class Record:
    fields: list[tuple[str, str]]


@dataclass(frozen=True)
class Section:
    key: str
    heading: str
    about: str
    records: list[Record]

    @property
    def count_words(self) -> str:
        return count(len(self.records), "record")


@dataclass(frozen=True)
class ReadableCopy:
    name: str
    made_at: str
    sections: list[Section]
    empty: list[str]


def readable_copy(session: Session, person: User) -> ReadableCopy:
    """The person's data, section by section, in words (for the page and the printout)."""
    data = export_person(session, person)
    offers: dict[str, str] = data.get("related_offers", {})
    tables: dict[str, list[dict[str, Any]]] = data["tables"]
    order = [name for name in SECTIONS if name in tables] + sorted(
        name for name in tables if name not in SECTIONS
    )
    sections: list[Section] = []
    empty: list[str] = []
    for name in order:
        heading, about = SECTIONS.get(name, (_words(name).capitalize(), OTHER[1]))
        rows = tables[name]
        if not rows:
            empty.append(heading)
            continue
        records = [Record(_fields(row, offers)) for row in rows]
        sections.append(Section(name, heading, about, [r for r in records if r.fields]))
    return ReadableCopy(
        name=person.display_name,
        made_at=when(datetime.fromisoformat(data["generated_at"])),
        sections=sections,
        empty=empty,
    )


def _fields(row: dict[str, Any], offers: dict[str, str]) -> list[tuple[str, str]]:
    shown = []
    for field, value in row.items():
        if field in HIDDEN_FIELDS or field.endswith(("_hash", "_token")):
            continue
        if value is None or value == "" or value == [] or value == {}:
            continue
        if field.endswith("_id") and field != "offer_id":
            continue  # joins records together; the reader gets the named thing instead
        shown.append((label(field), plain_value(field, value, offers)))
    return shown


def label(field: str) -> str:
    if field in LABELS:
        return LABELS[field]
    if field.endswith("_pence"):
        return _words(field.removesuffix("_pence")).capitalize()
    if field.endswith("_at"):
        return "When " + _words(field.removesuffix("_at"))
    return _words(field).capitalize()


def plain_value(field: str, value: Any, offers: dict[str, str]) -> str:
    """One value in words: pounds for pence, a date in words, yes or no, names for ids."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if field == "offer_id":
        return offers.get(str(value), f"Service number {value}")
    if field.endswith("_pence") and isinstance(value, int):
        return money(value)
    if isinstance(value, str) and (field.endswith("_at") or field.endswith("_on")):
        try:
            return when(datetime.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, list):
        return ", ".join(plain_value(field, v, offers) for v in value)
    if isinstance(value, dict):
        return "; ".join(
            f"{_words(str(k))}: {plain_value(str(k), v, offers)}" for k, v in value.items()
        )
    if isinstance(value, str):
        return _words(value) if value.replace("_", "").isalpha() and "_" in value else value
    return str(value)


def money(pence: int) -> str:
    sign = "minus " if pence < 0 else ""
    pounds, rest = divmod(abs(pence), 100)
    return f"{sign}£{pounds:,}" + (f".{rest:02d}" if rest else "")


def when(moment: datetime) -> str:
    return f"{moment.day} {moment:%B %Y} at {moment:%H:%M}"


def _words(name: str) -> str:
    return name.replace("_", " ").replace(".", " ")
