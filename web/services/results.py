"""The figures of an allocation run that the results page draws, and two runs side by side.

Everything is worked out from what the run stored (its instance and result JSON, and the
explanations document the worker added, ``explanations-format.md``), so a page shows exactly
what the engine answered, never a recomputation under other data. Shares are fractions
(0..1); money is pence.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.people import PersonProfile
from models.providers import Offer
from models.rounds import Round, RunStatus, SolverRun
from web.services.allocation_runs import key_id
from web.services.consents import REFERENCE_PREFIX, parse_reference
from web.services.errors import Conflict, InvalidInput, NotFound
from web.services.rounds import BUILT_IN_ATTRIBUTES

ATTRIBUTE_ORDER = ("area", "age_band", "need_band")


@dataclass(frozen=True, slots=True)
class Group:
    value: str
    members: int
    placed: int

    @property
    def share(self) -> float:
        return self.placed / self.members if self.members else 0.0


@dataclass(frozen=True, slots=True)
class Coverage:
    attribute: str
    label: str
    groups: list[Group]
    in_rules: bool


@dataclass(frozen=True, slots=True)
class OfferDemand:
    offer_id: int
    title: str
    places: int
    chosen_by: int
    first_choices: int
    placed: int

    @property
    def oversubscribed(self) -> bool:
        return self.chosen_by > self.places


@dataclass(frozen=True, slots=True)
class NeedRow:
    need: int
    people: int
    unplaced: int


@dataclass(frozen=True, slots=True)
class RulePrice:
    index: int
    description: str
    welfare_with: int | None
    welfare_without: int | None
    price: int | None
    share: float | None
    note: str | None


@dataclass(frozen=True, slots=True)
class PlaceValue:
    offer_id: int
    title: str
    value: float
    note: str | None


@dataclass
class RunReport:
    run: SolverRun
    status: str
    mechanism: str
    objective: int | None
    bound: int | None
    persons: int
    placed: int
    placements: int
    spend_pence: int
    pot_pence: int | None
    budgets_pence: int
    ranks: list[tuple[str, int]]
    coverage: list[Coverage]
    unplaced_by_need: list[NeedRow]
    offers: list[OfferDemand]
    violations: list[dict[str, Any]]
    diagnosis: list[dict[str, Any]]
    rule_prices: list[RulePrice] = field(default_factory=list)
    place_values: list[PlaceValue] = field(default_factory=list)
    analysis_note: str | None = None
    #: Set for stable runs: why rule prices and place values do not apply.
    welfare_note: str | None = None
    #: People whose explanation the run stores.
    explained: int = 0

    @property
    def oversubscribed(self) -> list[OfferDemand]:
        over = [o for o in self.offers if o.oversubscribed]
        return sorted(over, key=lambda o: (-(o.chosen_by / max(o.places, 1)), o.title, o.offer_id))


def attribute_label(attribute: str) -> str:
    if attribute in BUILT_IN_ATTRIBUTES:
        return {"area": "Area", "age_band": "Age band", "need_band": "Need level"}[attribute]
    return attribute.replace("_", " ").capitalize()


def describe_rule(rule: dict[str, Any]) -> str:
    """A rule in plain words, e.g. "Every area group gets at least 60% placed"."""
    attribute = attribute_label(rule.get("attribute", "")).lower()
    kind = rule.get("type")
    if kind == "coverage_floor":
        groups = f" ({', '.join(rule['values'])})" if rule.get("values") else ""
        return (
            f"Every {attribute} group{groups} gets at least "
            f"{_percent(rule.get('min_share', 0))} placed"
        )
    if kind == "coverage_gap":
        return f"{attribute.capitalize()} groups' shares placed differ by at most " + _percent(
            rule.get("max_gap", 0)
        )
    if kind == "maximize_min_coverage":
        return f"Make the worst-off {attribute} group's share placed as big as possible"
    return str(kind)


def _percent(share: float) -> str:
    value = share * 100
    return f"{value:.0f}%" if abs(value - round(value)) < 1e-9 else f"{value:.1f}%"


def run_report(session: Session, round_: Round, run: SolverRun) -> RunReport:
    """Every figure of ``run`` that the results page shows."""
    instance = json.loads(run.instance_json or "{}")
    result = json.loads(run.result_json or "{}")
    persons = instance.get("persons", [])
    assignments = result.get("assignments", [])
    placed_ids = {a["person"] for a in assignments}
    placed_by_offer = Counter(a["offer"] for a in assignments)
    rule_attributes = {r.get("attribute") for r in instance.get("policy", {}).get("rules", [])}

    attributes: dict[str, dict[str, list[int]]] = {}
    for person in persons:
        for name, value in (person.get("attributes") or {}).items():
            counts = attributes.setdefault(name, {}).setdefault(value, [0, 0])
            counts[0] += 1
            counts[1] += person["id"] in placed_ids
    ordered = [a for a in ATTRIBUTE_ORDER if a in attributes] + sorted(
        a for a in attributes if a not in ATTRIBUTE_ORDER
    )
    coverage = [
        Coverage(
            attribute=name,
            label=attribute_label(name),
            groups=[
                Group(value, members, placed)
                for value, (members, placed) in sorted(
                    attributes[name].items(), key=lambda item: _group_order(name, item[0])
                )
            ],
            in_rules=name in rule_attributes,
        )
        for name in ordered
    ]

    histogram = {
        int(k): v for k, v in (result.get("metrics", {}).get("rank_histogram") or {}).items()
    }
    ranks = [(f"Choice {rank}", histogram[rank]) for rank in sorted(histogram)]
    ranks.append(("No place", len(persons) - len(placed_ids)))

    needs: dict[int, list[int]] = {}
    for person in persons:
        row = needs.setdefault(int(person.get("need", 0)), [0, 0])
        row[0] += 1
        row[1] += person["id"] not in placed_ids
    unplaced_by_need = [
        NeedRow(n, people, unplaced) for n, (people, unplaced) in sorted(needs.items())
    ]

    titles = _titles(session, [key_id(o["id"]) for o in instance.get("offers", [])])
    chosen = Counter(p["offer"] for person in persons for p in person.get("preferences", []))
    first = Counter(
        p["offer"] for person in persons for p in person.get("preferences", []) if p["rank"] == 1
    )
    offers = [
        OfferDemand(
            offer_id=key_id(o["id"]),
            title=titles.get(key_id(o["id"]), o["id"]),
            places=int(o["capacity"]),
            chosen_by=chosen[o["id"]],
            first_choices=first[o["id"]],
            placed=placed_by_offer[o["id"]],
        )
        for o in instance.get("offers", [])
    ]
    pot = instance.get("round", {}).get("pot")
    report = RunReport(
        run=run,
        status=result.get("status", str(run.status)),
        mechanism=result.get("mechanism", str(run.mechanism)),
        objective=result.get("objective"),
        bound=result.get("bound"),
        persons=len(persons),
        placed=len(placed_ids),
        placements=len(assignments),
        spend_pence=round(result.get("metrics", {}).get("spend", 0) * 100),
        pot_pence=None if pot is None else round(pot * 100),
        budgets_pence=sum(round(p["budget"] * 100) for p in persons),
        ranks=ranks,
        coverage=coverage,
        unplaced_by_need=unplaced_by_need,
        offers=offers,
        violations=list(result.get("violations", [])),
        diagnosis=list(result.get("diagnosis", [])),
    )
    _add_analysis(report, instance, titles)
    return report


def _group_order(attribute: str, value: str) -> tuple[int, str]:
    if attribute == "need_band":
        return ({"low": 0, "medium": 1, "high": 2}.get(value, 3), value)
    return (0, value)


def _titles(session: Session, offer_ids: list[int]) -> dict[int, str]:
    if not offer_ids:
        return {}
    return dict(session.execute(select(Offer.id, Offer.title).where(Offer.id.in_(offer_ids))).all())


#: Why a stable run has no welfare figures, in plain words.
STABLE_NOTE = (
    "This run used the queue way of giving places (stable). Each place goes to the person "
    "first in its queue: highest need first, then the draw. It never swaps places to raise the "
    "total value. So there is no cost of a fairness rule and no value of one more place to show."
)
#: What "value" means, said beside every value figure.
VALUE_WORDS = (
    "Value is the sum of how much people wanted the places they got, in points: about 1,000 "
    "points for a first choice, 800 for a second, 640 for a third, and so on. A service that "
    "suits the person well counts up to a tenth more (a first choice is 900 to 1,000 points)."
)


def _add_analysis(report: RunReport, instance: dict[str, Any], titles: dict[int, str]) -> None:
    from web.services.allocation_runs import PLACED_STATUSES, explanations

    if report.status not in PLACED_STATUSES:
        report.analysis_note = "There is no allocation, so there is nothing to explain."
        return
    if report.mechanism == "stable":
        report.welfare_note = STABLE_NOTE
    document = explanations(report.run)
    if document is None:
        report.analysis_note = (
            "This run has no explanations stored: it was made by an older version of Tapestry. "
            "Run the allocation again to see why each person got their place."
        )
        return
    report.explained = len(document.get("persons") or [])
    rules = instance.get("policy", {}).get("rules", [])
    for entry in document.get("rules") or []:
        index = entry.get("rule")
        rule = rules[index] if isinstance(index, int) and 0 <= index < len(rules) else {}
        lost, without = entry.get("lost"), entry.get("welfare_without")
        report.rule_prices.append(
            RulePrice(
                index=index if isinstance(index, int) else -1,
                description=describe_rule(rule) if rule else str(index),
                welfare_with=entry.get("welfare_with"),
                welfare_without=without,
                price=lost,
                share=lost / without if lost is not None and without else None,
                note=None
                if without is not None
                else "Without this rule no allocation could meet the other rules.",
            )
        )
    for entry in document.get("places") or []:
        offer = str(entry.get("offer", ""))
        offer_id = key_id(offer) if offer.startswith("o-") else -1
        report.place_values.append(
            PlaceValue(
                offer_id=offer_id,
                title=titles.get(offer_id, offer),
                value=float(entry.get("gain") or 0),
                note=None,
            )
        )
    report.place_values.sort(key=lambda v: (-v.value, v.title))


# -- two runs side by side --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompareRow:
    measure: str
    a: str
    b: str
    difference: str


@dataclass(frozen=True, slots=True)
class CompareCoverage:
    attribute: str
    label: str
    groups: list[tuple[str, float, float]]  # value, share in A, share in B


@dataclass(frozen=True, slots=True)
class Comparison:
    a: RunReport
    b: RunReport
    rows: list[CompareRow]
    coverage: list[CompareCoverage]


def _signed(value: float, fmt: str = "{:+,}") -> str:
    return "no change" if value == 0 else fmt.format(value)


def compare_runs(session: Session, round_: Round, a: SolverRun, b: SolverRun) -> Comparison:
    """Two runs of one round side by side: totals, ranks, money and every group's share."""
    ra, rb = run_report(session, round_, a), run_report(session, round_, b)

    def money(pence: int) -> str:
        from web.services.matching import format_money

        return format_money(pence)

    rows = [
        CompareRow("How places were given", ra.mechanism, rb.mechanism, ""),
        CompareRow("Answer", ra.status, rb.status, ""),
        CompareRow(
            "Total value (welfare), in points",
            _value_words(ra),
            _value_words(rb),
            _signed((rb.objective or 0) - (ra.objective or 0))
            if ra.objective is not None
            and rb.objective is not None
            and not (ra.welfare_note or rb.welfare_note)
            else "",
        ),
        CompareRow(
            "People placed", f"{ra.placed:,}", f"{rb.placed:,}", _signed(rb.placed - ra.placed)
        ),
        CompareRow(
            "Money spent",
            money(ra.spend_pence),
            money(rb.spend_pence),
            "no change"
            if ra.spend_pence == rb.spend_pence
            else ("+" if rb.spend_pence > ra.spend_pence else "-")
            + money(abs(rb.spend_pence - ra.spend_pence)),
        ),
    ]
    ranks_a, ranks_b = dict(ra.ranks), dict(rb.ranks)
    for name in sorted(set(ranks_a) | set(ranks_b), key=_rank_order):
        x, y = ranks_a.get(name, 0), ranks_b.get(name, 0)
        rows.append(CompareRow(f"Got {name.lower()}", f"{x:,}", f"{y:,}", _signed(y - x)))
    coverage: list[CompareCoverage] = []
    by_b = {c.attribute: {g.value: g.share for g in c.groups} for c in rb.coverage}
    for c in ra.coverage:
        shares_b = by_b.get(c.attribute, {})
        coverage.append(
            CompareCoverage(
                c.attribute,
                c.label,
                [(g.value, g.share, shares_b.get(g.value, 0.0)) for g in c.groups],
            )
        )
    return Comparison(ra, rb, rows, coverage)


def _value_words(report: RunReport) -> str:
    if report.welfare_note:
        return "does not apply: the queue way does not add up value"
    return f"{report.objective:,}" if report.objective is not None else "none"


def _rank_order(name: str) -> tuple[int, int]:
    if name == "No place":
        return (1, 0)
    return (0, int(name.split()[-1]))


# -- each person's case: their choices, their place and each "why not" ------------------------

#: A reason code of ``explanations-format.md`` in a few plain words, for commissioners.
CODE_WORDS = {
    "over_budget": "Costs more than their budget",
    "no_places": "No places this round",
    "full_higher_priority": "Full: the places went to people ahead in the queue",
    "unknown": "Reason not known",
    "tie": "A tie: it could have gone either way",
    "capacity": "Full: one more place there and they would have had it",
    "pot": "The council's pot of money ran out",
    "rule": "A fairness rule",
    "several_limits": "Several limits together",
}
#: The equity-monitoring attribute that holds a person's support group.
SUPPORT_ATTRIBUTE = "support"
PER_PAGE = 25


def reference_of(person_id: int) -> str:
    """The reference a person made before references were random had (their id); only for
    people no longer in the database."""
    return f"{REFERENCE_PREFIX}{person_id:06d}"


def code_words(code: str | None) -> str:
    return CODE_WORDS.get(code or "", "Reason not known")


@dataclass(frozen=True, slots=True)
class CaseChoice:
    """One offer the person ranked: whether they got it, and if not, why."""

    rank: int
    offer_id: int
    title: str
    got: bool
    code: str | None
    code_words: str | None
    message: str | None


@dataclass(frozen=True, slots=True)
class PersonCase:
    person_id: int
    key: str
    name: str
    reference: str
    area: str | None
    support: str | None
    need: int
    places: list[tuple[str, int]]  # (title, rank)
    choices: list[CaseChoice]
    explained: bool

    @property
    def first_reason(self) -> CaseChoice | None:
        return next((c for c in self.choices if c.code is not None), None)


@dataclass
class RunPeople:
    """What a run stored about its people, read once: the instance's persons, the result's
    places and the explanations document's entries, by person id (``"p-12"``)."""

    persons: dict[str, dict[str, Any]]
    held: dict[str, list[dict[str, Any]]]
    entries: dict[str, dict[str, Any]]
    titles: dict[int, str]
    names: dict[int, str]
    references: dict[int, str]

    def case(self, key: str) -> PersonCase:
        person = self.persons[key]
        person_id = key_id(key)
        entry = self.entries.get(key)
        reasons = {w["offer"]: w for w in (entry or {}).get("why_not") or []}
        held = {a["offer"]: a for a in self.held.get(key, [])}
        choices = []
        for pref in sorted(person.get("preferences", []), key=lambda p: p["rank"]):
            reason = reasons.get(pref["offer"])
            offer_id = key_id(pref["offer"])
            choices.append(
                CaseChoice(
                    rank=int(pref["rank"]),
                    offer_id=offer_id,
                    title=self.titles.get(offer_id, pref["offer"]),
                    got=pref["offer"] in held,
                    code=reason["code"] if reason else None,
                    code_words=code_words(reason["code"]) if reason else None,
                    message=reason["message"] if reason else None,
                )
            )
        attributes = person.get("attributes") or {}
        return PersonCase(
            person_id=person_id,
            key=key,
            name=self.names.get(person_id, "Unknown person"),
            reference=self.references.get(person_id) or reference_of(person_id),
            area=attributes.get("area"),
            support=attributes.get(SUPPORT_ATTRIBUTE),
            need=int(person.get("need", 0)),
            places=[
                (self.titles.get(key_id(a["offer"]), a["offer"]), int(a["rank"]))
                for a in sorted(self.held.get(key, []), key=lambda a: a["rank"])
            ],
            choices=choices,
            explained=entry is not None,
        )


def run_people(session: Session, run: SolverRun) -> RunPeople:
    """Read the run's people once (see :class:`RunPeople`)."""
    from web.services.allocation_runs import person_explanations

    instance = json.loads(run.instance_json or "{}")
    result = json.loads(run.result_json or "{}")
    persons = {p["id"]: p for p in instance.get("persons", [])}
    held: dict[str, list[dict[str, Any]]] = {}
    for a in result.get("assignments", []):
        held.setdefault(a["person"], []).append(a)
    ids = [key_id(k) for k in persons]
    names: dict[int, str] = {}
    references: dict[int, str] = {}
    for chunk in range(0, len(ids), 500):
        rows = session.execute(
            select(PersonProfile.id, PersonProfile.display_name, PersonProfile.reference).where(
                PersonProfile.id.in_(ids[chunk : chunk + 500])
            )
        ).all()
        names.update((person_id, name) for person_id, name, _ in rows)
        references.update((person_id, reference) for person_id, _, reference in rows)
    return RunPeople(
        persons=persons,
        held=held,
        entries=person_explanations(run),
        titles=_titles(session, [key_id(o["id"]) for o in instance.get("offers", [])]),
        names=names,
        references=references,
    )


def person_case(session: Session, run: SolverRun, person_id: int) -> PersonCase:
    """One person's case in the run. Raises NotFound when they were not in it."""
    people = run_people(session, run)
    key = f"p-{person_id}"
    if key not in people.persons:
        raise NotFound("This person did not choose anything in this round.")
    return people.case(key)


def find_people(session: Session, run: SolverRun, text: str, limit: int = 50) -> list[PersonCase]:
    """People of the run whose reference is ``text`` (P7K3M9QHXC) or whose name contains it."""
    text = (text or "").strip()
    if not text:
        return []
    people = run_people(session, run)
    try:
        reference = parse_reference(text)
    except InvalidInput:
        return []
    if reference is not None:
        found_ids = [i for i, r in people.references.items() if r == reference]
        keys = [k for k in people.persons if key_id(k) in found_ids]
        return [people.case(k) for k in keys]
    words = text.casefold()
    found = sorted(
        (k for k in people.persons if words in people.names.get(key_id(k), "").casefold()),
        key=lambda k: (people.names.get(key_id(k), ""), key_id(k)),
    )
    return [people.case(k) for k in found[:limit]]


@dataclass(frozen=True, slots=True)
class UnplacedPage:
    people: list[PersonCase]
    total: int
    page: int
    pages: int
    per_page: int
    areas: list[str]
    supports: list[str]
    needs: list[int]


def unplaced_people(
    session: Session,
    run: SolverRun,
    *,
    area: str | None = None,
    support: str | None = None,
    need: int | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> UnplacedPage:
    """The run's people without a place, filtered by area, support group and need level, by
    name, one page at a time. The filters' choices are the values the unplaced people have."""
    people = run_people(session, run)
    unplaced = [k for k in people.persons if k not in people.held]

    def attribute(key: str, name: str) -> str | None:
        value = (people.persons[key].get("attributes") or {}).get(name)
        return None if value is None else str(value)

    areas = sorted({a for k in unplaced if (a := attribute(k, "area"))})
    supports = sorted({s for k in unplaced if (s := attribute(k, SUPPORT_ATTRIBUTE))})
    needs = sorted({int(people.persons[k].get("need", 0)) for k in unplaced})
    chosen = [
        k
        for k in unplaced
        if (not area or attribute(k, "area") == area)
        and (not support or attribute(k, SUPPORT_ATTRIBUTE) == support)
        and (need is None or int(people.persons[k].get("need", 0)) == need)
    ]
    chosen.sort(key=lambda k: (people.names.get(key_id(k), ""), key_id(k)))
    pages = max(1, -(-len(chosen) // per_page))
    page = max(1, min(page, pages))
    shown = chosen[(page - 1) * per_page : page * per_page]
    return UnplacedPage(
        people=[people.case(k) for k in shown],
        total=len(chosen),
        page=page,
        pages=pages,
        per_page=per_page,
        areas=areas,
        supports=supports,
        needs=needs,
    )


RESULTS_CSV_HEADER = [
    "person_reference", "place", "place_rank", "choice_rank", "choice", "reason_code", "reason",
]  # fmt: skip


def results_csv(session: Session, run: SolverRun) -> str:
    """Every person of the run as CSV: one row per reason they did not get a choice (one row
    with empty reason cells when there is nothing to explain), by reference. Ranks are numbers
    (1 = first choice); text cells are made safe against spreadsheet formulas."""
    from web.services.allocations import csv_safe

    people = run_people(session, run)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(RESULTS_CSV_HEADER)
    for key in sorted(people.persons, key=key_id):
        case = people.case(key)
        place = "; ".join(title for title, _ in case.places)
        rank = "; ".join(str(r) for _, r in case.places)
        reasons = [c for c in case.choices if c.code is not None]
        if not reasons:
            writer.writerow([case.reference, csv_safe(place), rank, "", "", "", ""])
        for c in reasons:
            writer.writerow(
                [
                    case.reference,
                    csv_safe(place),
                    rank,
                    c.rank,
                    csv_safe(c.title),
                    c.code,
                    csv_safe(c.message or ""),
                ]
            )
    return out.getvalue()


# -- the explanations document, for the API ---------------------------------------------------

VALUE_UNIT = (
    "points of value: the sum of how much people wanted the places they got (about 1,000 for "
    "a first choice, 800 for a second, 640 for a third, nudged up by how well the service suits "
    "the person)"
)


def stored_explanations(run: SolverRun) -> dict[str, Any]:
    """The run's explanations document; Conflict when the run has none (see the messages)."""
    from web.services.allocation_runs import PLACED_STATUSES, explanations

    if run.status != RunStatus.succeeded:
        raise Conflict("This run has not finished, so it has no explanations yet.")
    if run.status_of_result not in PLACED_STATUSES:
        raise Conflict("This run found no allocation, so there is nothing to explain.")
    document = explanations(run)
    if document is None:
        raise Conflict(
            "This run was made by an older version of Tapestry and has no explanations stored. "
            "Run the allocation again."
        )
    return document


def explanations_page(run: SolverRun, page: int, per_page: int) -> dict[str, Any]:
    """One page of the document's person entries (sorted by id, as the document keeps them)."""
    document = stored_explanations(run)
    entries = list(document.get("persons") or [])
    pages = max(1, -(-len(entries) // per_page))
    return {
        "format": document["format"],
        "mechanism": document["mechanism"],
        "objective": document.get("objective"),
        "complete": document["complete"],
        "total": len(entries),
        "page": page,
        "per_page": per_page,
        "pages": pages,
        "items": [
            {**entry, "person_id": key_id(entry["id"])}
            for entry in entries[(page - 1) * per_page : page * per_page]
        ],
    }


def person_entry(run: SolverRun, person_id: int) -> dict[str, Any]:
    """One person's entry of the document; NotFound when they were not in the run."""
    document = stored_explanations(run)
    key = f"p-{person_id}"
    for entry in document.get("persons") or []:
        if entry["id"] == key:
            return {**entry, "person_id": person_id}
    raise NotFound("This person is not in this run: they chose nothing the round could offer.")


def _welfare_applies(document: dict[str, Any]) -> tuple[bool, str | None]:
    if document.get("mechanism") == "stable":
        return False, STABLE_NOTE
    return True, None


def rule_prices(session: Session, run: SolverRun) -> dict[str, Any]:
    """What each rule costs, in points of value (welfare runs; none for stable ones)."""
    document = stored_explanations(run)
    applies, note = _welfare_applies(document)
    rules = json.loads(run.instance_json or "{}").get("policy", {}).get("rules", [])
    items = []
    for entry in document.get("rules") or []:
        index = entry["rule"]
        rule = rules[index] if 0 <= index < len(rules) else {}
        items.append({**entry, "description": describe_rule(rule) if rule else str(index)})
    return {
        "mechanism": document["mechanism"],
        "applies": applies,
        "note": note,
        "unit": VALUE_UNIT,
        "items": items,
    }


def place_values(session: Session, run: SolverRun) -> dict[str, Any]:
    """What one more place at each offer would add, in points of value (welfare runs)."""
    document = stored_explanations(run)
    applies, note = _welfare_applies(document)
    entries = document.get("places") or []
    titles = _titles(session, [key_id(e["offer"]) for e in entries])
    return {
        "mechanism": document["mechanism"],
        "applies": applies,
        "note": note,
        "unit": VALUE_UNIT,
        "items": [
            {
                "offer": e["offer"],
                "offer_id": key_id(e["offer"]),
                "title": titles.get(key_id(e["offer"]), e["offer"]),
                "gain": e["gain"],
            }
            for e in entries
        ],
    }
