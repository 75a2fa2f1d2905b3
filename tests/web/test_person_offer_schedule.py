"""The person's page of a service says when it runs from its RFC 5545 rules, in words."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from tests.services.person_world import make_world
from web.services.recurrence import describe_rule


def test_the_person_reads_when_it_runs_in_words(
    app: Flask, db_session: Session, login, client
) -> None:
    world = make_world()
    cafe = world.offers["cafe"]
    rule = {
        "rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
        "dtstart": "2027-01-05",
        "opens_at": "10:00",
        "closes_at": "13:30",
        "exdates": [],
    }
    cafe.schedule_rules = [rule]
    db_session.flush()
    login(client, world.user)
    html = client.get(f"/person/services/{cafe.id}").get_data(as_text=True)
    words = describe_rule(rule)
    assert words and "FREQ=" not in words
    assert f"{words}." in html.replace("&#39;", "'")
