"""Explanations benchmark: ``tapestry explain`` for every person, against today's method.

Not a test (pytest never collects ``loadtests/``). For each size and variant it generates the
instance once (``tapestry generate --size S --seed N --variant V``, cached in ``--data``) and
solves it (``tapestry solve``, timed: "solve s"), then runs each case in a fresh process, so that
each time is a whole-process time (interpreter start, imports, reading both files, explaining,
writing) and each peak memory is that process's own (``ru_maxrss`` from ``os.wait4``). Each case
runs ``--repeat`` times; the table reports medians.

Cases:

* ``explain``: ``tapestry explain INSTANCE RESULT --out FILE`` for every person (so with the
  rules and places sections), with ``TAPESTRY_EXPLAIN_STATS`` naming a file: how many questions
  each method settled (``doc.settled``: ``flow``, ``swap``, ``bound``, ``exact`` re-solves, ...),
  the command's own timings and whether the document is ``complete`` (exit 1 when the time limit
  stopped it).
* ``baseline``: today's method, :func:`engine.explain_resolve.explain_persons` (flows where they
  settle a question, one re-solve per question otherwise), on ``--sample`` persons drawn with
  ``--sample-seed`` (the persons' "why not" only: no rule prices, no place values), in a fresh
  process; its time is extrapolated to every person as the whole process's time for the sample
  (start, imports, reading, the sample) plus the sample's time per person for everyone else.

Usage::

    python loadtests/explain_bench.py --sizes s --repeat 3 --out explain-s
    python loadtests/explain_bench.py --sizes m --variants plain,floors --repeat 1 --out explain-m
    python loadtests/explain_bench.py --table explain-s.json explain-m.json

The engine's explanations are exact, so their times depend on how hard the questions are; a
per-case ``--timeout`` (kill) keeps the benchmark finite, and ``--time-limit`` is passed to
``tapestry explain`` (default: the instance's ``policy.time_limit_s``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZES = ("s", "m", "l")
VARIANTS = ("plain", "floors", "pot", "gap", "multi", "maximin", "placements", "stable")
#: Per-case kill timeout (seconds), by size, unless --timeout is given.
TIMEOUT = {"s": 300.0, "m": 1800.0, "l": 3600.0}
#: Address-space cap of each child process in bytes (--max-memory-gb; None: no cap). A case
#: that needs more fails with its MemoryError instead of pushing the machine into swap.
MEMORY_CAP: list[int | None] = [None]


def _cap_memory() -> None:
    cap = MEMORY_CAP[0]
    if cap is not None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


# --- the child process (today's method) ---------------------------------------------------------


def worker_baseline(
    instance_path: str, result_path: str, report: str, sample: int, seed: int, limit: float
) -> None:
    """Today's method on a seeded sample of persons; writes its timings to ``report``."""
    started = time.perf_counter()
    from engine.arrays import to_arrays
    from engine.explain_resolve import explain_persons
    from engine.reader import read_instance
    from engine.result_reader import read_result

    imported = time.perf_counter()
    instance = read_instance(Path(instance_path).read_bytes())
    result = read_result(Path(result_path).read_bytes())
    arrays = to_arrays(instance)
    read = time.perf_counter()
    ids = sorted(p.id for p in instance.persons)
    chosen = ids if sample >= len(ids) else random.Random(seed).sample(ids, sample)
    reasons = explain_persons(instance, arrays, result, chosen, time_limit_s=limit)
    explained = time.perf_counter()
    questions = sum(len(r) for r in reasons.values())
    n = len(ids)
    sample_s = explained - read
    _write_report(
        report,
        {
            "persons": n,
            "sample": len(chosen),
            "questions": questions,
            "codes": dict(sorted(_count(r.code for rs in reasons.values() for r in rs).items())),
            "import_s": imported - started,
            "read_s": read - imported,
            "sample_s": sample_s,
            "per_person_s": sample_s / max(len(chosen), 1),
            # The rest of the persons at the sample's pace; the parent adds the whole process's
            # time for the sample itself (start, imports, reading, the sample).
            "rest_s": sample_s * (n - len(chosen)) / max(len(chosen), 1),
        },
    )


def _count(items: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def _write_report(path: str, data: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(data))


# --- running a case in a fresh process ----------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    peak_mb: float
    exit: int
    timed_out: bool
    load: float
    stderr: str


def run_process(command: list[str], env: dict[str, str], kill_after: float) -> Run:
    """One process: its wall time, its own processor time and peak memory (from ``wait4``)."""
    started = time.perf_counter()
    errors = tempfile.TemporaryFile()
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=errors,
        cwd=ROOT,
        preexec_fn=_cap_memory,  # safe: this parent runs no threads
    )
    timed_out = False
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - started > kill_after:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            timed_out = True
            break
        time.sleep(0.02)
    wall = time.perf_counter() - started
    load = os.getloadavg()[0]
    process.returncode = os.waitstatus_to_exitcode(status)
    errors.seek(0)
    stderr = errors.read().decode(errors="replace")
    errors.close()
    return Run(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_mb=usage.ru_maxrss / 1024,
        exit=process.returncode,
        timed_out=timed_out,
        load=load,
        stderr=stderr,
    )


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def _tapestry() -> list[str]:
    """The ``tapestry`` command: the console script beside this Python, else the module."""
    script = Path(sys.executable).parent / "tapestry"
    if script.exists():
        return [str(script)]
    found = shutil.which("tapestry")
    return [found] if found else [sys.executable, "-c", "from web.cli import main; main()"]


def ensure_instance(data: Path, size: str, seed: int, variant: str) -> Path:
    path = data / f"{size}-{seed}-{variant}.json"
    if not path.exists():
        started = time.perf_counter()
        partial = path.with_suffix(".part")
        command = [*_tapestry(), "generate", "--size", size, "--seed", str(seed)]
        subprocess.run(
            [*command, "--variant", variant, "--out", str(partial)],
            check=True,
            env=_env(),
            cwd=ROOT,
        )
        partial.rename(path)
        print(f"  generated {path.name} in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def solve_case(
    instance: Path, result: Path, time_limit: float | None, kill_after: float
) -> tuple[Run, str | None]:
    """``tapestry solve INSTANCE --out RESULT`` in a fresh process; the result's status."""
    command = [*_tapestry(), "solve", str(instance), "--out", str(result)]
    if time_limit is not None:
        command += ["--time-limit", str(time_limit)]
    run = run_process(command, _env(), kill_after)
    status = None
    if result.exists() and not run.timed_out:
        status = json.loads(result.read_text())["status"]
    return run, status


def explain_case(
    instance: Path, result: Path, time_limit: float | None, kill_after: float
) -> tuple[Run, dict[str, Any]]:
    """``tapestry explain INSTANCE RESULT --out FILE`` with the stats file; what it reported."""
    with tempfile.TemporaryDirectory() as folder:
        stats = Path(folder) / "stats.json"
        out = Path(folder) / "explanations.json"
        command = [*_tapestry(), "explain", str(instance), str(result), "--out", str(out)]
        if time_limit is not None:
            command += ["--time-limit", str(time_limit)]
        run = run_process(command, {**_env(), "TAPESTRY_EXPLAIN_STATS": str(stats)}, kill_after)
        report: dict[str, Any] = json.loads(stats.read_text()) if stats.exists() else {}
        if out.exists():
            document = json.loads(out.read_text(encoding="utf-8"))
            report["explained"] = len(document["persons"])
            report["questions"] = sum(len(p["why_not"]) for p in document["persons"])
            report["codes"] = dict(
                sorted(_count(w["code"] for p in document["persons"] for w in p["why_not"]).items())
            )
            report["rules"] = len(document["rules"])
            report["places"] = len(document["places"])
    if not report and not run.timed_out:
        report = {"error": " | ".join(run.stderr.strip().splitlines()[-3:])}
    return run, report


def baseline_case(
    instance: Path, result: Path, sample: int, seed: int, limit: float, kill_after: float
) -> tuple[Run, dict[str, Any]]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        report_path = handle.name
    Path(report_path).write_text("")
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(instance),
               str(result), report_path, str(sample), str(seed), str(limit)]  # fmt: skip
    run = run_process(command, _env(), kill_after)
    text = Path(report_path).read_text()
    os.unlink(report_path)
    report: dict[str, Any] = json.loads(text) if text else {}
    if "rest_s" in report:
        report["extrapolated_s"] = run.wall_s + report["rest_s"]
    if not report and not run.timed_out:
        report = {"error": " | ".join(run.stderr.strip().splitlines()[-3:])}
    return run, report


def summarise(runs: list[tuple[Run, dict[str, Any]]]) -> dict[str, Any]:
    """Medians over the repeats; counts and status from the last run."""
    last_run, last = runs[-1]
    summary: dict[str, Any] = {
        "runs": len(runs),
        "wall_s": statistics.median(r.wall_s for r, _ in runs),
        "cpu_s": statistics.median(r.cpu_s for r, _ in runs),
        "peak_mb": statistics.median(r.peak_mb for r, _ in runs),
        "load": statistics.median(r.load for r, _ in runs),
        "exit": last_run.exit,
        "timed_out": any(r.timed_out for r, _ in runs),
    }
    for key in ("explain_s", "read_s", "sample_s", "per_person_s", "extrapolated_s"):
        values = [rep[key] for _, rep in runs if key in rep]
        if values:
            summary[key] = statistics.median(values)
    for key in (
        "settled",
        "complete",
        "persons",
        "persons_in_instance",
        "explained",
        "questions",
        "codes",
        "rules",
        "places",
        "sample",
        "error",
    ):
        if key in last:
            summary[key] = last[key]
    return summary


# --- the table ------------------------------------------------------------------------------


def fmt_s(value: float | None, over: bool = False) -> str:
    if value is None:
        return "-"
    text = f"{value:.3f}" if value < 0.1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"
    return f"> {text}" if over else text


#: Methods of the stats in the order the engine tries them (any others follow, by name).
METHOD_ORDER = ("simple", "queue", "infeasible", "optimum_below", "flow", "unusable", "bound",
                "capacity_bound", "swap", "cover_yes", "cover_no", "exact")  # fmt: skip
#: Counters that are not questions settled (work done, sizes), shown apart.
WORK = ("solves", "cover_mips", "free_pairs", "rules", "place_flow", "place_flows", "place_solves")


def settled_text(settled: dict[str, int]) -> str:
    names = [m for m in METHOD_ORDER if settled.get(m)] + sorted(
        m for m in settled if m not in METHOD_ORDER and m not in WORK and settled[m]
    )
    return ", ".join(f"{m} {settled[m]}" for m in names) or "-"


def work_text(settled: dict[str, int]) -> str:
    return ", ".join(f"{m} {settled[m]}" for m in WORK if settled.get(m)) or "-"


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| size | variant | persons explained | questions decided | solve s | explain total s "
        "| explain cpu s "
        "| peak MB | exit | complete | settled by | other work | exact re-solves "
        "| baseline sample | baseline s/person | baseline all (extrapolated) s "
        "| baseline ÷ explain | load |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case in results["cases"]:
        solve = case.get("solve") or {}
        ours = case.get("explain") or {}
        base = case.get("baseline") or {}
        settled = ours.get("settled") or {}
        over = bool(ours.get("timed_out"))
        base_over = bool(base.get("timed_out"))
        ratio = "-"
        if base.get("extrapolated_s") and ours.get("wall_s") and "error" not in ours:
            ratio = f"{base['extrapolated_s'] / ours['wall_s']:.1f}"
            if over or ours.get("complete") is False:
                # The explanations were cut short: their whole time is longer than measured.
                ratio = f"< {ratio}"
        sample = base.get("sample")
        lines.append(
            "| "
            + " | ".join(
                [
                    case["size"],
                    case["variant"],
                    f"{ours['persons']} of {ours['persons_in_instance']}"
                    if "persons_in_instance" in ours
                    else str(ours.get("persons", "-")),
                    str(ours.get("questions", "-")),
                    fmt_s(solve.get("wall_s"), bool(solve.get("timed_out"))),
                    fmt_s(ours.get("wall_s"), over),
                    fmt_s(ours.get("cpu_s"), over),
                    f"{ours['peak_mb']:.0f}" if ours.get("peak_mb") else "-",
                    "killed" if over else str(ours.get("exit", "-")),
                    "error"
                    if "error" in ours
                    else {True: "yes", False: "no"}.get(ours.get("complete"), "-"),  # type: ignore[arg-type]
                    settled_text(settled),
                    work_text(settled),
                    str(settled.get("exact", 0)) if settled else "-",
                    "killed" if base_over else str(sample if sample is not None else "-"),
                    fmt_s(base.get("per_person_s")),
                    fmt_s(base.get("extrapolated_s")),
                    ratio,
                    f"{ours['load']:.1f}" if "load" in ours else "-",
                ]
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def machine() -> dict[str, Any]:
    import numpy
    import ortools

    info: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "ortools": ortools.__version__,
        "numpy": numpy.__version__,
    }
    try:
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "engine"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
        info["engine_changes_uncommitted"] = bool(dirty)
    except OSError:
        pass
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="s", help="comma-separated: s, m, l")
    parser.add_argument("--variants", default="all", help="comma-separated, or all")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case (median)")
    parser.add_argument("--seed", type=int, default=1, help="the instances' generator seed")
    parser.add_argument(
        "--sample", type=int, default=20, help="persons explained by today's method"
    )
    parser.add_argument("--sample-seed", type=int, default=0, help="seed of the sample")
    parser.add_argument(
        "--baseline-limit",
        type=float,
        default=10.0,
        help="seconds for each re-solve of today's method (its own default)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="tapestry explain --time-limit (default: the instance's policy.time_limit_s)",
    )
    parser.add_argument(
        "--solver-time-limit", type=float, default=None, help="tapestry solve --time-limit"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="kill any process after this many seconds (default: 300 at s, 1800 at m, 3600 at l)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip today's method")
    parser.add_argument(
        "--max-memory-gb",
        type=float,
        default=12.0,
        help="address-space cap of each process (GB; 0 for none): m maximin once peaked at 21 GB",
    )
    parser.add_argument(
        "--data",
        default=str(Path(tempfile.gettempdir()) / "tapestry-explain-bench"),
        help="folder for the generated instances and their results (kept between runs)",
    )
    parser.add_argument("--out", default=None, help="write OUT.json and OUT.md (results and table)")
    parser.add_argument(
        "--table",
        nargs="+",
        default=None,
        metavar="RESULTS.json",
        help="print one table from earlier results (later files win) and run nothing",
    )
    args = parser.parse_args(argv)
    if args.table:
        cases: dict[tuple[str, str], dict[str, Any]] = {}
        for name in args.table:
            for case in json.loads(Path(name).read_text())["cases"]:
                into = cases.setdefault((case["size"], case["variant"]), {})
                into.update({k: v for k, v in case.items() if v})
        print(markdown({"cases": list(cases.values())}), end="")
        return 0

    sizes = [s for s in args.sizes.split(",") if s]
    variants = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
    for s in sizes:
        if s not in SIZES:
            parser.error(f"unknown size {s}")
    for v in variants:
        if v not in VARIANTS:
            parser.error(f"unknown variant {v}")
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    MEMORY_CAP[0] = int(args.max_memory_gb * 2**30) if args.max_memory_gb > 0 else None
    results: dict[str, Any] = {"machine": machine(), "command": " ".join(sys.argv), "cases": []}
    print(f"machine: {json.dumps(results['machine'])}", flush=True)

    for size in sizes:
        timeout = args.timeout or TIMEOUT[size]
        for variant in variants:
            print(f"{size} {variant}", flush=True)
            instance = ensure_instance(data, size, args.seed, variant)
            result = instance.with_suffix(".result.json")
            case: dict[str, Any] = {"size": size, "variant": variant}
            solves = []
            for i in range(args.repeat):
                # Every repeat writes the same result (the solver is deterministic); the first
                # is kept for explaining.
                target = result if i == 0 else data / f"{result.stem}.again.json"
                run, status = solve_case(instance, target, args.solver_time_limit, timeout)
                solves.append((run, {"status": status}))
                print(f"  solve {run.wall_s:.2f} s {status}", flush=True)
            case["solve"] = summarise(solves) | {"status": solves[0][1]["status"]}
            if case["solve"]["status"] not in ("optimal", "feasible", "stable"):
                print("  no allocation to explain", flush=True)
                results["cases"].append(case)
                continue
            runs = []
            for _ in range(args.repeat):
                run, report = explain_case(instance, result, args.time_limit, timeout)
                runs.append((run, report))
                print(
                    f"  explain {run.wall_s:.2f} s exit {run.exit}"
                    f"{' (killed)' if run.timed_out else ''} complete {report.get('complete')}"
                    f" settled {report.get('settled')}",
                    flush=True,
                )
            case["explain"] = summarise(runs)
            if not args.no_baseline:
                base = []
                for _ in range(args.repeat):
                    run, report = baseline_case(
                        instance, result, args.sample, args.sample_seed, args.baseline_limit,
                        timeout,
                    )  # fmt: skip
                    base.append((run, report))
                    print(
                        f"  baseline {run.wall_s:.2f} s{' (killed)' if run.timed_out else ''} "
                        f"sample {report.get('sample')} extrapolated "
                        f"{fmt_s(report.get('extrapolated_s'))} s",
                        flush=True,
                    )
                case["baseline"] = summarise(base)
            results["cases"].append(case)
            if args.out:
                write_outputs(Path(args.out), results)

    table = markdown(results)
    print()
    print(table)
    if args.out:
        write_outputs(Path(args.out), results)
    return 0


def write_outputs(out: Path, results: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    out.with_suffix(".md").write_text(markdown(results))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, instance_arg, result_arg, report_arg, sample_arg, seed_arg, limit_arg = sys.argv
        sys.path.insert(0, str(ROOT))
        worker_baseline(
            instance_arg, result_arg, report_arg, int(sample_arg), int(seed_arg), float(limit_arg)
        )
        sys.exit(0)
    sys.exit(main())
