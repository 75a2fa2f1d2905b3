"""``tapestry explain``: the spec's examples exactly, every exit-2 case with its exact lines, the
time limit (exit 1), ``--persons``, standard input, ``--out`` and the stats file."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine.cli import STATS_ENV, run_explain
from engine.generate import run_generate
from engine.reader import read_instance
from engine.solve import solve
from engine.writer import dumps_result
from web.cli import main

# CI clones the repo into a folder of its own with ``shared/`` beside it: go via the parent.
EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "examples"
EXPLAINED = sorted(p.name.removesuffix(".explanations.json") for p in EXAMPLES.glob("*.expl*"))
COMMAND = [sys.executable, "-c", "from web.cli import main; main()", "explain"]

Document = dict[str, Any]


def example(name: str) -> tuple[Path, Path]:
    return EXAMPLES / f"{name}.instance.json", EXAMPLES / f"{name}.result.json"


def without_volatile(value: Any) -> Any:
    """``value`` without ``explain_seconds`` and the wording of ``message``s."""
    if isinstance(value, dict):
        return {
            key: without_volatile(item)
            for key, item in value.items()
            if key not in ("explain_seconds", "message")
        }
    if isinstance(value, list):
        return [without_volatile(item) for item in value]
    return value


def invoke(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    outcome = CliRunner().invoke(main, ["explain", *args], input=stdin)
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit)
    return outcome.exit_code, outcome.stdout, outcome.stderr


# --- the examples -------------------------------------------------------------------------------


def test_the_three_examples_are_found() -> None:
    assert EXPLAINED == ["stable-lottery", "welfare-floor", "welfare-pot"]


@pytest.mark.parametrize("name", EXPLAINED)
def test_example_reproduces_exactly_through_the_command(name: str, tmp_path: Path) -> None:
    instance, result = example(name)
    expected = json.loads((EXAMPLES / f"{name}.explanations.json").read_text(encoding="utf-8"))
    ran = subprocess.run(
        [*COMMAND, str(instance), str(result)], capture_output=True, check=False, text=True
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == ""
    got = json.loads(ran.stdout)
    assert list(got) == list(expected), "members in the spec's order"
    assert without_volatile(got) == without_volatile(expected)
    for person in got["persons"]:
        assert all(isinstance(w["message"], str) and w["message"] for w in person["why_not"])
    assert isinstance(got["explain_seconds"], float | int) and got["explain_seconds"] >= 0


@pytest.mark.parametrize("name", EXPLAINED)
def test_example_reproduces_exactly_in_process(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instance, result = example(name)
    expected = json.loads((EXAMPLES / f"{name}.explanations.json").read_text(encoding="utf-8"))
    out = tmp_path / "explanations.json"
    assert run_explain(str(instance), str(result), out=str(out)) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert without_volatile(json.loads(out.read_text(encoding="utf-8"))) == without_volatile(
        expected
    )


# --- results that do not fit ----------------------------------------------------------------


def fitted(instance: Document, result: Document) -> Document:
    """``result`` with its objective, bound, unassigned and metrics recomputed from its
    assignments (those naming a known person and offer; prices from the instance), so that a
    test changes one thing only."""
    persons = {p["id"]: p for p in instance["persons"]}
    labels = {pid: p.get("attributes", {}) for pid, p in persons.items()}
    prices = {o["id"]: Decimal(str(o["price"])) for o in instance["offers"]}
    counted = [a for a in result["assignments"] if a["person"] in persons and a["offer"] in prices]
    placed = {a["person"] for a in counted}
    result["objective"] = sum(a["utility"] for a in result["assignments"])
    if result["status"] == "optimal":
        result["bound"] = result["objective"]
    result["unassigned"] = sorted(set(persons) - placed)
    attributes = sorted({r["attribute"] for r in instance.get("policy", {}).get("rules", [])})
    coverage = {}
    for attribute in attributes:
        members = Counter(a[attribute] for a in labels.values() if attribute in a)
        hits = Counter(labels[pid][attribute] for pid in placed if attribute in labels[pid])
        coverage[attribute] = {g: hits[g] / members[g] for g in sorted(members)}
    result["metrics"] = {
        "persons": len(persons),
        "placed": len(placed),
        "placements": len(counted),
        "spend": float(sum((prices[a["offer"]] for a in counted), Decimal(0))),
        "rank_histogram": {
            str(rank): n for rank, n in sorted(Counter(a["rank"] for a in counted).items())
        },
        "coverage": coverage,
    }
    return result


def assignment(person: str, offer: str, rank: int, utility: int, price: float) -> Document:
    return {"person": person, "offer": offer, "rank": rank, "utility": utility, "price": price}


Change = Callable[[Document, Document], None]


def refuse(tmp_path: Path, name: str, change: Change, *args: str, refit: bool = True) -> list[str]:
    """Run the command on example ``name`` after ``change(instance, result)``: it must exit 2
    with nothing on standard output and no traceback; returns the lines on standard error."""
    instance_path, result_path = example(name)
    instance = json.loads(instance_path.read_text())
    result = json.loads(result_path.read_text())
    change(instance, result)
    if refit:
        fitted(instance, result)
    (tmp_path / "i.json").write_text(json.dumps(instance))
    (tmp_path / "r.json").write_text(json.dumps(result))
    code, out, err = invoke(str(tmp_path / "i.json"), str(tmp_path / "r.json"), *args)
    assert code == 2 and out == "" and "Traceback" not in err
    return err.splitlines()


def test_the_fitted_examples_still_fit(tmp_path: Path) -> None:
    for name in ("welfare-floor", "welfare-pot"):
        instance_path, result_path = example(name)
        instance = json.loads(instance_path.read_text())
        result = fitted(instance, json.loads(result_path.read_text()))
        assert without_volatile(result) == without_volatile(json.loads(result_path.read_text()))


def _replace(index: int, **values: Any) -> Change:
    def change(instance: Document, result: Document) -> None:
        result["assignments"][index].update(values)

    return change


def _insert(index: int, entry: Document) -> Change:
    def change(instance: Document, result: Document) -> None:
        result["assignments"].insert(index, entry)

    return change


def _drop(index: int) -> Change:
    def change(instance: Document, result: Document) -> None:
        del result["assignments"][index]

    return change


def _two_places_for_p02(instance: Document, result: Document) -> None:
    instance["persons"][1]["budget"] = 200
    instance["offers"][0]["capacity"] = 2
    result["assignments"].insert(1, assignment("p-02", "o-a", 2, 80, 50.0))


def _same_offer_twice(instance: Document, result: Document) -> None:
    instance["persons"][1].update(budget=200, max_placements=2)
    instance["offers"][1]["capacity"] = 2
    result["assignments"].insert(1, assignment("p-02", "o-b", 1, 100, 80.5))


def _gap_instead_of_floor(instance: Document, result: Document) -> None:
    instance["policy"]["rules"] = [{"type": "coverage_gap", "attribute": "area", "max_gap": 0.2}]
    del result["assignments"][1]


def _stable_for_two_places(instance: Document, result: Document) -> None:
    instance["policy"]["mechanism"] = "welfare"
    instance["persons"][0]["max_placements"] = 2


CASES: dict[str, tuple[str, Change, list[str]]] = {
    "unknown person": (
        "welfare-floor",
        _insert(3, assignment("p-99", "o-c", 1, 30, 55.25)),
        ['assignments[3].person: unknown person "p-99"'],
    ),
    "unknown offer": (
        "welfare-floor",
        _replace(2, offer="o-z"),
        ['assignments[2].offer: unknown offer "o-z"'],
    ),
    "off the list": (
        "welfare-floor",
        _replace(0, offer="o-c", price=55.25),
        ['assignments[0].offer: "o-c" is not on p-02\'s list'],
    ),
    "rank": (
        "welfare-floor",
        _replace(1, rank=3),
        ['assignments[1].rank: p-04 ranks "o-a" 2, not 3'],
    ),
    "utility": (
        "welfare-floor",
        _replace(1, utility=90),
        ['assignments[1].utility: p-04\'s utility for "o-a" is 80, not 90'],
    ),
    "price": (
        "welfare-floor",
        _replace(2, price=55.0),
        ['assignments[2].price: "o-c" costs 55.25, not 55.00'],
    ),
    "capacity": (
        "welfare-floor",
        _insert(0, assignment("p-01", "o-b", 2, 80, 80.5)),
        ['assignments: "o-b" is held 2 times, above its capacity of 1'],
    ),
    "budget": (
        "welfare-floor",
        _replace(1, offer="o-c", rank=1, utility=100, price=55.25),
        ["assignments[1].price: p-04's places cost 55.25, above the budget of 50.00"],
    ),
    "max_placements": (
        "welfare-floor",
        _two_places_for_p02,
        ["assignments[1]: p-02 holds more places than max_placements (1)"],
    ),
    "same offer twice": (
        "welfare-floor",
        _same_offer_twice,
        ['assignments[1].offer: p-02 holds "o-b" twice (also at assignments[0])'],
    ),
    "pot": (
        "welfare-pot",
        _insert(1, assignment("p-2", "o-b", 1, 60, 50.0)),
        [
            "assignments: the allocation breaks the pot: total spend 120.00 exceeds the pot "
            "of 110.00"
        ],
    ),
    "floor": (
        "welfare-floor",
        _drop(1),
        [
            "assignments: the allocation breaks policy.rules[0]: coverage_floor on area: "
            'group "south" has coverage 0.0 < 0.5'
        ],
    ),
    "gap": (
        "welfare-floor",
        _gap_instead_of_floor,
        [
            "assignments: the allocation breaks policy.rules[0]: coverage_gap on area: "
            '"north" 0.5 minus "south" 0.0 is 0.5 > 0.2'
        ],
    ),
    "stable with two places": (
        "stable-lottery",
        _stable_for_two_places,
        ["persons[0].max_placements: must be 1 for the stable mechanism, not 2"],
    ),
    "unsorted": (
        "welfare-floor",
        lambda i, r: r["assignments"].reverse(),
        ["assignments[1]: assignments must be sorted by person id, then rank"],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_result_that_does_not_fit_exits_2(case: str, tmp_path: Path) -> None:
    name, change, lines = CASES[case]
    assert refuse(tmp_path, name, change) == lines


def test_objective_not_the_sum_of_utilities(tmp_path: Path) -> None:
    def change(instance: Document, result: Document) -> None:
        result["objective"] = result["bound"] = 200

    assert refuse(tmp_path, "welfare-floor", change, refit=False) == [
        "objective: 200 is not the sum of the utilities (210)"
    ]


@pytest.mark.parametrize("status", ["infeasible", "no_solution"])
def test_a_result_without_an_allocation_exits_2(status: str, tmp_path: Path) -> None:
    def change(instance: Document, result: Document) -> None:
        result["status"] = status

    assert refuse(tmp_path, "infeasible-floor", change, refit=False) == [
        f'status: "{status}" has no allocation to explain'
    ]


def test_the_status_must_be_the_mechanism_s(tmp_path: Path) -> None:
    def change(instance: Document, result: Document) -> None:
        result["mechanism"] = "stable"

    assert refuse(tmp_path, "welfare-floor", change, refit=False) == [
        'status: "optimal" is not a status of the stable mechanism',
        "bound: must be null for a stable result",
    ]


def test_bound_of_an_optimal_result(tmp_path: Path) -> None:
    def change(instance: Document, result: Document) -> None:
        result["bound"] = 230

    assert refuse(tmp_path, "welfare-floor", change, refit=False) == [
        "bound: must equal the objective (210) when optimal"
    ]


def test_unassigned_must_list_exactly_the_persons_without_a_place(tmp_path: Path) -> None:
    def change(instance: Document, result: Document) -> None:
        result["unassigned"] = ["p-01", "p-02", "p-77"]

    assert refuse(tmp_path, "welfare-floor", change, refit=False) == [
        'unassigned[1]: "p-02" holds a place',
        'unassigned[2]: unknown person "p-77"',
        'unassigned: "p-03" holds no place and is not listed',
    ]


def test_metrics_must_describe_the_assignments(tmp_path: Path) -> None:
    def change(instance: Document, result: Document) -> None:
        result["metrics"]["placed"] = 4
        result["metrics"]["spend"] = 100.0
        result["metrics"]["coverage"]["area"]["south"] = 1.0

    assert refuse(tmp_path, "welfare-floor", change, refit=False) == [
        "metrics.placed: 4, but the assignments give 3",
        "metrics.spend: 100.00, but the assignments cost 185.75",
        "metrics.coverage.area: does not give the coverage of each group of the assignments",
    ]


def test_a_stable_result_may_break_the_pot_and_the_rules() -> None:
    # The example's allocation breaks the pot and rule 0, and lists both under violations.
    code, out, err = invoke(*map(str, example("stable-lottery")))
    assert code == 0 and err == ""
    assert json.loads(out)["mechanism"] == "stable"


def test_the_result_s_mechanism_is_explained_not_the_policy_s(tmp_path: Path) -> None:
    instance_path, result_path = example("welfare-pot")
    document = json.loads(instance_path.read_text())
    document["policy"]["mechanism"] = "stable"
    (tmp_path / "i.json").write_text(json.dumps(document))
    code, out, err = invoke(str(tmp_path / "i.json"), str(result_path))
    assert code == 0, err
    assert json.loads(out)["mechanism"] == "welfare"


def test_format_problems_of_both_files_are_reported_together(tmp_path: Path) -> None:
    instance_path, result_path = example("welfare-floor")
    instance = json.loads(instance_path.read_text())
    instance["offers"][0]["capcity"] = instance["offers"][0].pop("capacity")
    (tmp_path / "i.json").write_text(json.dumps(instance))
    text = result_path.read_text().replace('"objective": 210,', '"objective": 210, "objective": 1,')
    (tmp_path / "r.json").write_text(text)
    code, out, err = invoke(str(tmp_path / "i.json"), str(tmp_path / "r.json"))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        'offers[0].capcity: is not part of the format (did you mean "capacity"?)',
        "offers[0].capacity: is required",
        "objective: is given more than once in the same object",
    ]


def test_an_empty_file_is_named(tmp_path: Path) -> None:
    instance_path, _ = example("welfare-floor")
    (tmp_path / "r.json").write_text("")
    code, out, err = invoke(str(instance_path), str(tmp_path / "r.json"))
    assert code == 2 and out == ""
    assert err.splitlines() == [f"{tmp_path / 'r.json'}: the file is empty"]


def test_missing_files_and_bad_options_exit_2(tmp_path: Path) -> None:
    instance_path, result_path = example("welfare-floor")
    code, out, err = invoke(str(instance_path), str(tmp_path / "nope.json"))
    assert code == 2 and out == ""
    assert err.startswith(f"{tmp_path / 'nope.json'}: cannot read the file")
    assert invoke(str(instance_path), str(result_path), "--time-limit", "0")[2] == (
        "--time-limit: must be a number of seconds above 0, not 0.0\n"
    )
    assert invoke(str(instance_path), str(result_path), "--time-limit", "soon")[0] == 2
    code, _, err = invoke(str(instance_path), str(result_path), "--out", str(tmp_path / "a" / "b"))
    assert code == 2 and "cannot write the explanations" in err


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_bad_worker_count_exits_2_naming_the_variable(
    value: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TAPESTRY_EXPLAIN_WORKERS", value)
    out = tmp_path / "doc.json"
    code, _, err = invoke(*map(str, example("welfare-floor")), "--out", str(out))
    assert code == 2 and not out.exists()
    assert err == "TAPESTRY_EXPLAIN_WORKERS: must be a whole number, at least 1\n"


def test_two_workers_write_the_same_document(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPESTRY_EXPLAIN_WORKERS", "2")
    code, out, err = invoke(*map(str, example("welfare-floor")))
    assert code == 0 and err == ""
    expected = json.loads((EXAMPLES / "welfare-floor.explanations.json").read_text())
    assert without_volatile(json.loads(out)) == without_volatile(expected)


# --- --persons, standard input, --out, the stats file ------------------------------------------


def test_persons_explains_only_those_and_leaves_rules_and_places_empty() -> None:
    code, out, err = invoke(*map(str, example("welfare-floor")), "--persons", "p-04,p-01")
    assert code == 0 and err == ""
    got = json.loads(out)
    expected = json.loads((EXAMPLES / "welfare-floor.explanations.json").read_text())
    assert got["rules"] == [] and got["places"] == []
    assert got["complete"] is True
    assert without_volatile(got["persons"]) == without_volatile(
        [p for p in expected["persons"] if p["id"] in ("p-01", "p-04")]
    )


def test_an_unknown_person_in_persons_exits_2() -> None:
    code, out, err = invoke(*map(str, example("welfare-floor")), "--persons", "p-01,p-99,,p-x")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        '--persons: unknown person "p-99"',
        "--persons: an empty person id (two commas in a row?)",
        '--persons: unknown person "p-x"',
    ]


@pytest.mark.parametrize("which", [0, 1])
def test_dash_reads_one_file_from_standard_input(which: int) -> None:
    paths = [str(p) for p in example("welfare-pot")]
    stdin = Path(paths[which]).read_bytes()
    paths[which] = "-"
    code, out, err = invoke(*paths, stdin=stdin)
    assert code == 0 and err == ""
    assert json.loads(out)["objective"] == 200


def test_both_from_standard_input_is_refused() -> None:
    code, out, err = invoke("-", "-", stdin=b"{}")
    assert code == 2 and out == ""
    assert err.splitlines() == ["RESULT: only one of INSTANCE and RESULT may be - (standard input)"]


def test_out_writes_the_file_and_nothing_to_stdout(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    code, out, err = invoke(*map(str, example("stable-lottery")), "--out", str(target))
    assert code == 0 and out == "" and err == ""
    assert json.loads(target.read_text(encoding="utf-8"))["format"] == "tapestry.explanations/1"


def test_stats_file_and_its_summary_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stats = tmp_path / "stats.json"
    monkeypatch.setenv(STATS_ENV, str(stats))
    code, out, err = invoke(*map(str, example("welfare-floor")), "--out", str(tmp_path / "x.json"))
    assert code == 0 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("explain: 5 of 5 persons in ")
    written = json.loads(stats.read_text())
    assert written["complete"] is True
    assert written["persons"] == written["persons_in_instance"] == 5
    assert isinstance(written["settled"], dict) and written["settled"]
    assert {"read_s", "check_s", "explain_s", "write_s", "total_s"} <= set(written)


def test_no_stats_and_no_log_without_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(STATS_ENV, raising=False)
    code, out, err = invoke(*map(str, example("welfare-floor")), "--out", str(tmp_path / "x.json"))
    assert (code, out, err) == (0, "", "")


# --- the time limit -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pot_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A generated s instance with a pot and its result: flows do not settle every question
    there, so explaining it takes covering MIPs (over a minute at the time of writing)."""
    folder = tmp_path_factory.mktemp("pot")
    instance_path = folder / "instance.json"
    assert run_generate("s", 1, "pot", str(instance_path)) == 0
    result = solve(read_instance(instance_path.read_bytes()), time_limit_s=30)
    assert result.status == "optimal"
    result_path = folder / "result.json"
    result_path.write_text(dumps_result(result))
    return instance_path, result_path


@pytest.mark.slow
def test_the_time_limit_stops_it_with_exit_1_and_a_document(
    pot_case: tuple[Path, Path], tmp_path: Path
) -> None:
    # Deterministic: reading alone takes longer than 1 ms, so the limit has passed before
    # explaining begins; what needs no search (over budget, no places) is still decided, every
    # question that needs a covering MIP or a solve is left out.
    out = tmp_path / "x.json"
    ran = subprocess.run(
        [*COMMAND, *map(str, pot_case), "--time-limit", "0.001", "--out", str(out)],
        capture_output=True,
        check=False,
        text=True,
    )
    assert ran.returncode == 1, ran.stderr
    assert ran.stdout == "" and ran.stderr == ""
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["complete"] is False
    assert 0 < len(document["persons"]) < 1000
    assert document["places"] == [] or len(document["places"]) < 100


def test_closed_standard_output_is_not_a_crash() -> None:
    process = subprocess.Popen(
        [*COMMAND, *map(str, example("stable-lottery"))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `tapestry explain I R | head -0`
    errors = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=120) == 0
    assert "Traceback" not in errors and "BrokenPipe" not in errors


def test_output_is_utf8_whatever_the_locale(tmp_path: Path) -> None:
    instance_path, result_path = example("welfare-floor")
    for source, target in ((instance_path, "i.json"), (result_path, "r.json")):
        (tmp_path / target).write_text(
            source.read_text(encoding="utf-8").replace("p-04", "p-04ü"), encoding="utf-8"
        )
    ran = subprocess.run(
        [*COMMAND, str(tmp_path / "i.json"), str(tmp_path / "r.json")],
        capture_output=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C", "PYTHONIOENCODING": "ascii"},
    )
    assert ran.returncode == 0, ran.stderr
    assert '"id": "p-04ü"'.encode() in ran.stdout
    assert "p-04ü" in [p["id"] for p in json.loads(ran.stdout.decode("utf-8"))["persons"]]
