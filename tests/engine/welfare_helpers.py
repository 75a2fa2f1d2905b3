"""Helpers for the welfare, diagnosis and explanation tests: example loading and comparison,
and a short way to write a person."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.instance import Instance, Person, Preference, Result
from engine.reader import read_instance

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "spec" / "examples"


def person(pid: str, budget: int, prefs: list[tuple[str, int]], **kw: object) -> Person:
    """A person whose preferences are ``(offer, utility)`` pairs, ranked in list order."""
    return Person(
        id=pid,
        budget=budget,
        preferences=tuple(
            Preference(offer=o, rank=r + 1, utility=u) for r, (o, u) in enumerate(prefs)
        ),
        **kw,  # type: ignore[arg-type]
    )


def load_example(name: str) -> tuple[Instance, dict[str, Any]]:
    instance = read_instance((EXAMPLES / f"{name}.instance.json").read_text())
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
