"""The figures of an allocation run that the results page draws, and two runs side by side.

Everything is worked out from what the run stored (its instance and result JSON, and the
analysis the worker added), so a page shows exactly what the engine answered, never a
recomputation under other data. Shares are fractions (0..1); money is pence.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.providers import Offer
from models.rounds import Round, SolverRun
from web.services.allocation_runs import key_id
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


def _add_analysis(report: RunReport, instance: dict[str, Any], titles: dict[int, str]) -> None:
    analysis = report.run.analysis
    if analysis is None:
        report.analysis_note = "The price of each rule and the value of more places are not ready."
        return
    if "skipped" in analysis:
        report.analysis_note = str(analysis["skipped"])
        return
    rules = instance.get("policy", {}).get("rules", [])
    for entry in analysis.get("price_of_fairness") or []:
        index = entry.get("rule")
        rule = rules[index] if isinstance(index, int) and 0 <= index < len(rules) else {}
        report.rule_prices.append(
            RulePrice(
                index=index if isinstance(index, int) else -1,
                description=describe_rule(rule) if rule else str(index),
                welfare_with=entry.get("welfare_with"),
                welfare_without=entry.get("welfare_without"),
                price=entry.get("lost"),
                share=(
                    entry["lost"] / entry["welfare_without"]
                    if entry.get("lost") is not None and entry.get("welfare_without")
                    else None
                ),
                note=entry.get("message"),
            )
        )
    for offer, value in (analysis.get("marginal_place_values") or {}).items():
        offer_id = key_id(offer) if offer.startswith("o-") else -1
        report.place_values.append(
            PlaceValue(
                offer_id=offer_id,
                title=titles.get(offer_id, offer),
                value=float(value or 0),
                note=None,
            )
        )
    not_reached = analysis.get("place_values_not_reached") or []
    if not_reached:
        report.analysis_note = (
            f"Time ran out before the value of one more place was worked out for "
            f"{len(not_reached)} full offers; they are left out below."
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
            "Total value (welfare)",
            f"{ra.objective:,}" if ra.objective is not None else "none",
            f"{rb.objective:,}" if rb.objective is not None else "none",
            _signed((rb.objective or 0) - (ra.objective or 0))
            if ra.objective is not None and rb.objective is not None
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


def _rank_order(name: str) -> tuple[int, int]:
    if name == "No place":
        return (1, 0)
    return (0, int(name.split()[-1]))
