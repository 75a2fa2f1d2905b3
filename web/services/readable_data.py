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
from web.services.languages import LANGUAGES
from web.services.privacy import export_person
from web.services.recurrence import say_date
from web.services.words import N_, _, count

#: Kind of record (table) -> (heading, what it is, in a sentence). In the order shown.
SECTIONS: dict[str, tuple[str, str]] = {
    "users": (N_("Your account"), N_("How you sign in and what we call you.")),
    "person_profiles": (N_("About you"), N_("What you and the council told us about you.")),
    "person_outcome_tags": (N_("What you want help with"), N_("The things you picked.")),
    "budgets": (N_("Your budget"), N_("Money the council set aside for you.")),
    "choices": (N_("Your choices"), N_("Services you said you want, best first.")),
    "allocations": (N_("Your places"), N_("Places you were offered, and what happened to them.")),
    "commitments": (N_("Money for your places"), N_("Money taken from your budget for a place.")),
    "waiting_positions": (N_("Waiting lists"), N_("Where you were on a waiting list.")),
    "feedback": (N_("What you said about services"), N_("Your stars and words about a place.")),
    "proposals": (N_("Your ideas"), N_("Ideas for new services that you shared.")),
    "proposal_supports": (N_("Ideas you backed"), N_("Other people's ideas you said yes to.")),
    "consents": (N_("Who can help you"), N_("People you let help you, or who asked to.")),
    "notifications": (
        N_("Messages we sent you"),
        N_("Emails, texts and letters about your places."),
    ),
    "notification_settings": (N_("How we contact you"), N_("The way you chose to hear from us.")),
    "user_sessions": (N_("When you signed in"), N_("Each time you signed in, and when it ended.")),
    "audit_events": (
        N_("What happened on your account"),
        N_("A record of changes, kept so nobody can change things in secret."),
    ),
}
OTHER = (N_("Other records"), N_("Other things we keep that name you."))

#: Fields that only join records or check the audit trail: not shown (the JSON has them).
HIDDEN_FIELDS = frozenset(
    {"id", "user_id", "person_id", "hash", "prev_hash", "key_id", "request_id", "row_version"}
)
#: Field -> label, where turning the field's name into words would not be plain enough.
LABELS: dict[str, str] = {
    "display_name": N_("Name"),
    "email": N_("Email address"),
    "aspirations_text": N_("What you want to do"),
    "assessed_needs": N_("Your needs (from the council)"),
    "need_level": N_("How much help you need (0 to 10)"),
    "max_travel_km": N_("How far you can travel (km)"),
    "easy_read": N_("Easy Read"),
    "equity_attributes": N_("Things about you, to check fairness"),
    "equity_consent_at": N_("When you let us use them"),
    "offer_id": N_("Service"),
    "rank": N_("Place in your list"),
    "status": N_("What happened"),
    "rating": N_("Stars (out of 5)"),
    "comment": N_("What you said"),
    "created_at": N_("When"),
    "updated_at": N_("Last changed"),
    "last_login_at": N_("Last signed in"),
    "can_view": N_("May see your pages"),
    "can_draft": N_("May change your answers"),
    "can_submit": N_("May say yes or no to a place for you"),
    "event_type": N_("What happened"),
    "occurred_at": N_("When"),
    "action": N_("What was done"),
    "age_band": N_("Your age"),
    "amount_pence": N_("Amount"),
    "answer_by": N_("Answer by"),
    "area": N_("Where you live"),
    "availability": N_("When you are free"),
    "committed_pence": N_("Money given to places"),
    "confirmed_at": N_("When the service said yes"),
    "decided_at": N_("When you answered"),
    "details": N_("More about it"),
    "email_confirmed_at": N_("When you confirmed your email address"),
    "erased_at": N_("When your data was erased"),
    "expires_at": N_("When it ends"),
    "explanation": N_("Why"),
    "failed_login_count": N_("Wrong passwords in a row"),
    "granted_at": N_("When you said yes"),
    "hash_scheme": N_("How the record is sealed"),
    "ip": N_("Internet address"),
    "is_active": N_("Account open"),
    "language": N_("Language"),
    "last_seen_at": N_("Last used"),
    "latitude": N_("Latitude (where your postcode is)"),
    "locked_until": N_("Locked until"),
    "longitude": N_("Longitude (where your postcode is)"),
    "must_change_password": N_("Must choose a new password"),
    "need_set_at": N_("When your needs were noted"),
    "note": N_("Message"),
    "object_type": N_("What it was about"),
    "password_changed_at": N_("When your password changed"),
    "postcode": N_("Postcode"),
    "price_pence": N_("Price"),
    "provider_reason": N_("What the service said"),
    "reference": N_("Your reference"),
    "released_at": N_("When the money came back"),
    "requested_at": N_("When they asked"),
    "revoked_at": N_("When it was stopped"),
    "role": N_("Kind of account"),
    "second_factor_at": N_("When the second check was passed"),
    "start_date": N_("Start date"),
    "user_agent": N_("Web browser"),
    "utility": N_("How much it meant to you (points)"),
}


#: What a record's status (or a message's way) was, in words; others are shown as they are.
VALUE_WORDS: dict[str, str] = {
    "offered": N_("offered"),
    "accepted": N_("accepted"),
    "declined": N_("declined"),
    "withdrawn": N_("withdrawn"),
    "expired": N_("expired"),
    "given_up": N_("given up"),
    "provider_declined": N_("the service could not take you"),
    "requested": N_("asked"),
    "granted": N_("said yes"),
    "revoked": N_("stopped"),
    "open": N_("open"),
    "under_consideration": N_("being thought about"),
    "commissioned": N_("bought by the council"),
    "pending": N_("waiting to be sent"),
    "sending": N_("being sent"),
    "sent": N_("sent"),
    "failed": N_("could not be sent"),
    "skipped": N_("not sent"),
    "email": N_("email"),
    "text": N_("text message"),
    "letter": N_("letter"),
    "none": N_("none"),
    "person": N_("person"),
    "advocate": N_("advocate"),
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
        if name in SECTIONS:
            heading, about = (_(text) for text in SECTIONS[name])
        else:
            heading, about = _words(name).capitalize(), _(OTHER[1])
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
        return _(LABELS[field])
    if field.endswith("_pence"):
        return _words(field.removesuffix("_pence")).capitalize()
    if field.endswith("_at"):
        return _("When %(what)s", what=_words(field.removesuffix("_at")))
    return _words(field).capitalize()


def plain_value(field: str, value: Any, offers: dict[str, str]) -> str:
    """One value in words: pounds for pence, a date in words, yes or no, names for ids."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if field == "offer_id":
        return offers.get(str(value)) or _("Service number %(number)s", number=value)
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
    if isinstance(value, str) and field in ("status", "channel", "role") and value in VALUE_WORDS:
        return _(VALUE_WORDS[value])
    if field == "language" and isinstance(value, str):
        return LANGUAGES.get(value, value)
    if isinstance(value, str):
        return _words(value) if value.replace("_", "").isalpha() and "_" in value else value
    return str(value)


def money(pence: int) -> str:
    pounds, rest = divmod(abs(pence), 100)
    amount = f"£{pounds:,}" + (f".{rest:02d}" if rest else "")
    return _("minus %(money)s", money=amount) if pence < 0 else amount


def when(moment: datetime) -> str:
    """``3 December 2026 at 14:05`` in the reader's language."""
    return _("%(date)s at %(time)s", date=say_date(moment.date()), time=f"{moment:%H:%M}")


def _words(name: str) -> str:
    return name.replace("_", " ").replace(".", " ")
