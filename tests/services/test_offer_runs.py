"""An offer's RFC 5545 schedules as matching reads them: sessions from a fixed date."""

from __future__ import annotations

from datetime import date

from models.providers import Offer
from web.services.matching import PersonFacts, score_offer
from web.services.profiles import offer_facts, offer_runs

# Monday 4 January 2027; the coming 13 weeks run to Monday 5 April 2027.
TODAY = date(2027, 1, 4)


def rule(rrule: str, dtstart: str | None = "2027-01-05", **kw: object) -> dict[str, object]:
    return {
        "rrule": rrule,
        "dtstart": dtstart,
        "opens_at": kw.get("opens_at", "10:00"),
        "closes_at": kw.get("closes_at", "12:00"),
        "exdates": kw.get("exdates", []),
    }


def an_offer(*rules: dict[str, object], schedule: dict[str, list[str]] | None = None) -> Offer:
    return Offer(
        id=7,
        title="Pottery",
        price_pence=5000,
        area="Northtown",
        location="The Old Mill",
        schedule=schedule or {},
        schedule_rules=list(rules),
    )


def test_a_weekly_rule_counts_its_sessions_by_weekday() -> None:
    [run] = offer_runs(an_offer(rule("FREQ=WEEKLY;INTERVAL=1;BYDAY=TU,TH")), TODAY)
    # Tuesdays 5 Jan .. 30 Mar (13) and Thursdays 7 Jan .. 1 Apr (13).
    assert run.sessions == (("tue", 13), ("thu", 13))
    assert run.parts == ("morning",)
    assert run.words == "every Tuesday and Thursday, 10am to 12 noon"


def test_first_dates_last_dates_and_dates_off_are_kept() -> None:
    fortnightly = rule(
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;UNTIL=20270224",
        dtstart="2027-01-13",
        exdates=["2027-01-27"],
        opens_at="11:00",
        closes_at="13:00",
    )
    [run] = offer_runs(an_offer(fortnightly), TODAY)
    # 13 Jan, (27 Jan off), 10 Feb, 24 Feb.
    assert run.sessions == (("wed", 3),)
    assert run.parts == ("morning", "afternoon")
    assert run.words == "every other Wednesday, 11am to 1pm"


def test_monthly_rules_fall_on_their_weekday_or_date() -> None:
    first_monday = rule("FREQ=MONTHLY;INTERVAL=1;BYDAY=1MO", dtstart="2027-01-04")
    fifteenth = rule("FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=15", dtstart="2027-01-01")
    by_day, by_date = offer_runs(an_offer(first_monday, fifteenth), TODAY)
    # 4 Jan, 1 Feb, 1 Mar, 5 Apr.
    assert by_day.sessions == (("mon", 4),)
    assert by_day.words == "on the first Monday of every month, 10am to 12 noon"
    # 15 Jan is a Friday, 15 Feb and 15 Mar are Mondays.
    assert by_date.sessions == (("mon", 2), ("fri", 1))


def test_a_rule_that_ended_or_starts_later_has_no_sessions_but_says_when() -> None:
    ended = rule("FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;UNTIL=20261222", dtstart="2026-09-01")
    later = rule("FREQ=WEEKLY;INTERVAL=1;BYDAY=FR", dtstart="2027-06-04")
    gone, soon = offer_runs(an_offer(ended, later), TODAY)
    assert (gone.sessions, gone.ended, gone.starts) == ((), "22 December 2026", None)
    assert (soon.sessions, soon.starts) == ((), "4 June 2027")


def test_an_imported_rule_without_a_first_date_runs_from_today() -> None:
    [run] = offer_runs(an_offer(rule("FREQ=WEEKLY;BYDAY=SA", dtstart=None)), TODAY)
    # Saturdays 9 Jan .. 3 Apr.
    assert run.sessions == (("sat", 13),)


def test_an_offer_kept_as_days_and_parts_runs_weekly_at_those_parts() -> None:
    runs = offer_runs(an_offer(schedule={"mon": ["evening"], "wed": ["evening"]}), TODAY)
    assert [(r.parts, dict(r.sessions)) for r in runs] == [(("evening",), {"mon": 14, "wed": 13})]


def test_a_rule_that_cannot_be_read_is_left_out() -> None:
    broken = {"rrule": "FREQ=SOMETIMES", "opens_at": "10:00", "closes_at": "12:00"}
    good = rule("FREQ=WEEKLY;INTERVAL=1;BYDAY=TU")
    assert [r.words for r in offer_runs(an_offer(broken, good), TODAY)] == [
        "every Tuesday, 10am to 12 noon"
    ]


def test_the_person_busy_on_thursdays_is_told_so() -> None:
    facts = offer_facts(an_offer(rule("FREQ=WEEKLY;INTERVAL=1;BYDAY=TU,TH")), today=TODAY)
    person = PersonFacts(free_slots=frozenset({"tue-morning"}))
    match = score_offer(person, facts)
    assert match.points["availability"] == 5
    assert [r.text for r in match.reasons if r.part == "availability"] == [
        "It runs every Tuesday and Thursday, 10am to 12 noon. You can go to 13 of its 26"
        " sessions in the next 3 months. You are busy on Thursday morning."
    ]
