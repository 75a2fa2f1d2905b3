"""The match score: weights, hard fails, order and the plain-word reasons."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from web.services.matching import (
    WEIGHTS,
    OfferFacts,
    PersonFacts,
    Run,
    describe_ages,
    describe_slots,
    format_distance,
    format_money,
    haversine_km,
    match_offers,
    say_distance,
    score_offer,
    slots_from_schedule,
)

NORTHTOWN = (52.600, -1.200)
# About 3 miles (4.8 km) north of Northtown.
NEAR_NORTHTOWN = (52.643, -1.200)

CHILDREN = {"work-with-children": "Work with children"}
JOB = {"paid-job": "Get a paid job"}


def person(**kw: object) -> PersonFacts:
    base: dict[str, object] = {
        "outcome_tags": {**CHILDREN, **JOB},
        "budget_pence": 30000,
        "area": "Northtown",
        "latitude": NORTHTOWN[0],
        "longitude": NORTHTOWN[1],
        "max_travel_km": 10.0,
        "age_band": "18-24",
        "need_level": 2,
        "free_slots": frozenset({"mon-morning", "wed-morning", "fri-afternoon"}),
    }
    base.update(kw)
    return PersonFacts(**base)  # type: ignore[arg-type]


def offer(**kw: object) -> OfferFacts:
    base: dict[str, object] = {
        "id": 1,
        "title": "Nursery assistant placement",
        "price_pence": 12000,
        "outcome_tags": dict(CHILDREN),
        "area": "Northtown",
        "latitude": NEAR_NORTHTOWN[0],
        "longitude": NEAR_NORTHTOWN[1],
        "slots": frozenset({"mon-morning", "wed-morning"}),
    }
    base.update(kw)
    return OfferFacts(**base)  # type: ignore[arg-type]


def texts(match) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.text for r in match.reasons]


def test_weights_add_up_to_one_hundred() -> None:
    assert sum(WEIGHTS.values()) == 100


def test_perfect_free_offer_next_door_scores_one_hundred() -> None:
    m = score_offer(
        person(),
        offer(
            price_pence=0,
            outcome_tags={**CHILDREN, **JOB},
            latitude=NORTHTOWN[0],
            longitude=NORTHTOWN[1],
            eligible_age_bands=("18-24",),
        ),
    )
    assert m.fits
    assert m.score == 100
    assert dict(m.points) == dict(WEIGHTS)


def test_reasons_are_plain_words_for_a_good_match() -> None:
    m = score_offer(person(), offer())
    assert texts(m) == [
        "This matches your wish: work with children.",
        "It costs £120, which fits your budget of £300.",
        "It is in Northtown, about 3 miles away.",
        "It happens on Monday and Wednesday mornings, when you are free.",
    ]
    assert m.fits and all(r.kind == "good" for r in m.reasons)


def test_each_further_shared_tag_adds_points_up_to_the_weight() -> None:
    one = score_offer(person(), offer(outcome_tags=CHILDREN))
    two = score_offer(person(), offer(outcome_tags={**CHILDREN, **JOB}))
    none = score_offer(person(), offer(outcome_tags={"gardening": "Gardening"}))
    assert (none.points["aspirations"], one.points["aspirations"]) == (0, 25)
    assert two.points["aspirations"] == 40
    many = {f"t{i}": f"Tag {i}" for i in range(6)}
    three = {k: many[k] for k in ("t0", "t1", "t2")}
    most = score_offer(person(outcome_tags=many), offer(outcome_tags=three))
    assert most.points["aspirations"] == WEIGHTS["aspirations"]
    only_wish = score_offer(person(outcome_tags=CHILDREN), offer(outcome_tags={**CHILDREN, **JOB}))
    assert only_wish.points["aspirations"] == WEIGHTS["aspirations"]
    assert "This matches your wishes: work with children and get a paid job." in texts(two)
    assert "This does not match any of your wishes." in texts(none)


def test_over_budget_is_a_hard_fail_with_score_zero_and_a_reason() -> None:
    m = score_offer(person(), offer(price_pence=40000))
    assert not m.fits
    assert m.score == 0
    assert [r.text for r in m.blockers] == [
        "It costs £400, which is more than your budget of £300."
    ]


def test_price_exactly_the_budget_fits_for_half_the_budget_points() -> None:
    m = score_offer(person(), offer(price_pence=30000))
    assert m.fits
    assert m.points["budget"] == WEIGHTS["budget"] // 2


def test_partly_spent_budget_is_described_as_money_left() -> None:
    m = score_offer(person(budget_pence=18000, budget_is_partly_spent=True), offer())
    assert "It costs £120, which fits the £180 left in your budget." in texts(m)


def test_no_budget_is_neutral_not_a_fail() -> None:
    m = score_offer(person(budget_pence=None), offer())
    assert m.fits
    assert m.points["budget"] == WEIGHTS["budget"] // 2


def test_age_band_and_need_level_rules_are_hard_fails() -> None:
    m = score_offer(
        person(need_level=1),
        offer(eligible_age_bands=("50-64", "65+"), min_need_level=3),
    )
    assert not m.fits and m.score == 0
    assert [r.text for r in m.blockers] == [
        "It is only for people aged 50 and over, so you cannot join.",
        "It is for people with a need level of 3 or more, so you cannot join.",
    ]
    too_high = score_offer(person(need_level=5), offer(max_need_level=3))
    assert not too_high.fits


def test_meeting_eligibility_rules_says_so() -> None:
    m = score_offer(person(), offer(eligible_age_bands=("18-24",), min_need_level=2))
    assert m.fits
    assert "You can join it." in texts(m)


def test_travel_beyond_limit_costs_points_but_still_fits() -> None:
    near = score_offer(person(), offer())
    far = score_offer(person(max_travel_km=2.0), offer())
    assert far.fits
    assert far.points["place"] == 0
    assert near.points["place"] > 10
    assert (
        "It is in Northtown, about 3 miles away."
        " That is further than the 1 mile you said you can travel." in texts(far)
    )


def test_without_coordinates_same_area_beats_other_area() -> None:
    same = score_offer(person(latitude=None), offer())
    other = score_offer(person(latitude=None), offer(area="Eastbrook"))
    assert same.points["place"] == WEIGHTS["place"]
    assert other.points["place"] < same.points["place"]
    assert "It is in Eastbrook, not in Northtown." in texts(other)


def test_online_offers_are_near_everyone() -> None:
    m = score_offer(person(max_travel_km=0.5), offer(online=True, area=None, latitude=None))
    assert m.points["place"] == WEIGHTS["place"]
    assert "It happens online, so you can join from home." in texts(m)


def test_availability_counts_the_share_of_sessions_when_free() -> None:
    half = score_offer(person(), offer(slots=frozenset({"mon-morning", "tue-afternoon"})))
    none = score_offer(person(), offer(slots=frozenset({"sat-evening"})))
    unknown = score_offer(person(free_slots=frozenset()), offer())
    assert half.points["availability"] == 5
    assert none.points["availability"] == 0
    assert unknown.points["availability"] == 5
    assert "It happens on Saturday evening, when you are busy." in texts(none)


def test_order_puts_fits_first_then_score_then_price() -> None:
    over = offer(id=1, title="A", price_pence=50000, outcome_tags={**CHILDREN, **JOB})
    cheap = offer(id=2, title="B", price_pence=1000, outcome_tags={})
    dear = offer(id=3, title="C", price_pence=5000, outcome_tags={})
    best = offer(id=4, title="D", outcome_tags={**CHILDREN, **JOB})
    ranked = match_offers(person(), [over, cheap, dear, best])
    assert [m.offer.id for m in ranked] == [4, 2, 3, 1]
    assert [m.fits for m in ranked] == [True, True, True, False]


def test_equal_scores_are_ordered_the_same_every_time() -> None:
    offers = [offer(id=i, title=f"Same {i % 3}") for i in range(9)]
    first = [m.offer.id for m in match_offers(person(), offers)]
    again = [m.offer.id for m in match_offers(person(), list(reversed(offers)))]
    assert first == again


@pytest.mark.parametrize(
    ("pence", "text"),
    [(12000, "£120"), (9550, "£95.50"), (123456, "£1,234.56"), (5, "£0.05"), (0, "£0")],
)
def test_format_money(pence: int, text: str) -> None:
    assert format_money(pence) == text


def test_haversine_and_miles() -> None:
    # London to Paris is about 344 km.
    assert 340 < haversine_km(51.5074, -0.1278, 48.8566, 2.3522) < 348
    assert format_distance(0.3) == "less than 1 mile"
    assert format_distance(1.7) == "1 mile"
    assert format_distance(8.1) == "5 miles"
    assert say_distance(0.7) == "less than a mile"
    assert say_distance(4.8) == "about 3 miles"
    assert say_distance(1.7) == "about 1 mile"


def test_describe_slots_groups_by_part_of_day() -> None:
    assert describe_slots({"fri-afternoon", "mon-morning", "wed-morning"}) == (
        "Monday and Wednesday mornings and Friday afternoon"
    )
    assert describe_slots({"sun-evening"}) == "Sunday evening"


def test_slots_from_schedule_and_ages_in_words() -> None:
    schedule = {"mon": ["morning"], "wed": ["morning", "afternoon"], "xyz": ["morning"]}
    assert slots_from_schedule(schedule) == {"mon-morning", "wed-morning", "wed-afternoon"}
    assert slots_from_schedule({}) == frozenset()
    assert describe_ages(("18-24", "25-34")) == "aged 18 to 34"
    assert describe_ages(("16-17",)) == "aged 16 to 17"
    assert describe_ages(("65+",)) == "aged 65 and over"


def test_zero_travel_means_cannot_travel_and_unknown_limit_is_neutral() -> None:
    stuck = score_offer(person(max_travel_km=0.0), offer())
    assert stuck.points["place"] == 0
    assert "It is in Northtown, about 3 miles away. You said you cannot travel." in texts(stuck)
    same_place = score_offer(
        person(max_travel_km=0.0), offer(latitude=NORTHTOWN[0], longitude=NORTHTOWN[1])
    )
    assert same_place.points["place"] == WEIGHTS["place"]
    unknown = score_offer(person(max_travel_km=None), offer(area="Eastbrook"))
    assert unknown.points["place"] == WEIGHTS["place"] // 2
    assert "It is in Eastbrook, about 3 miles away." in texts(unknown)


TAG_CODES = ["a", "b", "c", "d", "e"]
SLOTS = [f"{d}-{p}" for d in ("mon", "tue", "sat") for p in ("morning", "evening")]
BANDS = ["16-17", "18-24", "25-34", "35-49", "50-64", "65+"]

coords = st.one_of(st.none(), st.floats(min_value=50.0, max_value=55.0))
person_facts = st.builds(
    PersonFacts,
    outcome_tags=st.dictionaries(st.sampled_from(TAG_CODES), st.just("Tag"), max_size=5),
    budget_pence=st.one_of(st.none(), st.integers(min_value=0, max_value=100_000)),
    area=st.one_of(st.none(), st.sampled_from(["North", "South"])),
    latitude=coords,
    longitude=coords,
    max_travel_km=st.one_of(st.none(), st.floats(min_value=0, max_value=100)),
    age_band=st.one_of(st.none(), st.sampled_from(BANDS)),
    need_level=st.one_of(st.none(), st.integers(min_value=0, max_value=10)),
    free_slots=st.frozensets(st.sampled_from(SLOTS)),
)
offer_facts = st.builds(
    OfferFacts,
    id=st.integers(min_value=1, max_value=10_000),
    title=st.sampled_from(["A", "B", "C"]),
    price_pence=st.integers(min_value=0, max_value=100_000),
    outcome_tags=st.dictionaries(st.sampled_from(TAG_CODES), st.just("Tag"), max_size=5),
    area=st.one_of(st.none(), st.sampled_from(["North", "South"])),
    latitude=coords,
    longitude=coords,
    online=st.booleans(),
    eligible_age_bands=st.lists(st.sampled_from(BANDS), max_size=3, unique=True).map(tuple),
    min_need_level=st.one_of(st.none(), st.integers(min_value=0, max_value=10)),
    max_need_level=st.one_of(st.none(), st.integers(min_value=0, max_value=10)),
    slots=st.frozensets(st.sampled_from(SLOTS)),
)


@given(person_facts, st.lists(offer_facts, max_size=8))
def test_scores_parts_and_order_hold_for_any_facts(p: PersonFacts, offers: list) -> None:  # type: ignore[type-arg]
    ranked = match_offers(p, offers)
    assert sorted(id(m.offer) for m in ranked) == sorted(id(o) for o in offers)
    for m in ranked:
        assert 0 <= m.score <= 100
        assert all(0 <= m.points[part] <= WEIGHTS[part] for part in WEIGHTS)
        assert m.fits == (not m.blockers)
        assert m.score == (sum(m.points.values()) if m.fits else 0)
        assert m.reasons and all(r.text.endswith(".") for r in m.reasons)
        over_budget = p.budget_pence is not None and m.offer.price_pence > p.budget_pence
        assert over_budget == any(r.part == "budget" for r in m.blockers)
    fits = [m.fits for m in ranked]
    assert fits == sorted(fits, reverse=True)  # every fitting offer before any that does not
    scores = [m.score for m in ranked if m.fits]
    assert scores == sorted(scores, reverse=True)


# --- schedules (RFC 5545 rules, as :class:`Run`) against the person's free times -------------

TUESDAYS = Run(words="every Tuesday, 10am to 12 noon", parts=("morning",), sessions=(("tue", 13),))
LATE_THURSDAYS = Run(
    words="every Thursday, 11am to 1pm", parts=("morning", "afternoon"), sessions=(("thu", 13),)
)


def test_a_schedule_when_the_person_is_free_earns_every_point() -> None:
    m = score_offer(person(free_slots=frozenset({"tue-morning"})), offer(runs=(TUESDAYS,)))
    assert m.points["availability"] == WEIGHTS["availability"]
    assert "It runs every Tuesday, 10am to 12 noon. You are free then." in texts(m)


def test_a_schedule_when_the_person_is_busy_says_when_they_are_busy() -> None:
    m = score_offer(person(free_slots=frozenset({"mon-morning"})), offer(runs=(TUESDAYS,)))
    assert m.points["availability"] == 0
    [reason] = [r for r in m.reasons if r.part == "availability"]
    assert reason.kind == "bad"
    assert reason.text == "It runs every Tuesday, 10am to 12 noon. You are busy on Tuesday morning."


def test_a_session_across_two_parts_of_the_day_needs_both() -> None:
    morning_only = person(free_slots=frozenset({"thu-morning"}))
    both = person(free_slots=frozenset({"thu-morning", "thu-afternoon"}))
    assert score_offer(morning_only, offer(runs=(LATE_THURSDAYS,))).points["availability"] == 0
    assert (
        "You are busy on Thursday afternoon."
        in texts(score_offer(morning_only, offer(runs=(LATE_THURSDAYS,))))[-1]
    )
    assert score_offer(both, offer(runs=(LATE_THURSDAYS,))).points["availability"] == 10


def test_sessions_count_by_how_often_they_come() -> None:
    # 13 Tuesdays and 3 first Mondays: free on Tuesdays only is 13 of 16 sessions.
    monthly = Run(
        words="on the first Monday of every month, 6pm to 8pm",
        parts=("evening",),
        sessions=(("mon", 3),),
    )
    m = score_offer(person(free_slots=frozenset({"tue-morning"})), offer(runs=(TUESDAYS, monthly)))
    assert m.points["availability"] == round(10 * 13 / 16)
    assert texts(m)[-1] == (
        "It runs every Tuesday, 10am to 12 noon and on the first Monday of every month,"
        " 6pm to 8pm. You can go to 13 of its 16 sessions in the next 3 months."
        " You are busy on Monday evening."
    )


def test_schedules_without_sessions_say_why() -> None:
    ended = Run(words="every Tuesday, 10am to 12 noon", parts=("morning",), ended="30 March 2027")
    later = Run(words="every Friday, 2pm to 4pm", parts=("afternoon",), starts="6 August 2027")
    free = person(free_slots=frozenset({"tue-morning", "fri-afternoon"}))
    gone = score_offer(free, offer(runs=(ended,)))
    assert gone.points["availability"] == 0
    assert texts(gone)[-1] == "It has stopped running. Its last session was on 30 March 2027."
    soon = score_offer(free, offer(runs=(ended, later)))
    assert soon.points["availability"] == 5
    assert texts(soon)[-1] == "It starts on 6 August 2027."


def test_schedules_are_neutral_until_the_person_says_when_they_are_free() -> None:
    m = score_offer(person(free_slots=frozenset()), offer(runs=(TUESDAYS,)))
    assert m.points["availability"] == 5
    assert texts(m)[-1] == (
        "It runs every Tuesday, 10am to 12 noon. Tell us when you are free to match this."
    )


DAY_CODES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
PARTS = ["morning", "afternoon", "evening"]
runs = st.builds(
    Run,
    words=st.just("every week"),
    parts=st.lists(st.sampled_from(PARTS), min_size=1, max_size=3, unique=True).map(tuple),
    sessions=st.dictionaries(
        st.sampled_from(DAY_CODES), st.integers(min_value=1, max_value=14), max_size=7
    ).map(lambda d: tuple(d.items())),
    ended=st.one_of(st.none(), st.just("1 March 2027")),
    starts=st.one_of(st.none(), st.just("1 September 2027")),
)
free_times = st.frozensets(st.sampled_from([f"{d}-{p}" for d in DAY_CODES for p in PARTS]))


@given(free_times, st.lists(runs, min_size=1, max_size=4))
def test_schedule_points_are_the_share_of_sessions_the_person_can_go_to(
    free: frozenset[str], schedule: list[Run]
) -> None:
    m = score_offer(person(free_slots=free), offer(runs=tuple(schedule)))
    points = m.points["availability"]
    assert 0 <= points <= WEIGHTS["availability"]
    total = sum(n for run in schedule for _, n in run.sessions)
    if total and free:
        can = sum(
            n
            for run in schedule
            for day, n in run.sessions
            if all(f"{day}-{part}" in free for part in run.parts)
        )
        assert points == round(WEIGHTS["availability"] * can / total)
        # Freeing every time the offer runs never lowers its points.
        wider = free | {f"{d}-{p}" for run in schedule for d, _ in run.sessions for p in run.parts}
        assert (
            score_offer(person(free_slots=wider), offer(runs=tuple(schedule))).points[
                "availability"
            ]
            == WEIGHTS["availability"]
        )
    assert texts(m)[-1].endswith(".")
