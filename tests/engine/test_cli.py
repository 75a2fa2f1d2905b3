"""``tapestry solve``: exit codes, one stderr line per problem, no traceback, --out and stdin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import run_solve
from web.cli import main

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "examples"
STABLE = EXAMPLES / "stable-lottery.instance.json"
INFEASIBLE = EXAMPLES / "infeasible-floor.instance.json"

BAD = {
    "format": "tapestry.instance/1",
    "persons": [
        {"id": "p-1", "budget": 10, "need": 11, "preferences": [{"offer": "o-099", "rank": 1}]}
    ],
    "offers": [{"id": "o-1", "capacity": 1.5, "price": 1}],
}


def invoke(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    outcome = CliRunner().invoke(main, ["solve", *args], input=stdin)
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit)
    return outcome.exit_code, outcome.stdout, outcome.stderr


def test_stable_example_exits_0_and_writes_the_result() -> None:
    code, out, err = invoke(str(STABLE))
    assert code == 0
    assert json.loads(out)["status"] == "stable"
    assert err == ""


def test_infeasible_exits_1_and_still_writes_the_result() -> None:
    pytest.importorskip("engine.welfare")
    code, out, _ = invoke(str(INFEASIBLE))
    assert code == 1
    assert json.loads(out)["status"] == "infeasible"


def test_bad_input_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(BAD))
    code, out, err = invoke(str(path))
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        "persons[0].need: must be at most 10, not 11",
        'persons[0].preferences[0].offer: unknown offer "o-099"',
        "offers[0].capacity: must be a whole number, not 1.5",
    ]


def test_money_as_text_exits_2_with_one_line_naming_it(tmp_path: Path) -> None:
    document = json.loads(STABLE.read_text())
    document["persons"][0]["budget"] = "320.00"
    path = tmp_path / "text-money.json"
    path.write_text(json.dumps(document))
    code, out, err = invoke(str(path))
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        'persons[0].budget: must be an amount of money (a number), not the text "320.00"'
    ]


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b'{"a": NaN}', b"[" * 100_000, b"\xff\xfe", b'{"format": 1, "format": 2}'],
    ids=["empty", "malformed", "nan", "deep", "not utf-8", "duplicate key"],
)
def test_unreadable_input_exits_2_without_traceback(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_bytes(data)
    code, out, err = invoke(str(path))
    assert code == 2
    assert out == ""
    assert err.strip() and "Traceback" not in err


def test_missing_file_and_directory_exit_2(tmp_path: Path) -> None:
    for target in (tmp_path / "nope.json", tmp_path):
        code, out, err = invoke(str(target))
        assert code == 2 and out == ""
        assert err.startswith(str(target)) and "cannot read" in err
        assert len(err.splitlines()) == 1


def test_out_writes_the_file_and_nothing_to_stdout(tmp_path: Path) -> None:
    target = tmp_path / "result.json"
    code, out, err = invoke(str(STABLE), "--out", str(target))
    assert code == 0 and out == "" and err == ""
    assert json.loads(target.read_text())["mechanism"] == "stable"


def test_unwritable_out_exits_2(tmp_path: Path) -> None:
    code, _, err = invoke(str(STABLE), "--out", str(tmp_path / "missing" / "result.json"))
    assert code == 2 and "cannot write" in err


def test_dash_reads_standard_input() -> None:
    code, out, _ = invoke("-", stdin=STABLE.read_bytes())
    assert code == 0
    assert json.loads(out)["objective"] == 180


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_bad_time_limit_exits_2(value: str) -> None:
    code, out, err = invoke(str(STABLE), "--time-limit", value)
    assert code == 2 and out == ""
    assert err.startswith("--time-limit: ")


def test_options_click_refuses_exit_2() -> None:
    assert invoke(str(STABLE), "--mechanism", "lottery")[0] == 2
    assert invoke(str(STABLE), "--time-limit", "soon")[0] == 2


def test_mechanism_override_is_checked_against_the_instance(tmp_path: Path) -> None:
    document = json.loads(STABLE.read_text())
    document["policy"]["mechanism"] = "welfare"
    document["persons"][0]["max_placements"] = 2
    path = tmp_path / "two.json"
    path.write_text(json.dumps(document))
    code, out, err = invoke(str(path), "--mechanism", "stable")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "persons[0].max_placements: must be 1 for the stable mechanism, not 2"
    ]


def test_mechanism_override_switches_mechanism() -> None:
    pytest.importorskip("engine.welfare")
    code, out, _ = invoke(str(STABLE), "--mechanism", "welfare", "--time-limit", "5")
    assert code in (0, 1)
    assert json.loads(out)["mechanism"] == "welfare"


def test_run_solve_returns_the_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_solve(str(STABLE), out=str(tmp_path / "r.json")) == 0
    assert run_solve(str(STABLE), time_limit_s=0) == 2
    assert run_solve(str(STABLE), mechanism="lottery") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "--time-limit: must be a number of seconds above 0, not 0",
        '--mechanism: must be "welfare" or "stable", not "lottery"',
    ]


def test_console_script_end_to_end(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(BAD))
    command = [sys.executable, "-c", "from web.cli import main; main()", "solve"]
    ok = subprocess.run([*command, str(STABLE)], capture_output=True, check=False)
    assert ok.returncode == 0 and json.loads(ok.stdout)["status"] == "stable"
    broken = subprocess.run([*command, str(bad)], capture_output=True, check=False, text=True)
    assert broken.returncode == 2 and broken.stdout == ""
    assert len(broken.stderr.splitlines()) == 3 and "Traceback" not in broken.stderr
    piped = subprocess.run(
        [*command, "-"], input=STABLE.read_bytes(), capture_output=True, check=False
    )
    assert piped.returncode == 0 and json.loads(piped.stdout)["objective"] == 180


def test_closed_standard_output_is_not_a_crash() -> None:
    command = [sys.executable, "-c", "from web.cli import main; main()", "solve", str(STABLE)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `tapestry solve FILE | head -0`
    errors = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=120) == 0
    assert "Traceback" not in errors and "BrokenPipe" not in errors
