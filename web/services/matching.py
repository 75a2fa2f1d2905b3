"""How well one published offer suits one person: the match score and its reasons.

One function, :func:`match_offers`, scores every offer for a person from 0 to 100 and says why
in plain words that a reader of about nine can follow. It works on two small frozen dataclasses,
:class:`PersonFacts` and :class:`OfferFacts`, so it needs no database and no Flask;
:mod:`web.services.profiles` builds the facts from the models.

The score is the sum of five parts. Each part has a weight (its most points):

=============  ======  =================================================================
part           points  how the points are earned
=============  ======  =================================================================
aspirations        40  the offer's outcome tags that are also the person's: the first
                       shared tag earns 25 and the second 15 more (40). An offer that
                       shares every one of the person's tags earns all 40 (so a person
                       with one wish is not held back). No shared tag: 0.
budget             20  price against the money left in the person's budget for the open
                       round: 20 when free, falling in a straight line to 10 at exactly
                       the money left. No budget yet: 10.
place              20  distance by the haversine formula when both have coordinates: 20
                       at 0 km, falling in a straight line to 10 at the person's
                       ``max_travel_km``, 0 beyond it (0 km means "I cannot travel";
                       not said: 20 in their own area, 10 elsewhere). Without
                       coordinates: 20 in the person's own area, 5 elsewhere; 10 when
                       either area is unknown.
                       Offers given online earn 20 wherever the person lives.
eligibility        10  10 when the person meets every rule of the offer (age band, need
                       level); otherwise the offer does not fit (see below).
availability       10  the share of the offer's sessions in the coming weeks that the person
                       is free for (free in every part of the day the session touches),
                       times 10; each of its schedules (RFC 5545 rules, :class:`Run`) is
                       named when the person is busy then. When either side has not said
                       when: 5; a service whose last session has passed: 0.
=============  ======  =================================================================

Distances are said in whole miles, as people in the UK say them ("about 3 miles away").

Hard fails. An offer the person is not eligible for, or that costs more than the money left
in their budget, cannot be given to them: the engine never places a person over budget (spec,
"Feasible allocation", rule 3) and the provider's eligibility rules are binding. Such a match
has ``fits = False``, ``score = 0`` and a reason of kind ``"blocker"`` for each problem. We keep
them rather than filter them out, because "why can I not have this?" deserves an answer on the
offer page; :func:`match_offers` ranks them after every offer that fits (pages that list
"Matched for you" show only those that fit).

Order. Offers that fit come first, by score (highest first), then by price (cheapest first),
then by title and id, so equal scores are ordered the same way every time.

Travel beyond ``max_travel_km`` is not a hard fail: people sometimes travel further for the
right thing, so it only costs points and says so.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from web.services.words import N_, _, current_language, n_, pgettext
from web.services.words import count as count_words

#: The most points each part can earn; they add up to 100.
WEIGHTS: Mapping[str, int] = {
    "aspirations": 40,
    "budget": 20,
    "place": 20,
    "eligibility": 10,
    "availability": 10,
}

#: Points for the first outcome tag an offer shares with the person, and for each further one.
FIRST_TAG_POINTS = 25
FURTHER_TAG_POINTS = 15

#: Mean radius of the Earth in kilometres (IUGG), for the haversine formula.
EARTH_RADIUS_KM = 6371.0088
KM_PER_MILE = 1.609344

#: How far ahead matching counts an offer's sessions ("the next 3 months" in the reasons).
LOOK_AHEAD = timedelta(weeks=13)

#: Day names, marked for the catalogue (say them with ``_(DAY_NAMES[day])``).
DAY_NAMES = {
    "mon": N_("Monday"),
    "tue": N_("Tuesday"),
    "wed": N_("Wednesday"),
    "thu": N_("Thursday"),
    "fri": N_("Friday"),
    "sat": N_("Saturday"),
    "sun": N_("Sunday"),
}
#: Each day's name inside a sentence ("every Monday"): some languages write it otherwise
#: there (Welsh: "dydd Llun", where a heading says "Dydd Llun").
DAY_IN_SENTENCE = {
    "mon": lambda: pgettext("in a sentence", "Monday"),
    "tue": lambda: pgettext("in a sentence", "Tuesday"),
    "wed": lambda: pgettext("in a sentence", "Wednesday"),
    "thu": lambda: pgettext("in a sentence", "Thursday"),
    "fri": lambda: pgettext("in a sentence", "Friday"),
    "sat": lambda: pgettext("in a sentence", "Saturday"),
    "sun": lambda: pgettext("in a sentence", "Sunday"),
}
PART_NAMES = {"morning": "morning", "afternoon": "afternoon", "evening": "evening"}
DAY_ORDER = list(DAY_NAMES)
PART_ORDER = list(PART_NAMES)

ReasonKind = Literal["good", "neutral", "bad", "blocker"]


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """What matching needs to know about a person.

    ``outcome_tags`` maps each tag's code to its label ("work-with-children" -> "Work with
    children"). ``budget_pence`` is the money left in their budget for the open round (``None``
    when they have no budget). ``free_slots`` holds slots such as ``"mon-morning"`` (day:
    mon..sun; part: morning, afternoon, evening; see :func:`slots_from_schedule`); empty means
    they have not said.
    """

    outcome_tags: Mapping[str, str] = field(default_factory=dict)
    budget_pence: int | None = None
    budget_is_partly_spent: bool = False
    area: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    max_travel_km: float | None = None
    age_band: str | None = None
    need_level: int | None = None
    free_slots: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Run:
    """One of an offer's schedules (one RFC 5545 rule), as matching needs it.

    ``words`` says it ("every Tuesday, 10am to 12 noon"); ``parts`` are the parts of the day
    each of its sessions touches; ``sessions`` counts its sessions in the coming weeks
    (:data:`LOOK_AHEAD`) by day of the week (``(("tue", 13),)``). A schedule with no session
    then says why:
    ``starts`` is the date of its first session when that is later, ``ended`` the date of its
    last one when that has passed (both in words, "6 January 2027").
    """

    words: str
    parts: tuple[str, ...]
    sessions: tuple[tuple[str, int], ...] = ()
    starts: str | None = None
    ended: str | None = None


@dataclass(frozen=True, slots=True)
class OfferFacts:
    """What matching needs to know about an offer.

    ``eligible_age_bands`` lists the age bands (such as ``"18-24"``, ``"65+"``) that may join,
    youngest first; empty means open to every age. ``min_need_level`` and
    ``max_need_level`` bound the person's need level when set. ``runs`` are its schedules
    (:class:`Run`); an offer without them may give ``slots``, the days and parts of the day it
    runs in the same form as :attr:`PersonFacts.free_slots`. ``area`` is its main area and
    ``other_areas`` the further areas it serves: a person living in any of them lives in its
    area.
    """

    id: int | str
    title: str
    price_pence: int
    outcome_tags: Mapping[str, str] = field(default_factory=dict)
    area: str | None = None
    other_areas: tuple[str, ...] = ()
    latitude: float | None = None
    longitude: float | None = None
    online: bool = False
    eligible_age_bands: tuple[str, ...] = ()
    min_need_level: int | None = None
    max_need_level: int | None = None
    slots: frozenset[str] = frozenset()
    runs: tuple[Run, ...] = ()


@dataclass(frozen=True, slots=True)
class Reason:
    """One sentence about the match. ``part`` names the part of the score it explains."""

    part: str
    kind: ReasonKind
    text: str


@dataclass(frozen=True, slots=True)
class Match:
    """The score of one offer for one person, with its parts and reasons.

    ``points`` holds the points of each part (see :data:`WEIGHTS`); ``score`` is their sum when
    the offer fits and 0 when it does not.
    """

    offer: OfferFacts
    score: int
    fits: bool
    points: Mapping[str, int]
    reasons: tuple[Reason, ...]

    @property
    def blockers(self) -> tuple[Reason, ...]:
        """The reasons why this offer cannot be given to the person."""
        return tuple(r for r in self.reasons if r.kind == "blocker")


def match_offers(person: PersonFacts, offers: Iterable[OfferFacts]) -> list[Match]:
    """Score every offer for ``person`` and return them best first.

    See the module's documentation for the weights, the hard fails and the order. Every score is
    an integer from 0 to 100; reasons come in the order aspirations, budget, place,
    eligibility, availability.
    """
    matches = [score_offer(person, offer) for offer in offers]
    matches.sort(
        key=lambda m: (
            not m.fits,
            -m.score,
            m.offer.price_pence,
            m.offer.title.casefold(),
            str(m.offer.id),
        )
    )
    return matches


def score_offer(person: PersonFacts, offer: OfferFacts) -> Match:
    """Score one offer for one person (the parts of :func:`match_offers`)."""
    parts = [
        ("aspirations", _aspirations(person, offer)),
        ("budget", _budget(person, offer)),
        ("place", _place(person, offer)),
        ("eligibility", _eligibility(person, offer)),
        ("availability", _availability(person, offer)),
    ]
    points = {name: pts for name, (pts, _rs) in parts}
    reasons = tuple(reason for _name, (_pts, rs) in parts for reason in rs)
    fits = not any(r.kind == "blocker" for r in reasons)
    score = sum(points.values()) if fits else 0
    return Match(offer=offer, score=score, fits=fits, points=points, reasons=reasons)


# --- the parts -------------------------------------------------------------------------------

_Part = tuple[int, list[Reason]]


def _aspirations(person: PersonFacts, offer: OfferFacts) -> _Part:
    shared = [code for code in offer.outcome_tags if code in person.outcome_tags]
    if not shared:
        if not person.outcome_tags:
            text = _("You have not told us what you want yet, so we cannot match your wishes.")
            return 0, [Reason("aspirations", "neutral", text)]
        return 0, [Reason("aspirations", "bad", _("This does not match any of your wishes."))]
    if len(shared) == len(person.outcome_tags):
        pts = WEIGHTS["aspirations"]
    else:
        pts = min(WEIGHTS["aspirations"], FIRST_TAG_POINTS + FURTHER_TAG_POINTS * (len(shared) - 1))
    labels = [_lower_first(person.outcome_tags[code]) for code in shared]
    text = n_(
        "This matches your wish: %(wishes)s.",
        "This matches your wishes: %(wishes)s.",
        len(labels),
        wishes=_join_words(labels),
    )
    return pts, [Reason("aspirations", "good", text)]


def _budget(person: PersonFacts, offer: OfferFacts) -> _Part:
    weight = WEIGHTS["budget"]
    price = offer.price_pence
    if person.budget_pence is None:
        text = _(
            "It costs %(price)s. You do not have a budget for this round yet.",
            price=format_money(price),
        )
        return weight // 2, [Reason("budget", "neutral", text)]
    budget = person.budget_pence
    money = {"price": format_money(price), "budget": format_money(budget)}
    if price > budget:
        if person.budget_is_partly_spent:
            text = _("It costs %(price)s, which is more than the %(budget)s left in your budget.",
                     **money)  # fmt: skip
        else:
            text = _("It costs %(price)s, which is more than your budget of %(budget)s.", **money)
        return 0, [Reason("budget", "blocker", text)]
    # Cheaper leaves more for other things: full points when free, half at the whole budget.
    pts = weight if budget == 0 else round(weight - (weight / 2) * price / budget)
    if person.budget_is_partly_spent:
        text = _("It costs %(price)s, which fits the %(budget)s left in your budget.", **money)
    else:
        text = _("It costs %(price)s, which fits your budget of %(budget)s.", **money)
    return pts, [Reason("budget", "good", text)]


def _place(person: PersonFacts, offer: OfferFacts) -> _Part:
    weight = WEIGHTS["place"]
    if offer.online:
        text = _("It happens online, so you can join from home.")
        return weight, [Reason("place", "good", text)]
    home = bool(person.area) and person.area in (offer.area, *offer.other_areas)
    # Say the person's own area when the offer serves it, else the offer's main area.
    shown = person.area if home else offer.area
    have_coords = None not in (
        person.latitude,
        person.longitude,
        offer.latitude,
        offer.longitude,
    )
    if have_coords:
        km = haversine_km(person.latitude, person.longitude, offer.latitude, offer.longitude)  # type: ignore[arg-type]
        far = say_distance(km)
        if shown:
            where = _("It is in %(area)s, %(distance)s away.", area=shown, distance=far)
        else:
            where = _("It is %(distance)s away.", distance=far)
        limit = person.max_travel_km
        if limit is None:
            pts = weight if home else weight // 2
            return pts, [Reason("place", "neutral", where)]
        if km <= limit:
            pts = weight if limit == 0 else round(weight - (weight / 2) * km / limit)
            return pts, [Reason("place", "good", where)]
        if limit < KM_PER_MILE / 2:
            text = f"{where} {_('You said you cannot travel.')}"
        else:
            further = _(
                "That is further than the %(distance)s you said you can travel.",
                distance=format_distance(limit),
            )
            text = f"{where} {further}"
        return 0, [Reason("place", "bad", text)]
    if not person.area or not offer.area:
        return weight // 2, [Reason("place", "neutral", _("We do not know how far away it is."))]
    if home:
        text = _("It is in %(area)s, where you live.", area=person.area)
        return weight, [Reason("place", "good", text)]
    text = _("It is in %(area)s, not in %(home)s.", area=offer.area, home=person.area)
    return 5, [Reason("place", "bad", text)]


def _eligibility(person: PersonFacts, offer: OfferFacts) -> _Part:
    reasons: list[Reason] = []
    if offer.eligible_age_bands and person.age_band not in offer.eligible_age_bands:
        text = _(
            "It is only for people %(ages)s, so you cannot join.",
            ages=describe_ages(offer.eligible_age_bands),
        )
        reasons.append(Reason("eligibility", "blocker", text))
    need = person.need_level
    if offer.min_need_level is not None and (need is None or need < offer.min_need_level):
        text = _(
            "It is for people with a need level of %(level)s or more, so you cannot join.",
            level=offer.min_need_level,
        )
        reasons.append(Reason("eligibility", "blocker", text))
    if offer.max_need_level is not None and (need is None or need > offer.max_need_level):
        text = _(
            "It is for people with a need level of %(level)s or less, so you cannot join.",
            level=offer.max_need_level,
        )
        reasons.append(Reason("eligibility", "blocker", text))
    if reasons:
        return 0, reasons
    if offer.eligible_age_bands or offer.min_need_level is not None:
        return WEIGHTS["eligibility"], [Reason("eligibility", "good", _("You can join it."))]
    return WEIGHTS["eligibility"], []


def _availability(person: PersonFacts, offer: OfferFacts) -> _Part:
    if offer.runs:
        return _availability_of_runs(person, offer.runs)
    weight = WEIGHTS["availability"]
    if not offer.slots:
        text = _("The provider has not said when it happens.")
        return weight // 2, [Reason("availability", "neutral", text)]
    when = _describe_slot_set(offer.slots, current_language())
    if not person.free_slots:
        text = _("It happens on %(when)s. Tell us when you are free to match this.", when=when)
        return weight // 2, [Reason("availability", "neutral", text)]
    free = offer.slots & person.free_slots
    pts = round(weight * len(free) / len(offer.slots))
    if free == offer.slots:
        text = _("It happens on %(when)s, when you are free.", when=when)
        return pts, [Reason("availability", "good", text)]
    if free:
        text = _(
            "It happens on %(when)s. You are free on %(free)s.",
            when=when,
            free=_describe_slot_set(free, current_language()),
        )
        return pts, [Reason("availability", "neutral", text)]
    text = _("It happens on %(when)s, when you are busy.", when=when)
    return 0, [Reason("availability", "bad", text)]


def _availability_of_runs(person: PersonFacts, runs: tuple[Run, ...]) -> _Part:
    """Each session counts once: the person can go when they are free in every part of the
    day it touches (a session from 11am to 1pm needs the morning and the afternoon)."""
    weight = WEIGHTS["availability"]
    running = [run for run in runs if run.sessions]
    if not running:
        ended = [run.ended for run in runs if run.ended]
        starts = [run.starts for run in runs if run.starts]
        if starts:
            text = (
                _("It starts on %(date)s.", date=starts[0])
                if len(starts) == 1
                else _("It starts later than the next 3 months.")
            )
            return weight // 2, [Reason("availability", "neutral", text)]
        if ended and len(ended) == len(runs):
            text = _("It has stopped running.")
            if len(ended) == 1:
                text += " " + _("Its last session was on %(date)s.", date=ended[0])
            return 0, [Reason("availability", "bad", text)]
        text = _("It has no sessions in the next 3 months.")
        return weight // 2, [Reason("availability", "neutral", text)]
    when = _join_words([run.words for run in running])
    if not person.free_slots:
        text = _("It runs %(when)s. Tell us when you are free to match this.", when=when)
        return weight // 2, [Reason("availability", "neutral", text)]
    total = can = 0
    busy: set[str] = set()
    for run in running:
        for day, count in run.sessions:
            missing = {f"{day}-{part}" for part in run.parts} - person.free_slots
            total += count
            if missing:
                busy |= missing
            else:
                can += count
    pts = round(weight * can / total)
    if can == total:
        text = _("It runs %(when)s. You are free then.", when=when)
        return pts, [Reason("availability", "good", text)]
    busy_words = _describe_slot_set(frozenset(busy), current_language())
    if can == 0:
        text = _("It runs %(when)s. You are busy on %(busy)s.", when=when, busy=busy_words)
        return 0, [Reason("availability", "bad", text)]
    text = _(
        "It runs %(when)s. You can go to %(can)s of its %(sessions)s in the next 3 months. "
        "You are busy on %(busy)s.",
        when=when,
        can=can,
        sessions=count_words(total, "session"),
        busy=busy_words,
    )
    return pts, [Reason("availability", "neutral", text)]


# --- helpers the pages use as well --------------------------------------------------------------


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def format_money(pence: int) -> str:
    """``12000`` -> ``"£120"``, ``9550`` -> ``"£95.50"``, ``123456`` -> ``"£1,234.56"``."""
    sign = "-" if pence < 0 else ""
    pounds, rest = divmod(abs(pence), 100)
    return f"{sign}£{pounds:,}" if rest == 0 else f"{sign}£{pounds:,}.{rest:02d}"


def format_distance(km: float) -> str:
    """A distance in whole miles, as people in the UK say it ("3 miles", "less than 1 mile")."""
    miles = km / KM_PER_MILE
    if miles < 0.5:
        return _("less than 1 mile")
    whole = round(miles)
    return count_words(whole, "mile")


def say_distance(km: float) -> str:
    """How far away something is, in words: ``"about 3 miles"``, ``"less than a mile"``."""
    if km / KM_PER_MILE < 0.5:
        return _("less than a mile")
    return _("about %(distance)s", distance=format_distance(km))


def slots_from_schedule(schedule: Mapping[str, Iterable[str]] | None) -> frozenset[str]:
    """``{"mon": ["morning"], "wed": ["morning", "afternoon"]}`` (the shape of
    ``Offer.schedule`` and ``PersonProfile.availability``) -> ``{"mon-morning", ...}``."""
    if not schedule:
        return frozenset()
    return frozenset(
        f"{day}-{part}"
        for day, parts in schedule.items()
        if day in DAY_NAMES
        for part in parts
        if part in PART_NAMES
    )


def describe_ages(bands: Iterable[str]) -> str:
    """Age bands, youngest first, as words: ``("18-24", "25-34")`` -> ``"aged 18 to 34"``,
    ``("65+",)`` -> ``"aged 65 and over"``."""
    bands = list(bands)
    if not bands:
        return _("of any age")
    low = bands[0].split("-")[0].rstrip("+")
    last = bands[-1]
    if last.endswith("+"):
        return _("aged %(low)s and over", low=low)
    return _("aged %(low)s to %(high)s", low=low, high=last.split("-")[-1])


@functools.lru_cache(maxsize=4096)
def _describe_slot_set(slots: frozenset[str], language: str) -> str:
    # Cached per language: the words are the reader's.
    return describe_slots(slots)


def describe_slots(slots: Iterable[str]) -> str:
    """``{"mon-morning", "wed-morning", "fri-afternoon"}`` -> ``"Monday and Wednesday mornings
    and Friday afternoon"``; unknown slots are left out."""
    by_part: dict[str, list[str]] = {}
    for slot in slots:
        day, _sep, part = slot.partition("-")
        if day in DAY_NAMES and part in PART_NAMES:
            by_part.setdefault(part, []).append(day)
    phrases = []
    for part in PART_ORDER:
        days = sorted(by_part.get(part, []), key=DAY_ORDER.index)
        if not days:
            continue
        names = _join_words([DAY_IN_SENTENCE[d]() for d in days])
        phrases.append(_PART_PHRASES[part](len(days), names))
    return _join_words(phrases) if phrases else _("days it has not named")


#: "Monday morning", "Monday and Friday mornings": each part of the day with its days.
_PART_PHRASES = {
    "morning": lambda n, days: n_("%(days)s morning", "%(days)s mornings", n, days=days),
    "afternoon": lambda n, days: n_("%(days)s afternoon", "%(days)s afternoons", n, days=days),
    "evening": lambda n, days: n_("%(days)s evening", "%(days)s evenings", n, days=days),
}


def _join_words(words: list[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"`` in the reader's language."""
    if len(words) <= 1:
        return "".join(words)
    return _("%(items)s and %(last)s", items=", ".join(words[:-1]), last=words[-1])


def _lower_first(label: str) -> str:
    # "Work with children" -> "work with children"; keep acronyms such as "IT skills".
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]
