"""Helpers for the welfare, diagnosis and explanation tests: example loading and comparison."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.instance import (
    Instance,
    Offer,
    Person,
    Policy,
    Preference,
    Result,
    Rule,
    default_utility,
    derived_lottery,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "spec" / "examples"


def pence(value: float | int | None) -> int | None:
    if value is None:
        return None
    return int(Decimal(str(value)) * 100)


def instance_from_json(data: dict[str, Any]) -> Instance:
    """A lenient reader for well-formed test instances (the validating reader is
    ``engine.reader``; these tests only need valid files)."""
    policy = data.get("policy", {})
    seed = int(policy.get("seed", 0))
    persons = []
    for p in data["persons"]:
        prefs = tuple(
            Preference(
                offer=q["offer"],
                rank=int(q["rank"]),
                utility=int(q.get("utility", default_utility(int(q["rank"])))),
            )
            for q in p.get("preferences", [])
        )
        persons.append(
            Person(
                id=p["id"],
                budget=pence(p["budget"]) or 0,
                need=int(p.get("need", 0)),
                lottery=float(p["lottery"]) if "lottery" in p else derived_lottery(seed, p["id"]),
                max_placements=int(p.get("max_placements", 1)),
                attributes=dict(p.get("attributes", {})),
                preferences=prefs,
                lottery_given="lottery" in p,
            )
        )
    offers = tuple(
        Offer(
            id=o["id"],
            capacity=int(o["capacity"]),
            price=pence(o["price"]) or 0,
            provider=o.get("provider"),
            category=o.get("category"),
        )
        for o in data["offers"]
    )
    rules = tuple(
        Rule(
            type=r["type"],
            attribute=r["attribute"],
            min_share=r.get("min_share"),
            max_gap=r.get("max_gap"),
            values=tuple(r["values"]) if "values" in r else None,
        )
        for r in policy.get("rules", [])
    )
    return Instance(
        persons=tuple(persons),
        offers=offers,
        policy=Policy(
            mechanism=policy.get("mechanism", "welfare"),
            rules=rules,
            time_limit_s=float(policy.get("time_limit_s", 60)),
            seed=seed,
        ),
        round_id=data.get("round", {}).get("id"),
        pot=pence(data.get("round", {}).get("pot")),
    )


def load_example(name: str) -> tuple[Instance, dict[str, Any]]:
    instance = instance_from_json(json.loads((EXAMPLES / f"{name}.instance.json").read_text()))
    expected = json.loads((EXAMPLES / f"{name}.result.json").read_text())
    return instance, expected


def result_as_spec(result: Result) -> dict[str, Any]:
    """The result as the spec's JSON values (money in pounds), without ``solve_seconds`` and
    the wording of messages."""
    return {
        "status": result.status,
        "mechanism": result.mechanism,
        "objective": result.objective,
        "bound": result.bound,
        "assignments": [
            {
                "person": a.person,
                "offer": a.offer,
                "rank": a.rank,
                "utility": a.utility,
                "price": Decimal(a.price) / 100,
            }
            for a in result.assignments
        ],
        "unassigned": list(result.unassigned),
        "metrics": {
            "persons": result.metrics.persons,
            "placed": result.metrics.placed,
            "placements": result.metrics.placements,
            "spend": Decimal(result.metrics.spend) / 100,
            "rank_histogram": {str(k): v for k, v in result.metrics.rank_histogram.items()},
            "coverage": result.metrics.coverage,
        },
        "violations": [{"rule": v.rule} for v in result.violations],
        "diagnosis": [{"rule": d.rule, "group": d.group, "best": d.best} for d in result.diagnosis],
    }


def expected_as_spec(expected: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in expected.items() if k not in ("format", "solve_seconds")}
    out["assignments"] = [{**a, "price": Decimal(str(a["price"]))} for a in expected["assignments"]]
    out["metrics"] = {**expected["metrics"], "spend": Decimal(str(expected["metrics"]["spend"]))}
    out["violations"] = [{"rule": v["rule"]} for v in expected["violations"]]
    out["diagnosis"] = [
        {"rule": d["rule"], "group": d["group"], "best": d["best"]} for d in expected["diagnosis"]
    ]
    return out
