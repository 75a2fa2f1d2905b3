"""When an offer runs: RFC 5545 recurrence rules, checked, read and said in plain words.

An offer's ``schedule_rules`` is a list of rules. Each rule is a mapping of RFC 5545 text:

``rrule``
    the RRULE value without its name: ``FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;UNTIL=20270331``.
    Providers choose from the shapes people use: every week or every other week on some
    days (``FREQ=WEEKLY``), a day of the month by its place ("the first Monday",
    ``FREQ=MONTHLY;BYDAY=1MO``; ``-1MO`` is the last) or by its date
    (``FREQ=MONTHLY;BYMONTHDAY=15``). ``UNTIL`` is the last date it may run.
``dtstart``
    the first date it may run, ISO 8601 (``2027-01-06``): RFC 5545's DTSTART. Rules imported
    from a feed that gives none (allowed there for rules every week or month) keep None.
``opens_at``, ``closes_at``
    local clock times ``HH:MM`` (UK time), closes after opens.
``exdates``
    dates it does not run although the rule says so (RFC 5545's EXDATE), ISO 8601, sorted.

The rules are read with python-dateutil's RFC 5545 parser (``dateutil.rrule.rrulestr``), which
also gives the dates each rule runs on. :func:`describe_rule` says a rule in plain words
("Every Tuesday, 10am to 12 noon, from 6 January 2027"); :func:`pattern_from_rules` gives the
days and parts of the day (``{"tue": ["morning"]}``), the coarse shape ``Offer.schedule`` keeps
for older readers; :func:`upcoming_slots` gives the slots (``"tue-morning"``) of the sessions in
the coming weeks, which matching sets against the times a person is free.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from dateutil.rrule import rruleset, rrulestr

from models.people import DAYS, TIMES_OF_DAY
from web.services.errors import InvalidInput
from web.services.matching import DAY_IN_SENTENCE, DAY_NAMES
from web.services.words import N_, _

#: RFC 5545 weekday codes of our day names.
BYDAY = dict(zip(DAYS, ("MO", "TU", "WE", "TH", "FR", "SA", "SU"), strict=True))
DAY_OF_CODE = {code: day for day, code in BYDAY.items()}
DAY_WORDS = {day: DAY_NAMES[day] for day in DAYS}
#: How often, as the provider's page asks it.
OFTEN_CHOICES = {
    "weekly": "Every week",
    "fortnightly": "Every other week",
    "monthly_day": "Once a month, on a day such as the first Monday",
    "monthly_date": "Once a month, on a date such as the 15th",
}
#: Which one of the month's weekdays: RFC 5545's BYDAY position.
WEEK_CHOICES = {"1": "first", "2": "second", "3": "third", "4": "fourth", "-1": "last"}
MONTH_WORDS = (
    N_("January"), N_("February"), N_("March"), N_("April"), N_("May"), N_("June"),
    N_("July"), N_("August"), N_("September"), N_("October"), N_("November"), N_("December"),
)  # fmt: skip
#: "the first Monday", as a reader reads it (``WEEK_CHOICES`` are the provider form's words).
_WEEK_WORDS = {
    "1": N_("the first %(day)s"),
    "2": N_("the second %(day)s"),
    "3": N_("the third %(day)s"),
    "4": N_("the fourth %(day)s"),
    "-1": N_("the last %(day)s"),
}
#: The days of a month: "the 15th" (Welsh writes "y 15fed").
_MONTH_DAYS = {
    1: N_("the 1st"), 2: N_("the 2nd"), 3: N_("the 3rd"), 4: N_("the 4th"), 5: N_("the 5th"),
    6: N_("the 6th"), 7: N_("the 7th"), 8: N_("the 8th"), 9: N_("the 9th"), 10: N_("the 10th"),
    11: N_("the 11th"), 12: N_("the 12th"), 13: N_("the 13th"), 14: N_("the 14th"),
    15: N_("the 15th"), 16: N_("the 16th"), 17: N_("the 17th"), 18: N_("the 18th"),
    19: N_("the 19th"), 20: N_("the 20th"), 21: N_("the 21st"), 22: N_("the 22nd"),
    23: N_("the 23rd"), 24: N_("the 24th"), 25: N_("the 25th"), 26: N_("the 26th"),
    27: N_("the 27th"), 28: N_("the 28th"), 29: N_("the 29th"), 30: N_("the 30th"),
    31: N_("the 31st"), -1: N_("the last day"),
}  # fmt: skip
#: Where the parts of the day meet (the feed's hours: morning to 12:00, evening from 17:00).
PART_ENDS = {"morning": 12 * 60, "afternoon": 17 * 60, "evening": 24 * 60}
#: How far ahead matching looks for sessions: a quarter of a year.
HORIZON = timedelta(weeks=13)
MAX_EXDATES = 100
#: The parts of an RRULE that Tapestry keeps (the ones the Open Referral UK profile has).
RULE_PARTS = frozenset({"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "UNTIL"})

_CLOCK = re.compile(r"^(\d{1,2})(?:[:.](\d{2})(?::[0-5]\d)?)?\s*(am|pm)?$", re.IGNORECASE)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_UK_DATE = re.compile(r"^(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})$")


# --- reading rules ---------------------------------------------------------------------------


def rule_key(rule: Mapping[str, Any]) -> str:
    """A short stable name for one rule (the page's remove buttons use it)."""
    text = json.dumps(dict(rule), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def rule_parts(rule: Mapping[str, Any]) -> dict[str, str]:
    """``"FREQ=WEEKLY;BYDAY=TU"`` -> ``{"FREQ": "WEEKLY", "BYDAY": "TU"}``."""
    parts: dict[str, str] = {}
    for item in str(rule.get("rrule", "")).split(";"):
        name, _sep, value = item.partition("=")
        if name.strip():
            parts[name.strip().upper()] = value.strip().upper()
    return parts


def _iso(value: str) -> date:
    return date.fromisoformat(value)


def _recurrence(rule: Mapping[str, Any], anchor: date) -> rruleset:
    """The dates of one rule, as dateutil reads its RFC 5545 text (EXDATEs taken out). A rule
    with no first date (an imported one, every week or month) counts from ``anchor``."""
    first = rule.get("dtstart")
    start = datetime.combine(_iso(first) if first else anchor, time())
    dates = rruleset()
    dates.rrule(rrulestr(rule["rrule"], dtstart=start))  # type: ignore[arg-type]
    for value in rule.get("exdates") or []:
        dates.exdate(datetime.combine(_iso(value), time()))
    return dates


def rule_dates(rule: Mapping[str, Any], start: date, end: date) -> list[date]:
    """The dates from ``start`` to ``end`` (both included) on which ``rule`` runs."""
    found = _recurrence(rule, start).between(
        datetime.combine(start, time()), datetime.combine(end, time()), inc=True
    )
    return [d.date() for d in found]


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def parts_between(opens_at: str, closes_at: str) -> list[str]:
    """The parts of the day a session from ``opens_at`` to ``closes_at`` touches."""
    opens, closes = _minutes(opens_at), _minutes(closes_at)
    found, start = [], 0
    for part in TIMES_OF_DAY:
        end = PART_ENDS[part]
        if opens < end and closes > start:
            found.append(part)
        start = end
    return found


def upcoming_slots(rules: Iterable[Mapping[str, Any]], today: date) -> frozenset[str]:
    """Slots (``"tue-morning"``) of every session from ``today`` for :data:`HORIZON`."""
    slots: set[str] = set()
    for rule in rules:
        parts = parts_between(rule["opens_at"], rule["closes_at"])
        for day in rule_dates(rule, today, today + HORIZON):
            name = DAYS[day.weekday()]
            slots.update(f"{name}-{part}" for part in parts)
    return frozenset(slots)


def pattern_from_rules(rules: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Days and parts of the day the rules can fall on, in ``Offer.schedule``'s shape.

    A weekly rule falls on its days; a monthly rule by weekday on that weekday; a monthly rule
    by date on any day of the week.
    """
    chosen: dict[str, set[str]] = {}
    for rule in rules:
        parts = rule_parts(rule)
        codes = [code[-2:] for code in parts.get("BYDAY", "").split(",") if code]
        days = [DAY_OF_CODE[c] for c in codes if c in DAY_OF_CODE] or list(DAYS)
        for day in days:
            chosen.setdefault(day, set()).update(parts_between(rule["opens_at"], rule["closes_at"]))
    return {d: [p for p in TIMES_OF_DAY if p in chosen[d]] for d in DAYS if d in chosen}


def weekly_rules(pattern: Mapping[str, Iterable[str]], start: date | None) -> list[dict[str, Any]]:
    """Weekly rules for a days-and-parts pattern (from older forms and the offers API): one
    rule a part of the day, on the days it is ticked, at the feed's hours for that part,
    from ``start`` (None: no first date)."""
    hours = {"morning": ("09:00", "12:00"), "afternoon": ("12:00", "17:00")}
    hours["evening"] = ("17:00", "21:00")
    rules = []
    for part in TIMES_OF_DAY:
        days = [d for d in DAYS if part in (pattern.get(d) or [])]
        if days:
            opens, closes = hours[part]
            rules.append(
                {
                    "rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=" + ",".join(BYDAY[d] for d in days),
                    "dtstart": start.isoformat() if start else None,
                    "opens_at": opens,
                    "closes_at": closes,
                    "exdates": [],
                }
            )
    return rules


# --- plain words -----------------------------------------------------------------------------


def say_date(value: date, *, with_year: bool = True) -> str:
    """``2027-01-06`` -> ``"6 January 2027"``."""
    text = f"{value.day} {_(MONTH_WORDS[value.month - 1])}"
    return f"{text} {value.year}" if with_year else text


def say_time(clock: str) -> str:
    """``"10:00"`` -> ``"10am"``, ``"12:00"`` -> ``"12 noon"``, ``"14:30"`` -> ``"2:30pm"``."""
    hours, minutes = (int(x) for x in clock.split(":"))
    if (hours, minutes) == (12, 0):
        return _("12 noon")
    if (hours, minutes) == (0, 0):
        return _("midnight")
    shown = hours % 12 or 12
    clock = str(shown) if minutes == 0 else f"{shown}:{minutes:02d}"
    return _("%(time)sam", time=clock) if hours < 12 else _("%(time)spm", time=clock)


def _month_day(n: int) -> str:
    """``15`` -> "the 15th" in the reader's language (RFC 5545 allows -31 to 31)."""
    if n in _MONTH_DAYS:
        return _(_MONTH_DAYS[n])
    return _("day %(number)s", number=n)


def _join(words: list[str]) -> str:
    if len(words) == 1:
        return words[0]
    return _("%(items)s and %(last)s", items=", ".join(words[:-1]), last=words[-1])


def describe_rule(rule: Mapping[str, Any]) -> str:
    """One rule in plain words: ``"Every Tuesday, 10am to 12 noon, from 6 January 2027"``."""
    parts = rule_parts(rule)
    codes = [c for c in parts.get("BYDAY", "").split(",") if c]
    interval = int(parts.get("INTERVAL", "1") or 1)
    names = [DAY_IN_SENTENCE[DAY_OF_CODE[c[-2:]]]() for c in codes if c[-2:] in DAY_OF_CODE]
    if parts.get("FREQ") == "MONTHLY" and parts.get("BYMONTHDAY"):
        days = [
            _month_day(int(d)) for d in parts["BYMONTHDAY"].split(",") if d.lstrip("-").isdigit()
        ]
        how = _("On %(days)s of every month", days=_join(days))
    elif parts.get("FREQ") == "MONTHLY":
        placed = []
        for code in codes:
            position, day = code[:-2] or "1", DAY_OF_CODE.get(code[-2:])
            if day is not None:
                which = _WEEK_WORDS.get(position, N_("the %(day)s in week %(week)s"))
                placed.append(_(which, day=DAY_IN_SENTENCE[day](), week=position))
        how = _("On %(days)s of every month", days=_join(placed))
    elif interval == 2:
        how = _("Every other %(days)s", days=_join(names))
    elif interval > 2:
        how = _("Every %(weeks)s weeks on %(days)s", weeks=interval, days=_join(names))
    else:
        how = _("Every %(days)s", days=_join(names))
    if parts.get("FREQ") == "MONTHLY" and interval > 1:
        how = _("%(how)s (every %(months)s months)", how=how, months=interval)
    text = _(
        "%(how)s, %(opens)s to %(closes)s",
        how=how,
        opens=say_time(rule["opens_at"]),
        closes=say_time(rule["closes_at"]),
    )
    start = say_date(_iso(rule["dtstart"])) if rule.get("dtstart") else None
    until = until_date(rule)
    end = say_date(until) if until is not None else None
    if start and end:
        text = _("%(text)s, from %(start)s to %(end)s", text=text, start=start, end=end)
    elif start:
        text = _("%(text)s, from %(start)s", text=text, start=start)
    elif end:
        text = _("%(text)s to %(end)s", text=text, end=end)
    exdates = [say_date(_iso(d)) for d in rule.get("exdates") or []]
    if exdates:
        text = _("%(text)s. Not on %(dates)s", text=text, dates=_join(exdates))
    return text


def describe_rules(rules: Iterable[Mapping[str, Any]]) -> list[str]:
    return [describe_rule(r) for r in rules]


def until_date(rule: Mapping[str, Any]) -> date | None:
    """The ``UNTIL`` of a rule as a date, or None when it goes on."""
    value = rule_parts(rule).get("UNTIL")
    if not value:
        return None
    return date(int(value[:4]), int(value[4:6]), int(value[6:8]))


# --- checking what a provider typed ----------------------------------------------------------


def _clock(value: str) -> str | None:
    """``"10"``, ``"10am"``, ``"2:30pm"``, ``"14:30"`` -> ``"HH:MM"``; None when it is not."""
    match = _CLOCK.match(value.strip())
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2) or 0)
    suffix = (match.group(3) or "").lower()
    if suffix:
        if not 1 <= hours <= 12:
            return None
        hours = hours % 12 + (12 if suffix == "pm" else 0)
    if hours > 23 or minutes > 59:
        return None
    return f"{hours:02d}:{minutes:02d}"


def _typed_date(day: str, month: str, year: str) -> date | None:
    try:
        if not (day.strip().isdigit() and month.strip().isdigit() and year.strip().isdigit()):
            return None
        found = date(int(year), int(month), int(day))
    except ValueError:
        return None
    return found if 2000 <= found.year <= 2100 else None


def _date_in_list(text: str) -> date | None:
    text = text.strip()
    iso = _ISO_DATE.match(text)
    if iso:
        return _typed_date(iso.group(3), iso.group(2), iso.group(1))
    uk = _UK_DATE.match(text)
    return _typed_date(uk.group(1), uk.group(2), uk.group(3)) if uk else None


def clean_rule(form: Mapping[str, Any]) -> dict[str, Any]:
    """One rule from the page's answers, or :class:`InvalidInput` naming each wrong field.

    Fields: ``often`` (a key of :data:`OFTEN_CHOICES`), ``days`` (a list of ``mon``..``sun``,
    for weekly rules), ``week`` and ``weekday`` (for "the first Monday"), ``month_day`` (1 to
    31), ``opens_at`` and ``closes_at`` (clock times), ``start-day/-month/-year`` and
    ``end-day/-month/-year`` (the end may be left blank) and ``not_on`` (dates, one a line).
    """
    errors: dict[str, str] = {}

    def text(name: str) -> str:
        value = form.get(name, "")
        return value.strip() if isinstance(value, str) else ""

    often = text("often")
    byday = ""
    if often not in OFTEN_CHOICES:
        errors["often"] = "Choose how often it runs"
    elif often in ("weekly", "fortnightly"):
        days = form.get("days") or []
        days = [days] if isinstance(days, str) else list(days)
        if not days:
            errors["days"] = "Choose the days it runs"
        elif any(d not in BYDAY for d in days):
            errors["days"] = "Choose days from the list"
        else:
            byday = ",".join(BYDAY[d] for d in DAYS if d in days)
    elif often == "monthly_day":
        if text("week") not in WEEK_CHOICES:
            errors["week"] = "Choose which week of the month it runs"
        if text("weekday") not in BYDAY:
            errors["weekday"] = "Choose the day it runs"
        if "week" not in errors and "weekday" not in errors:
            byday = text("week") + BYDAY[text("weekday")]
    month_day = text("month_day")
    if often == "monthly_date" and not (month_day.isdigit() and 1 <= int(month_day) <= 31):
        errors["month_day"] = "Enter a date in the month from 1 to 31, like 15"

    opens, closes = _clock(text("opens_at")), _clock(text("closes_at"))
    if not text("opens_at"):
        errors["opens_at"] = "Enter the time it starts, like 10am"
    elif opens is None:
        errors["opens_at"] = "Enter the time it starts as a time, like 10am or 14:30"
    if not text("closes_at"):
        errors["closes_at"] = "Enter the time it ends, like 12 noon"
    elif closes is None:
        errors["closes_at"] = "Enter the time it ends as a time, like 12pm or 16:30"
    if opens and closes and closes <= opens:
        errors["closes_at"] = "The time it ends must be after the time it starts"

    start_typed = [text(f"start-{p}") for p in ("day", "month", "year")]
    start = _typed_date(*start_typed)
    if not any(start_typed):
        errors["start"] = "Enter the first date it runs"
    elif start is None:
        errors["start"] = "The first date must be a real date, like 6 1 2027"
    end_typed = [text(f"end-{p}") for p in ("day", "month", "year")]
    end = _typed_date(*end_typed) if any(end_typed) else None
    if any(end_typed) and end is None:
        errors["end"] = "The last date must be a real date, like 31 3 2027, or leave it blank"
    if start and end and end < start:
        errors["end"] = "The last date must be the same as or after the first date"

    exdates: list[date] = []
    lines = [line for line in text("not_on").splitlines() if line.strip()]
    for line in lines:
        found = _date_in_list(line)
        if found is None:
            errors["not_on"] = f"“{line.strip()[:20]}” is not a date. Write dates like 24/12/2026"
            break
        exdates.append(found)
    if len(exdates) > MAX_EXDATES:
        errors["not_on"] = f"You can list up to {MAX_EXDATES} dates"

    if errors:
        raise InvalidInput(errors)
    assert start is not None and opens is not None and closes is not None
    pieces = ["FREQ=MONTHLY" if often.startswith("monthly") else "FREQ=WEEKLY"]
    pieces.append(f"INTERVAL={2 if often == 'fortnightly' else 1}")
    pieces.append(f"BYMONTHDAY={int(month_day)}" if often == "monthly_date" else f"BYDAY={byday}")
    if end is not None:
        pieces.append(f"UNTIL={end:%Y%m%d}")
    rule = {
        "rrule": ";".join(pieces),
        "dtstart": start.isoformat(),
        "opens_at": opens,
        "closes_at": closes,
        "exdates": sorted({d.isoformat() for d in exdates}),
    }
    if not rule_dates(rule, start, end or start + timedelta(days=3 * 366)):
        errors["start"] = "It never runs between these dates. Check the days and the dates"
        raise InvalidInput(errors)
    return rule


def check_rule(rule: Any) -> dict[str, Any]:
    """A rule from elsewhere (an import): the same checks, or :class:`ValueError` saying why."""
    if not isinstance(rule, Mapping):
        raise ValueError("a schedule is not an object")
    try:
        first = rule.get("dtstart")
        start = _iso(str(first)) if first else None
        opens, closes = _clock(str(rule["opens_at"])), _clock(str(rule["closes_at"]))
        exdates = sorted({_iso(str(d)).isoformat() for d in rule.get("exdates") or []})
        clean = {
            "rrule": str(rule["rrule"]).upper().replace(" ", ""),
            "dtstart": start.isoformat() if start else None,
            "opens_at": opens,
            "closes_at": closes,
            "exdates": exdates,
        }
        if opens is None or closes is None or closes <= opens:
            raise ValueError("its times are not a start and a later end")
        parts = rule_parts(clean)
        if parts.get("FREQ") not in ("WEEKLY", "MONTHLY"):
            raise ValueError("it is not weekly or monthly")
        if set(parts) - RULE_PARTS:
            raise ValueError(
                f"it has parts Tapestry does not keep: {sorted(set(parts) - RULE_PARTS)}"
            )
        if start is None and int(parts.get("INTERVAL") or 1) != 1:
            raise ValueError("it is not every week or month, but has no first date")
        until = until_date(clean)
        begin = start or date(2000, 1, 1)
        rule_dates(clean, begin, until or begin + timedelta(days=400))
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise ValueError(f"its RFC 5545 rule cannot be read ({error})") from None
    return clean
