"""A council's live market position statement: what people choose, what they get, what they
want and nobody offers, who is waiting, and what services cost.

Public: anyone may read it, so it shows only

* rounds the council has **published** (choices, places and who got one), and published
  offers (prices, and which outcomes are offered where);
* groups of people of at least :data:`web.services.disclosure.THRESHOLD` (10): every count of
  people goes through :func:`web.services.disclosure.suppress`, with the lines that tie its
  figures together, so that no hidden figure can be worked out from the others.

The tables (``docs/market-position.md`` says what each figure means):

``demand``
    For each published round, service category and area: people who chose a service there,
    people whose first choice it was, places, and of the people who chose, how many got a
    place in the round and how many were left without one; with a total row per round.
``waiting``
    For each published round, category and area: places, places taken now, free places and
    people waiting (they chose a service there above the place they hold, or hold none, were
    never offered it and have not accepted a place: the waiting lists of
    :mod:`web.services.places_cycle`, counting also people who could not pay for it now).
``unmet``
    For each outcome people want and their area: people who want it, published offers giving
    it there or online, and how many of those people hold a place giving it in the latest
    published round; with a total row per outcome.
``prices``
    For each category and area: published offers and their lowest, average and highest price
    per place, in pence.

Every figure is worked out by aggregate SQL (one query per kind), so the cost does not grow
with the number of people beyond the database's own counting.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, distinct, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from models.accounts import Council, User
from models.people import OutcomeTag, PersonProfile, person_outcome_tags
from models.providers import Offer, OfferStatus, Provider, offer_outcome_tags
from models.rounds import Allocation, AllocationStatus, Choice, Round, RoundOffer, RoundStatus
from web.services.disclosure import THRESHOLD, Line, suppress
from web.services.errors import NotFound

#: Places a person holds: offered and not yet answered, or accepted.
HELD = (AllocationStatus.offered, AllocationStatus.accepted)
CATEGORY_LABELS: dict[str, str] = {
    "employment": "Work",
    "training": "Learning and training",
    "day_opportunity": "Day activities",
    "home_support": "Help at home",
    "social": "Meeting people",
    "creative": "Art, music and making",
}
ONLINE = "Online or anywhere"
NO_AREA = "Area not given"
ALL = "All"
#: The words a hidden figure is shown as on pages; CSV files use the GSS symbol ``[c]``.
HIDDEN_WORDS = "hidden"
HIDDEN_CSV = "[c]"
# Stands for "no rank" when a moved place has none: below every choice.
_NO_RANK = 1_000_000


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table. ``kind``: ``text``, ``id``, ``count`` (people), ``number`` (not
    people, e.g. places) or ``pence``."""

    name: str
    heading: str
    kind: str

    @property
    def is_figure(self) -> bool:
        return self.kind in ("count", "number", "pence")


@dataclass(frozen=True, slots=True)
class Table:
    """A table of the statement; each row maps a column's name to its value (None = hidden)."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[dict[str, Any], ...]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([c.name for c in self.columns])
        for row in self.rows:
            writer.writerow(
                [
                    HIDDEN_CSV if c.is_figure and row[c.name] is None else _csv_text(row[c.name])
                    for c in self.columns
                ]
            )
        return out.getvalue()


@dataclass(frozen=True, slots=True)
class PublishedRound:
    id: int
    name: str
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class MarketStatement:
    council: Council
    rounds: tuple[PublishedRound, ...]
    tables: dict[str, Table]
    threshold: int
    #: How many figures of the tables are hidden (a figure shown twice counts twice).
    hidden: int

    @property
    def latest_round(self) -> PublishedRound | None:
        return self.rounds[0] if self.rounds else None


TABLE_TITLES = {
    "demand": "Demand for services",
    "waiting": "Waiting lists and free places",
    "unmet": "Wishes not met yet",
    "prices": "Prices per place",
}

_ROUND_COLUMNS = (
    Column("round_id", "Round number", "id"),
    Column("round", "Round", "text"),
)
_GROUP_COLUMNS = (
    Column("category", "Category code", "id"),
    Column("category_label", "Kind of service", "text"),
    Column("area", "Area", "text"),
)
DEMAND_COLUMNS = (
    *_ROUND_COLUMNS,
    *_GROUP_COLUMNS,
    Column("people_who_chose", "People who chose", "count"),
    Column("first_choices", "First choices", "count"),
    Column("places", "Places", "number"),
    Column("got_a_place", "Got a place", "count"),
    Column("left_without_a_place", "Left without a place", "count"),
)
WAITING_COLUMNS = (
    *_ROUND_COLUMNS,
    *_GROUP_COLUMNS,
    Column("places", "Places", "number"),
    Column("places_taken", "Places taken", "count"),
    Column("free_places", "Free places", "number"),
    Column("people_waiting", "People waiting", "count"),
)
UNMET_COLUMNS = (
    Column("outcome", "Outcome code", "id"),
    Column("outcome_label", "What people want", "text"),
    Column("area", "Area", "text"),
    Column("people_who_want_it", "People who want it", "count"),
    Column("offers", "Services that give it", "number"),
    Column("have_a_place", "Have a place that gives it", "count"),
    Column("not_met", "Not met", "count"),
)
PRICE_COLUMNS = (
    *_GROUP_COLUMNS,
    Column("offers", "Services", "number"),
    Column("lowest_price_pence", "Lowest price", "pence"),
    Column("average_price_pence", "Average price", "pence"),
    Column("highest_price_pence", "Highest price", "pence"),
)


def councils_with_statements(session: Session) -> list[Council]:
    """Every council, by name (each has a statement, empty until it publishes a round)."""
    return list(session.scalars(select(Council).order_by(Council.name)))


def market_statement(session: Session, council_slug: str) -> MarketStatement:
    """The statement of the council whose slug is ``council_slug`` (NotFound if none)."""
    council = session.scalar(select(Council).where(Council.slug == council_slug))
    if council is None:
        raise NotFound("No council has this web address.")
    rounds = tuple(
        PublishedRound(r.id, r.name, r.published_at)
        for r in session.execute(
            select(Round.id, Round.name, Round.published_at)
            .where(Round.council_id == council.id, Round.status == RoundStatus.published)
            .order_by(Round.published_at.desc().nulls_last(), Round.id.desc())
        )
    )
    figures = _Figures()
    demand_rows, waiting_rows = _round_tables(session, rounds, figures)
    unmet_rows = _unmet_table(session, council, rounds[0].id if rounds else None, figures)
    price_rows = _price_table(session, council)
    hidden = suppress(figures.values, figures.lines, people=figures.people)
    tables = {
        name: _table(name, TABLE_TITLES[name], columns, rows, figures, hidden)
        for name, columns, rows in (
            ("demand", DEMAND_COLUMNS, demand_rows),
            ("waiting", WAITING_COLUMNS, waiting_rows),
            ("unmet", UNMET_COLUMNS, unmet_rows),
            ("prices", PRICE_COLUMNS, price_rows),
        )
    }
    shown_hidden = sum(
        1
        for table in tables.values()
        for row in table.rows
        for column in table.columns
        if column.is_figure and row[column.name] is None
    )
    return MarketStatement(council, rounds, tables, THRESHOLD, shown_hidden)


class _Figures:
    """The statement's figures by key, which of them count people, and the lines tying them."""

    def __init__(self) -> None:
        self.values: dict[Hashable, int] = {}
        self.people: set[Hashable] = set()
        self.lines: list[Line] = []

    def put(self, key: Hashable, value: int, *, people: bool = True) -> _Ref:
        self.values[key] = int(value)
        if people:
            self.people.add(key)
        return _Ref(key)

    def line(self, total: _Ref, parts: Iterable[_Ref]) -> None:
        self.lines.append(Line(total.key, tuple(p.key for p in parts)))


@dataclass(frozen=True, slots=True)
class _Ref:
    key: Hashable


def _table(
    name: str,
    title: str,
    columns: tuple[Column, ...],
    rows: list[dict[str, Any]],
    figures: _Figures,
    hidden: frozenset[Hashable],
) -> Table:
    def value(cell: Any) -> Any:
        if not isinstance(cell, _Ref):
            return cell
        return None if cell.key in hidden else figures.values[cell.key]

    return Table(name, title, columns, tuple({k: value(v) for k, v in row.items()} for row in rows))


def _group(category: str, area: str | None) -> dict[str, Any]:
    return {
        "category": category,
        "category_label": CATEGORY_LABELS.get(category, category),
        "area": area or ONLINE,
    }


def _round_tables(
    session: Session, rounds: tuple[PublishedRound, ...], figures: _Figures
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not rounds:
        return [], []
    ids = [r.id for r in rounds]
    group = (Offer.category, Offer.area)
    places: dict[tuple[int, str, str | None], tuple[int, int]] = {
        (round_id, str(category), area): (int(total), int(taken))
        for round_id, category, area, total, taken in session.execute(
            select(
                RoundOffer.round_id,
                *group,
                func.sum(RoundOffer.places),
                func.sum(RoundOffer.places_taken),
            )
            .join(Offer, Offer.id == RoundOffer.offer_id)
            .where(RoundOffer.round_id.in_(ids))
            .group_by(RoundOffer.round_id, *group)
        )
    }
    held = (
        select(Allocation.round_id, Allocation.person_id)
        .where(Allocation.round_id.in_(ids), Allocation.status.in_(HELD))
        .distinct()
        .subquery()
    )
    holds = and_(held.c.round_id == Choice.round_id, held.c.person_id == Choice.person_id)
    chose: dict[tuple[int, str, str | None], tuple[int, int]] = {
        (round_id, str(category), area): (int(n), int(got))
        for round_id, category, area, n, got in session.execute(
            select(
                Choice.round_id,
                *group,
                func.count(distinct(Choice.person_id)),
                func.count(distinct(held.c.person_id)),
            )
            .join(Offer, Offer.id == Choice.offer_id)
            .outerjoin(held, holds)
            .where(Choice.round_id.in_(ids))
            .group_by(Choice.round_id, *group)
        )
    }
    totals: dict[int, tuple[int, int]] = {
        round_id: (int(n), int(got))
        for round_id, n, got in session.execute(
            select(
                Choice.round_id,
                func.count(distinct(Choice.person_id)),
                func.count(distinct(held.c.person_id)),
            )
            .outerjoin(held, holds)
            .where(Choice.round_id.in_(ids))
            .group_by(Choice.round_id)
        )
    }
    # A person's first choice is their choice of lowest rank.
    firsts = (
        select(Choice.round_id, Choice.person_id, func.min(Choice.rank).label("rank"))
        .where(Choice.round_id.in_(ids))
        .group_by(Choice.round_id, Choice.person_id)
        .subquery()
    )
    first: dict[tuple[int, str, str | None], int] = {
        (round_id, str(category), area): int(n)
        for round_id, category, area, n in session.execute(
            select(Choice.round_id, *group, func.count())
            .join(
                firsts,
                and_(
                    firsts.c.round_id == Choice.round_id,
                    firsts.c.person_id == Choice.person_id,
                    firsts.c.rank == Choice.rank,
                ),
            )
            .join(Offer, Offer.id == Choice.offer_id)
            .group_by(Choice.round_id, *group)
        )
    }
    # Waiting: chose an offer above their best place held (or hold none), never given it, and
    # have not accepted a place (the waiting lists of web.services.places_cycle).
    best = (
        select(
            Allocation.round_id,
            Allocation.person_id,
            func.min(func.coalesce(Allocation.rank, literal(_NO_RANK))).label("rank"),
        )
        .where(Allocation.round_id.in_(ids), Allocation.status.in_(HELD))
        .group_by(Allocation.round_id, Allocation.person_id)
        .subquery()
    )
    given = exists().where(
        Allocation.round_id == Choice.round_id,
        Allocation.person_id == Choice.person_id,
        Allocation.offer_id == Choice.offer_id,
    )
    # Someone who accepted a place has decided: nobody moves them (web.services.places_cycle).
    decided = exists().where(
        Allocation.round_id == Choice.round_id,
        Allocation.person_id == Choice.person_id,
        Allocation.status == AllocationStatus.accepted,
    )
    waiting: dict[tuple[int, str, str | None], int] = {
        (round_id, str(category), area): int(n)
        for round_id, category, area, n in session.execute(
            select(Choice.round_id, *group, func.count(distinct(Choice.person_id)))
            .join(Offer, Offer.id == Choice.offer_id)
            .outerjoin(
                best, and_(best.c.round_id == Choice.round_id, best.c.person_id == Choice.person_id)
            )
            .where(
                Choice.round_id.in_(ids),
                ~given,
                ~decided,
                or_(best.c.rank.is_(None), Choice.rank < best.c.rank),
            )
            .group_by(Choice.round_id, *group)
        )
    }

    demand_rows: list[dict[str, Any]] = []
    waiting_rows: list[dict[str, Any]] = []
    groups = sorted(
        set(places) | set(chose),
        key=lambda g: (ids.index(g[0]), CATEGORY_LABELS.get(g[1], g[1]), g[2] or "\uffff"),
    )
    for round_ in rounds:
        r = round_.id
        mine = [g for g in groups if g[0] == r]
        labels = {"round_id": r, "round": round_.name}
        total_chose, total_got = totals.get(r, (0, 0))
        t_chose = figures.put(("chose", r), total_chose)
        t_got = figures.put(("got", r), total_got)
        t_left = figures.put(("left", r), total_chose - total_got)
        figures.line(t_chose, (t_got, t_left))
        first_refs, place_refs = [], []
        for g in mine:
            n, got = chose.get(g, (0, 0))
            c_chose = figures.put(("chose", *g), n)
            c_got = figures.put(("got", *g), got)
            c_left = figures.put(("left", *g), n - got)
            figures.line(c_chose, (c_got, c_left))
            c_first = figures.put(("first", *g), first.get(g, 0))
            first_refs.append(c_first)
            total, taken = places.get(g, (0, 0))
            c_places = figures.put(("places", *g), total, people=False)
            place_refs.append(c_places)
            c_taken = figures.put(("taken", *g), taken)
            c_free = figures.put(("free", *g), total - taken, people=False)
            figures.line(c_places, (c_taken, c_free))
            c_waiting = figures.put(("waiting", *g), waiting.get(g, 0))
            demand_rows.append(
                {
                    **labels,
                    **_group(g[1], g[2]),
                    "people_who_chose": c_chose,
                    "first_choices": c_first,
                    "places": c_places,
                    "got_a_place": c_got,
                    "left_without_a_place": c_left,
                }
            )
            waiting_rows.append(
                {
                    **labels,
                    **_group(g[1], g[2]),
                    "places": c_places,
                    "places_taken": c_taken,
                    "free_places": c_free,
                    "people_waiting": c_waiting,
                }
            )
        # Everyone who chose has exactly one first choice.
        figures.line(t_chose, first_refs)
        t_places = figures.put(
            ("places", r), sum(figures.values[p.key] for p in place_refs), people=False
        )
        figures.line(t_places, place_refs)
        demand_rows.append(
            {
                **labels,
                "category": "",
                "category_label": ALL,
                "area": ALL,
                "people_who_chose": t_chose,
                "first_choices": t_chose,
                "places": t_places,
                "got_a_place": t_got,
                "left_without_a_place": t_left,
            }
        )
    return demand_rows, waiting_rows


def _unmet_table(
    session: Session, council: Council, latest_round_id: int | None, figures: _Figures
) -> list[dict[str, Any]]:
    person_area = func.coalesce(PersonProfile.area, literal(NO_AREA))
    wanting = {
        (str(area), int(tag_id)): int(n)
        for area, tag_id, n in session.execute(
            select(person_area, person_outcome_tags.c.tag_id, func.count())
            .select_from(PersonProfile)
            .join(person_outcome_tags, person_outcome_tags.c.person_id == PersonProfile.id)
            .join(User, User.id == PersonProfile.user_id)
            .where(User.council_id == council.id, User.is_active.is_(True))
            .group_by(person_area, person_outcome_tags.c.tag_id)
        )
    }
    served: dict[tuple[str, int], int] = {}
    if latest_round_id is not None:
        held_tags = (
            select(Allocation.person_id, offer_outcome_tags.c.tag_id)
            .join(offer_outcome_tags, offer_outcome_tags.c.offer_id == Allocation.offer_id)
            .where(Allocation.round_id == latest_round_id, Allocation.status.in_(HELD))
            .distinct()
            .subquery()
        )
        served = {
            (str(area), int(tag_id)): int(n)
            for area, tag_id, n in session.execute(
                select(person_area, person_outcome_tags.c.tag_id, func.count())
                .select_from(PersonProfile)
                .join(person_outcome_tags, person_outcome_tags.c.person_id == PersonProfile.id)
                .join(User, User.id == PersonProfile.user_id)
                .join(
                    held_tags,
                    and_(
                        held_tags.c.person_id == PersonProfile.id,
                        held_tags.c.tag_id == person_outcome_tags.c.tag_id,
                    ),
                )
                .where(User.council_id == council.id, User.is_active.is_(True))
                .group_by(person_area, person_outcome_tags.c.tag_id)
            )
        }
    # An offer is counted in every area it serves (its main one and its others); places and
    # prices, above, are counted once, in its main area.
    offered: dict[tuple[str | None, int], int] = {}
    for main, others, tag_id in session.execute(
        select(Offer.area, Offer.other_areas, offer_outcome_tags.c.tag_id)
        .join(offer_outcome_tags, offer_outcome_tags.c.offer_id == Offer.id)
        .join(Provider, Provider.id == Offer.provider_id)
        .where(Offer.status == OfferStatus.published, Provider.council_id == council.id)
    ):
        for area in dict.fromkeys([main, *(others or [])]):
            offered[(area, int(tag_id))] = offered.get((area, int(tag_id)), 0) + 1
    tags = {
        t.id: t
        for t in session.scalars(
            select(OutcomeTag).where(OutcomeTag.id.in_({tag for _, tag in wanting}))
        )
    }
    rows: list[dict[str, Any]] = []
    for tag_id in sorted(tags, key=lambda t: tags[t].label):
        tag = tags[tag_id]
        label = {"outcome": tag.slug, "outcome_label": tag.label}
        areas = sorted(a for a, t in wanting if t == tag_id)
        parts: list[tuple[_Ref, _Ref, _Ref]] = []
        online = offered.get((None, tag_id), 0)
        for area in areas:
            want = wanting[(area, tag_id)]
            have = served.get((area, tag_id), 0)
            refs = (
                figures.put(("want", tag_id, area), want),
                figures.put(("have", tag_id, area), have),
                figures.put(("unmet", tag_id, area), want - have),
            )
            figures.line(refs[0], refs[1:])
            parts.append(refs)
            in_area = 0 if area == NO_AREA else offered.get((area, tag_id), 0)
            rows.append(
                {
                    **label,
                    "area": area,
                    "people_who_want_it": refs[0],
                    "offers": in_area + online,
                    "have_a_place": refs[1],
                    "not_met": refs[2],
                }
            )
        totals = tuple(
            figures.put((kind, tag_id), sum(figures.values[p[i].key] for p in parts))
            for i, kind in enumerate(("want", "have", "unmet"))
        )
        figures.line(totals[0], totals[1:])
        for i in range(3):
            figures.line(totals[i], (p[i] for p in parts))
        rows.append(
            {
                **label,
                "area": ALL,
                "people_who_want_it": totals[0],
                "offers": sum(n for (_, t), n in offered.items() if t == tag_id),
                "have_a_place": totals[1],
                "not_met": totals[2],
            }
        )
    return rows


def _price_table(session: Session, council: Council) -> list[dict[str, Any]]:
    """Published offers and their prices by kind and area. An offer is counted in every area
    it serves (its main one and its others), since people living in each can choose it at that
    price; no line ties these counts to a total, so nothing is counted twice in a sum."""
    prices: dict[tuple[str, str | None], list[int]] = {}
    for category, main, others, price in session.execute(
        select(Offer.category, Offer.area, Offer.other_areas, Offer.price_pence)
        .join(Provider, Provider.id == Offer.provider_id)
        .where(Offer.status == OfferStatus.published, Provider.council_id == council.id)
    ):
        for area in dict.fromkeys([main, *(others or [])]):
            prices.setdefault((str(category), area), []).append(int(price))
    out = [
        {
            **_group(category, area),
            "offers": len(amounts),
            "lowest_price_pence": min(amounts),
            # Whole pence, halves rounded up.
            "average_price_pence": (sum(amounts) * 2 + len(amounts)) // (2 * len(amounts)),
            "highest_price_pence": max(amounts),
        }
        for (category, area), amounts in prices.items()
    ]
    return sorted(out, key=lambda r: (r["category_label"], r["area"] == ONLINE, r["area"]))


def _csv_text(value: Any) -> str:
    """A cell as CSV text; text that a spreadsheet would run as a formula gets a quote mark
    first (OWASP's advice on CSV injection)."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text
