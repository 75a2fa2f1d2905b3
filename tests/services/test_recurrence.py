"""RFC 5545 schedules: what a provider types, the rule kept, its dates and its plain words."""

from __future__ import annotations

from datetime import date

import pytest

from web.services.errors import InvalidInput
from web.services.recurrence import (
    check_rule,
    clean_rule,
    describe_rule,
    pattern_from_rules,
    rule_dates,
    upcoming_slots,
    weekly_rules,
)

START = {"start-day": "5", "start-month": "1", "start-year": "2027"}


def test_every_tuesday_is_a_weekly_rrule_in_plain_words() -> None:
    rule = clean_rule(
        {"often": "weekly", "days": ["tue"], "opens_at": "10am", "closes_at": "12pm", **START}
    )
    assert rule == {
        "rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU",
        "dtstart": "2027-01-05",
        "opens_at": "10:00",
        "closes_at": "12:00",
        "exdates": [],
    }
    assert describe_rule(rule) == "Every Tuesday, 10am to 12 noon, from 5 January 2027"


def test_every_other_week_skips_a_week_and_leaves_out_the_exceptions() -> None:
    rule = clean_rule(
        {
            "often": "fortnightly",
            "days": ["tue", "thu"],
            "opens_at": "14:00",
            "closes_at": "4:30pm",
            **START,
            "end-day": "4",
            "end-month": "2",
            "end-year": "2027",
            "not_on": "19/01/2027\n",
        }
    )
    assert rule["rrule"] == "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;UNTIL=20270204"
    assert rule["exdates"] == ["2027-01-19"]
    dates = rule_dates(rule, date(2027, 1, 1), date(2027, 3, 1))
    # Thursday 4 February is the last date, and it is one.
    assert dates == [
        date(2027, 1, 5),
        date(2027, 1, 7),
        date(2027, 1, 21),
        date(2027, 2, 2),
        date(2027, 2, 4),
    ]
    assert describe_rule(rule) == (
        "Every other Tuesday and Thursday, 2pm to 4:30pm, from 5 January 2027 to 4 February"
        " 2027. Not on 19 January 2027"
    )


def test_first_monday_and_the_15th_of_every_month() -> None:
    first = clean_rule(
        {
            "often": "monthly_day",
            "week": "1",
            "weekday": "mon",
            "opens_at": "9",
            "closes_at": "11",
            **START,
        }  # fmt: skip
    )
    assert first["rrule"] == "FREQ=MONTHLY;INTERVAL=1;BYDAY=1MO"
    # Monday 4 January is before the first date (Tuesday 5 January).
    assert rule_dates(first, date(2027, 1, 1), date(2027, 3, 31)) == [
        date(2027, 2, 1),
        date(2027, 3, 1),
    ]
    assert describe_rule(first).startswith("On the first Monday of every month, 9am to 11am")
    last = clean_rule(
        {
            "often": "monthly_day",
            "week": "-1",
            "weekday": "fri",
            "opens_at": "18:00",
            "closes_at": "20:00",
            **START,
        }  # fmt: skip
    )
    assert rule_dates(last, date(2027, 1, 1), date(2027, 2, 28)) == [
        date(2027, 1, 29),
        date(2027, 2, 26),
    ]
    assert describe_rule(last).startswith("On the last Friday of every month")
    dated = clean_rule(
        {
            "often": "monthly_date",
            "month_day": "15",
            "opens_at": "10:00",
            "closes_at": "11:00",
            **START,
        }  # fmt: skip
    )
    assert dated["rrule"] == "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=15"
    assert describe_rule(dated).startswith("On the 15th of every month, 10am to 11am")


def test_each_wrong_answer_is_named_beside_its_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_rule(
            {
                "often": "weekly",
                "days": [],
                "opens_at": "3pm",
                "closes_at": "1pm",
                "start-day": "31",
                "start-month": "2",
                "start-year": "2027",
                "not_on": "next Tuesday",
            }
        )
    assert set(caught.value.errors) == {"days", "closes_at", "start", "not_on"}
    assert "after the time it starts" in caught.value.errors["closes_at"]
    with pytest.raises(InvalidInput) as caught:
        clean_rule(
            {
                "often": "weekly",
                "days": ["mon"],
                "opens_at": "25:00",
                "closes_at": "",
                **START,
                "end-day": "1",
                "end-month": "1",
                "end-year": "2027",
            }  # fmt: skip
        )
    assert set(caught.value.errors) == {"opens_at", "closes_at", "end"}
    assert "after the first date" in caught.value.errors["end"]
    with pytest.raises(InvalidInput) as caught:
        clean_rule({"often": "yearly", "opens_at": "10", "closes_at": "11", **START})
    assert set(caught.value.errors) == {"often"}


def test_a_rule_that_never_runs_is_refused() -> None:
    # Every Monday, from Tuesday 5 January to Sunday 10 January: no Monday in between.
    with pytest.raises(InvalidInput) as caught:
        clean_rule(
            {
                "often": "weekly",
                "days": ["mon"],
                "opens_at": "10",
                "closes_at": "11",
                **START,
                "end-day": "10",
                "end-month": "1",
                "end-year": "2027",
            }  # fmt: skip
        )
    assert "never runs" in caught.value.errors["start"]


def test_slots_and_pattern_say_when_sessions_fall() -> None:
    rules = weekly_rules({"mon": ["morning"], "wed": ["morning", "evening"]}, date(2027, 1, 4))
    assert [r["rrule"] for r in rules] == [
        "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE",
        "FREQ=WEEKLY;INTERVAL=1;BYDAY=WE",
    ]
    assert pattern_from_rules(rules) == {"mon": ["morning"], "wed": ["morning", "evening"]}
    assert upcoming_slots(rules, date(2027, 1, 4)) == {"mon-morning", "wed-morning", "wed-evening"}
    # Ended rules have no sessions to come.
    assert upcoming_slots(rules, date(2026, 1, 1)) == frozenset()
    over_noon = {**rules[0], "opens_at": "11:00", "closes_at": "13:00"}
    assert pattern_from_rules([over_noon]) == {
        "mon": ["morning", "afternoon"],
        "wed": ["morning", "afternoon"],
    }


def test_rules_from_elsewhere_are_checked() -> None:
    good = {"rrule": "freq=weekly;byday=MO", "dtstart": "2027-01-04", "opens_at": "10:00",
            "closes_at": "11:00:00", "exdates": ["2027-01-11"]}  # fmt: skip
    assert check_rule(good)["rrule"] == "FREQ=WEEKLY;BYDAY=MO"
    for bad in (
        {**good, "rrule": "FREQ=DAILY"},
        {**good, "closes_at": "09:00"},
        {**good, "dtstart": "soon"},
        {**good, "rrule": "FREQ=WEEKLY;BYDAY=XX"},
        "every Monday",
    ):
        with pytest.raises(ValueError):
            check_rule(bad)
