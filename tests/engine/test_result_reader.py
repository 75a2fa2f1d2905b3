"""The strict result reader: every problem named by its path, both lanes giving the same result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.reader import _parse, read_instance
from engine.result_reader import InvalidResult, _read_usual, read_result, result_from_dict
from engine.solve import solve
from engine.writer import dumps_result

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "examples"
RESULTS = sorted(EXAMPLES.glob("*.result.json"))
FLOOR = EXAMPLES / "welfare-floor.result.json"


def problems(data: bytes | str) -> list[str]:
    with pytest.raises(InvalidResult) as caught:
        read_result(data)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.name)
def test_every_example_result_reads(path: Path) -> None:
    result = read_result(path.read_bytes())
    expected = json.loads(path.read_text())
    assert result.status == expected["status"]
    assert result.objective == expected["objective"]
    assert [a.person for a in result.assignments] == [a["person"] for a in expected["assignments"]]
    assert result.metrics.spend == round(expected["metrics"]["spend"] * 100)


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.name)
def test_fast_lane_and_full_reader_agree(path: Path) -> None:
    data = path.read_bytes()
    fast = _read_usual(data)
    full = result_from_dict(_parse(data))
    assert fast is None or fast == full


def test_fast_lane_reads_what_the_writer_writes() -> None:
    instance = read_instance((EXAMPLES / "welfare-pot.instance.json").read_bytes())
    result = solve(instance)
    text = dumps_result(result).encode()
    assert _read_usual(text) == read_result(text) == result_from_dict(_parse(text))


def test_money_and_integers_by_value() -> None:
    document = json.loads(FLOOR.read_text())
    document["assignments"][0]["price"] = 8.05e1
    document["assignments"][0]["rank"] = 1.0
    result = read_result(json.dumps(document))
    assert result.assignments[0].price == 8050
    assert result.assignments[0].rank == 1


@pytest.mark.parametrize(("key", "path"), [("price", "assignments[0].price"),
                                          ("spend", "metrics.spend")])  # fmt: skip
def test_money_written_as_text_is_refused_in_both_lanes(key: str, path: str) -> None:
    document = json.loads(FLOOR.read_text())
    where = document["assignments"][0] if key == "price" else document["metrics"]
    where[key] = str(where[key])
    text = json.dumps(document, separators=(",", ":")).encode()
    assert _read_usual(text) is None
    assert any(line.startswith(f"{path}: ") for line in problems(text)), problems(text)


def test_every_problem_is_named_by_its_path() -> None:
    document = json.loads(FLOOR.read_text())
    del document["bound"]
    document["status"] = "done"
    document["objective"] = 2.5
    document["assignments"][0]["prize"] = document["assignments"][0].pop("price")
    document["assignments"][1]["rank"] = 0
    document["assignments"][2]["price"] = 55.255
    document["unassigned"][1] = 3
    document["metrics"]["rank_histogram"]["x"] = 1
    document["metrics"]["coverage"]["area"]["north"] = 1.5
    document["violations"] = [{"rule": "pots", "message": "x"}]
    document["solve_seconds"] = -1
    assert problems(json.dumps(document)) == [
        "bound: is required",
        'status: must be one of "optimal", "feasible", "stable", "infeasible", "no_solution", '
        'not "done"',
        "objective: must be a whole number, not 2.5",
        'assignments[0].prize: is not part of the format (did you mean "price"?)',
        "assignments[0].price: is required",
        "assignments[1].rank: must be at least 1, not 0",
        "assignments[2].price: must have at most two decimal places (pounds and pence), not 55.255",
        "unassigned[1]: must be a text string, not 3",
        "metrics.rank_histogram.x: must be keyed by a rank (a whole number 1 or more, as text)",
        "metrics.coverage.area.north: must be between 0 and 1, not 1.5",
        'violations[0].rule: must be a whole number, not the text "pots"',
        "solve_seconds: must be 0 or more, not -1",
    ]


def test_a_key_given_twice_is_an_error_in_both_lanes() -> None:
    text = FLOOR.read_text().replace('"objective": 210,', '"objective": 210, "objective": 211,')
    assert problems(text.encode()) == ["objective: is given more than once in the same object"]
    nested = FLOOR.read_text().replace('"placed": 3,', '"placed": 3, "placed": 3,')
    assert problems(nested.encode()) == [
        "metrics.placed: is given more than once in the same object"
    ]


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"", "the file is empty"),
        (b"[]", "must be a JSON object, not a list"),
        (
            b"{",
            "not valid JSON at line 1, column 2: Expecting property name enclosed in double quotes",
        ),
    ],  # fmt: skip
    ids=["empty", "list", "malformed"],
)
def test_unreadable_documents(data: bytes, line: str) -> None:
    assert problems(data) == [line]


def test_missing_members_and_wrong_format() -> None:
    assert problems(json.dumps({"format": "tapestry.instance/1"})) == [
        "status: is required",
        "mechanism: is required",
        "objective: is required",
        "bound: is required",
        "assignments: is required",
        "unassigned: is required",
        "metrics: is required",
        'format: must be "tapestry.allocation/1", not the text "tapestry.instance/1"',
    ]
