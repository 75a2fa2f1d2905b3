"""Every worked example in ``shared/spec/examples`` reproduces exactly through ``tapestry solve``
(and each explanations example through ``tapestry explain``).

Results are compared on every field except ``solve_seconds`` and the wording of ``message``s;
money and shares compare by value (``60.00`` and ``60.0`` are the same).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from web.cli import main

# CI clones the repo into a folder of its own with ``shared/`` beside it: go via the parent.
EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "examples"
NAMES = sorted(p.name.removesuffix(".instance.json") for p in EXAMPLES.glob("*.instance.json"))
WELFARE_EXAMPLES = {"welfare-floor", "infeasible-floor"}
EXIT_BY_STATUS = {"optimal": 0, "feasible": 0, "stable": 0, "infeasible": 1, "no_solution": 1}


def without_volatile(value: Any) -> Any:
    """``value`` without ``solve_seconds`` and the ``message`` of violations and diagnoses."""
    if isinstance(value, dict):
        return {
            key: without_volatile(item)
            for key, item in value.items()
            if key not in ("solve_seconds", "message")
        }
    if isinstance(value, list):
        return [without_volatile(item) for item in value]
    return value


def test_examples_are_found() -> None:
    assert EXAMPLES.is_dir(), f"the spec's examples are missing: {EXAMPLES}"
    assert {"welfare-floor", "stable-lottery", "infeasible-floor", "stable-derived-lottery"} <= set(
        NAMES
    )


@pytest.mark.parametrize("name", NAMES)
def test_example_reproduces_exactly(name: str, tmp_path: Path) -> None:
    if name in WELFARE_EXAMPLES:
        pytest.importorskip("engine.welfare")
    expected = json.loads((EXAMPLES / f"{name}.result.json").read_text(encoding="utf-8"))
    out = tmp_path / "result.json"

    outcome = CliRunner().invoke(
        main, ["solve", str(EXAMPLES / f"{name}.instance.json"), "--out", str(out)]
    )

    assert outcome.exit_code == EXIT_BY_STATUS[expected["status"]], outcome.output
    assert outcome.stdout == ""
    got = json.loads(out.read_text(encoding="utf-8"))
    assert list(got) == list(expected), "members in the spec's order"
    assert without_volatile(got) == without_volatile(expected)
    # Messages may be worded differently, but there is one for each entry.
    for key in ("violations", "diagnosis"):
        assert all(isinstance(entry["message"], str) and entry["message"] for entry in got[key])


@pytest.mark.parametrize("name", NAMES)
def test_example_money_is_written_with_two_decimals(name: str) -> None:
    if name in WELFARE_EXAMPLES:
        pytest.importorskip("engine.welfare")
    outcome = CliRunner().invoke(main, ["solve", str(EXAMPLES / f"{name}.instance.json")])
    expected = json.loads((EXAMPLES / f"{name}.result.json").read_text(encoding="utf-8"))
    spend = expected["metrics"]["spend"]
    assert f'"spend": {spend:.2f}' in outcome.stdout
    for assignment in expected["assignments"]:
        assert f'"price": {assignment["price"]:.2f}' in outcome.stdout


EXPLAINED = sorted(p.name.removesuffix(".explanations.json") for p in EXAMPLES.glob("*.expl*"))


def test_explanation_examples_are_found() -> None:
    assert {"welfare-floor", "welfare-pot", "stable-lottery"} <= set(EXPLAINED)


@pytest.mark.parametrize("name", EXPLAINED)
def test_explanations_example_reproduces_exactly(name: str, tmp_path: Path) -> None:
    """``tapestry explain NAME.instance.json NAME.result.json`` writes
    ``NAME.explanations.json``, on every field except ``explain_seconds`` and the wording of
    ``message``s (``shared/spec/examples/README.md``)."""
    expected = json.loads((EXAMPLES / f"{name}.explanations.json").read_text(encoding="utf-8"))
    out = tmp_path / "explanations.json"

    outcome = CliRunner().invoke(
        main,
        [
            "explain",
            str(EXAMPLES / f"{name}.instance.json"),
            str(EXAMPLES / f"{name}.result.json"),
            "--out",
            str(out),
        ],
    )

    assert outcome.exit_code == 0, outcome.output
    assert outcome.stdout == ""
    got = json.loads(out.read_text(encoding="utf-8"))
    assert list(got) == list(expected), "members in the spec's order"

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: strip(v) for k, v in value.items() if k not in ("explain_seconds", "message")
            }
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    assert strip(got) == strip(expected)
    for person in got["persons"]:
        for entry in person["why_not"]:
            assert list(entry) == ["offer", "rank", "code", "rule", "message"] and entry["message"]
