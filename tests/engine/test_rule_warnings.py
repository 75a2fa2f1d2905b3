"""``tapestry solve`` warns about a rule's ``values`` entry that no person has, and still
solves (the format allows it): same result, same exit status."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from engine.reader import read_instance
from engine.rule_warnings import unknown_group_warnings
from web.cli import main


def instance(values: list[str], min_share: float = 0.99) -> dict:
    areas = ["Ashford Vale", "Westmere", "Westmere"]
    return {
        "format": "tapestry.instance/1",
        "persons": [
            {
                "id": f"p-{i}",
                "budget": 100,
                "attributes": {"area": area},
                "preferences": [{"offer": "o-1", "rank": 1}],
            }
            for i, area in enumerate(areas, 1)
        ],
        "offers": [{"id": "o-1", "capacity": 1, "price": 10}],
        "policy": {
            "rules": [
                {"type": "coverage_gap", "attribute": "area", "max_gap": 1},
                {
                    "type": "coverage_floor",
                    "attribute": "area",
                    "min_share": min_share,
                    "values": values,
                },
            ]
        },
    }


def solve(document: dict, tmp_path: Path) -> tuple[int, str, str]:
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(document))
    outcome = CliRunner().invoke(main, ["solve", str(path)])
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit)
    return outcome.exit_code, outcome.stdout, outcome.stderr


def test_each_unknown_value_is_named_by_its_place_with_the_nearest_group() -> None:
    document = instance(["narnia", "ASHFORD-VALE", "Westmere", "westmere"])
    lines = unknown_group_warnings(read_instance(json.dumps(document)))
    assert lines == [
        'policy.rules[1].values[0]: no person has area "narnia", so the rule asks nothing of it',
        'policy.rules[1].values[1]: no person has area "ASHFORD-VALE", so the rule asks nothing '
        'of it (did you mean "Ashford Vale"?)',
        'policy.rules[1].values[3]: no person has area "westmere", so the rule asks nothing of '
        'it (did you mean "Westmere"?)',
    ]


def test_solve_warns_on_standard_error_and_solves_as_before(tmp_path: Path) -> None:
    code, out, err = solve(instance(["narnia", "ASHFORD-VALE"]), tmp_path)
    assert code == 0
    assert err.splitlines() == [
        'warning: policy.rules[1].values[0]: no person has area "narnia", so the rule asks '
        "nothing of it",
        'warning: policy.rules[1].values[1]: no person has area "ASHFORD-VALE", so the rule '
        'asks nothing of it (did you mean "Ashford Vale"?)',
    ]
    plain = instance(["narnia", "ASHFORD-VALE"])
    plain["policy"]["rules"] = plain["policy"]["rules"][:1]
    code_plain, out_plain, _ = solve(plain, tmp_path)
    assert code_plain == 0
    # The unknown groups name no group, so the floor binds no one: the plain optimum.
    assert json.loads(out)["assignments"] == json.loads(out_plain)["assignments"]


def test_known_groups_give_no_warning(tmp_path: Path) -> None:
    code, _, err = solve(instance(["Westmere", "Ashford Vale"], min_share=0), tmp_path)
    assert (code, err) == (0, "")
