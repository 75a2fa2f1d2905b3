"""Solver benchmark: Tapestry's engine against its peers, in the same run, on the same files.

Not a test (pytest never collects ``loadtests/``). For each size and variant it generates the
instance once (``engine.generate``, cached in ``--data``), then runs every case in a fresh
Python process, so that each time is a whole-process time (interpreter start, imports, reading,
solving) and each peak memory is that process's own (``ru_maxrss`` from ``os.wait4``). Each case
runs ``--repeat`` times; the table reports medians.

Cases:

* ``tapestry``: ``engine.reader.read_instance`` (timed: read), ``engine.solve.solve`` (timed:
  solve), then ``engine.writer.dumps_result`` (timed: write), as ``tapestry solve`` does.
* ``highs``: the same MIP built directly with highspy from arrays (a binary variable per
  affordable pair; capacity, places per person, budgets across places, the pot, floors and gaps
  as linear constraints; ``maximize_min_coverage`` in its two stages) and solved to proven
  optimality (relative gap 0, absolute gap below 1 on the integer objective). Every welfare
  variant.
* ``mcf``: bare OR-Tools ``SimpleMinCostFlow`` on the plain variant.
* ``matching``: ``matching.games.HospitalResident`` (resident-optimal) on the stable variant.

The peers read the file with ``json.loads`` and a plain conversion to arrays (no validation):
their read time is in their whole-process time too.

Usage::

    python loadtests/solver_bench.py --sizes s,m --repeat 3 --out loadtests/results/bench
    python loadtests/solver_bench.py --sizes l --variants plain,stable,floors --repeat 1

Peers that are known to take more than 10 minutes at size l (HiGHS on every variant, the
``matching`` package) are skipped there unless ``--all`` is given; the table says so.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZES = ("s", "m", "l")
VARIANTS = (
    "plain",
    "floors",
    "pot",
    "gap",
    "multi",
    "maximin",
    "placements",
    "stable",
    "infeasible",
)
#: Peers skipped at size l unless --all: each was measured at over 10 minutes there.
SLOW_AT_L = {"highs": "HiGHS took over 900 s on plain welfare", "matching": "over 600 s"}
#: Whole-process time limit for each peer, by size (seconds), unless --time-limit is given.
PEER_TIME_LIMIT = {"s": 60.0, "m": 300.0, "l": 900.0}


# --- the child processes ------------------------------------------------------------------------


def _digest(pairs: list[tuple[str, str]]) -> str:
    """A short fingerprint of an allocation, to see whether two solvers agree."""
    text = "\n".join(f"{p}\t{o}" for p, o in sorted(pairs))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def worker_tapestry(path: str, report: str, time_limit: float | None) -> None:
    started = time.perf_counter()
    from engine.reader import read_instance
    from engine.solve import solve

    imported = time.perf_counter()
    cpu_imported = time.process_time()
    data = Path(path).read_bytes()
    instance = read_instance(data)
    read = time.perf_counter()
    cpu_read = time.process_time()
    result = solve(instance, time_limit_s=time_limit)
    solved = time.perf_counter()
    cpu_solved = time.process_time()
    try:
        from engine.writer import dumps_result

        with open(os.devnull, "w") as sink:
            sink.write(dumps_result(result))
    except ImportError:
        pass
    written = time.perf_counter()
    _write_report(
        report,
        {
            "status": result.status,
            "objective": result.objective,
            "bound": result.bound,
            "import_s": imported - started,
            "read_s": read - imported,
            "solve_s": solved - read,
            "write_s": written - solved,
            # processor time of each phase (hardly grows when others share the cores)
            "read_cpu_s": cpu_read - cpu_imported,
            "solve_cpu_s": cpu_solved - cpu_read,
            "placed": result.metrics.placed,
            "digest": _digest([(a.person, a.offer) for a in result.assignments]),
        },
    )


@dataclass
class Bare:
    """An instance read without validation, as arrays (money in pence)."""

    person_ids: list[str]
    offer_ids: list[str]
    budget: Any
    need: Any
    lottery: Any
    max_placements: Any
    capacity: Any
    price: Any
    pair_person: Any
    pair_offer: Any
    pair_rank: Any
    pair_utility: Any
    attributes: list[dict[str, str]]
    rules: list[dict[str, Any]]
    pot: int | None
    seed: int
    mechanism: str
    extra: dict[str, Any] = field(default_factory=dict)


def bare_read(path: str) -> Bare:
    import numpy as np

    doc = json.loads(Path(path).read_bytes())
    offers = doc["offers"]
    offer_ids = [o["id"] for o in offers]
    index = {oid: i for i, oid in enumerate(offer_ids)}
    persons = doc["persons"]
    pair_person: list[int] = []
    pair_offer: list[int] = []
    pair_rank: list[int] = []
    pair_utility: list[int] = []
    for p, person in enumerate(persons):
        for pref in sorted(person.get("preferences", []), key=lambda q: q["rank"]):
            rank = int(pref["rank"])
            pair_person.append(p)
            pair_offer.append(index[pref["offer"]])
            pair_rank.append(rank)
            pair_utility.append(int(pref.get("utility", round(100 * 0.8 ** (rank - 1)))))
    policy = doc.get("policy", {})
    seed = int(policy.get("seed", 0))
    lottery = []
    for person in persons:
        if "lottery" in person:
            lottery.append(float(person["lottery"]))
        else:
            digest = hashlib.sha256(f"{seed}:{person['id']}".encode()).hexdigest()
            lottery.append(int(digest[:13], 16) / 16**13)
    pot = (doc.get("round") or {}).get("pot")
    return Bare(
        person_ids=[p["id"] for p in persons],
        offer_ids=offer_ids,
        budget=np.array([round(p["budget"] * 100) for p in persons], dtype=np.int64),
        need=np.array([p.get("need", 0) for p in persons], dtype=np.int64),
        lottery=np.array(lottery),
        max_placements=np.array([p.get("max_placements", 1) for p in persons], dtype=np.int64),
        capacity=np.array([o["capacity"] for o in offers], dtype=np.int64),
        price=np.array([round(o["price"] * 100) for o in offers], dtype=np.int64),
        pair_person=np.array(pair_person, dtype=np.int64),
        pair_offer=np.array(pair_offer, dtype=np.int64),
        pair_rank=np.array(pair_rank, dtype=np.int64),
        pair_utility=np.array(pair_utility, dtype=np.int64),
        attributes=[p.get("attributes", {}) for p in persons],
        rules=list(policy.get("rules", [])),
        pot=None if pot is None else round(pot * 100),
        seed=seed,
        mechanism=policy.get("mechanism", "welfare"),
    )


def worker_mcf(path: str, report: str, time_limit: float | None) -> None:
    """Bare min-cost flow for plain welfare: source -> person -> offer -> sink, plus a free
    source -> sink arc so that nobody has to be placed."""
    started = time.perf_counter()
    import numpy as np
    from ortools.graph.python import min_cost_flow

    imported = time.perf_counter()
    bare = bare_read(path)
    read = time.perf_counter()
    n_p, n_o = len(bare.person_ids), len(bare.offer_ids)
    pairs = np.flatnonzero(bare.price[bare.pair_offer] <= bare.budget[bare.pair_person])
    source, sink = n_p + n_o, n_p + n_o + 1
    supply = int(bare.max_placements.sum())
    tails = np.concatenate(
        [np.full(n_p, source), bare.pair_person[pairs], n_p + np.arange(n_o), [source]]
    )
    heads = np.concatenate(
        [np.arange(n_p), n_p + bare.pair_offer[pairs], np.full(n_o, sink), [sink]]
    )
    caps = np.concatenate(
        [bare.max_placements, np.ones(pairs.size, np.int64), bare.capacity, [supply]]
    )
    costs = np.concatenate(
        [np.zeros(n_p, np.int64), -bare.pair_utility[pairs], np.zeros(n_o, np.int64), [0]]
    )
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps, costs
    )
    supplies = np.zeros(n_p + n_o + 2, dtype=np.int64)
    supplies[source], supplies[sink] = supply, -supply
    flow.set_nodes_supplies(np.arange(n_p + n_o + 2, dtype=np.int32), supplies)
    status = flow.solve()
    solved = time.perf_counter()
    used = pairs[flow.flows(arcs[n_p : n_p + pairs.size]) > 0]
    _write_report(
        report,
        {
            "status": "optimal" if status == flow.OPTIMAL else f"status {status}",
            "objective": int(bare.pair_utility[used].sum()),
            "bound": int(-flow.optimal_cost()),
            "import_s": imported - started,
            "read_s": read - imported,
            "solve_s": solved - read,
            "placed": int(np.unique(bare.pair_person[used]).size),
        },
    )


def worker_matching(path: str, report: str, time_limit: float | None) -> None:
    """The ``matching`` package's hospital-resident solver, resident (person) optimal. Offers
    rank the persons who rank them by higher need, then lower lottery, then smaller id."""
    started = time.perf_counter()
    import numpy as np
    from matching.games import HospitalResident

    imported = time.perf_counter()
    bare = bare_read(path)
    read = time.perf_counter()
    affordable = bare.price[bare.pair_offer] <= bare.budget[bare.pair_person]
    open_ = bare.capacity[bare.pair_offer] > 0
    pairs = np.flatnonzero(affordable & open_)
    resident_prefs: dict[str, list[str]] = {}
    for e in pairs.tolist():
        p = bare.person_ids[bare.pair_person[e]]
        resident_prefs.setdefault(p, []).append(bare.offer_ids[bare.pair_offer[e]])
    # Priority: need descending, then lottery ascending, then id in code-point order.
    priority = sorted(
        range(len(bare.person_ids)),
        key=lambda p: (-int(bare.need[p]), float(bare.lottery[p]), bare.person_ids[p]),
    )
    position = np.empty(len(priority), dtype=np.int64)
    position[priority] = np.arange(len(priority))
    order = pairs[np.lexsort((position[bare.pair_person[pairs]], bare.pair_offer[pairs]))]
    hospital_prefs: dict[str, list[str]] = {}
    for e in order.tolist():
        o = bare.offer_ids[bare.pair_offer[e]]
        hospital_prefs.setdefault(o, []).append(bare.person_ids[bare.pair_person[e]])
    capacity_of = dict(zip(bare.offer_ids, bare.capacity.tolist(), strict=True))
    capacities = {o: capacity_of[o] for o in hospital_prefs}
    built = time.perf_counter()
    # The package deep-copies its graph of linked players, recursively: at this size that needs
    # a deep recursion limit and a large stack, so it runs in a thread with one.
    outcome: dict[str, Any] = {}

    def play() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            game = HospitalResident.create_from_dictionaries(
                resident_prefs, hospital_prefs, capacities
            )
            outcome["matching"] = game.solve(optimal="resident")

    sys.setrecursionlimit(10**7)
    threading.stack_size(1024 * 1024 * 1024)
    thread = threading.Thread(target=play)
    thread.start()
    thread.join()
    matching = outcome["matching"]
    solved = time.perf_counter()
    pairs_found = [
        (resident.name, hospital.name)
        for hospital, residents in matching.items()
        for resident in residents
    ]
    _write_report(
        report,
        {
            "status": "stable",
            "objective": None,
            "bound": None,
            "import_s": imported - started,
            "read_s": read - imported,
            "build_s": built - read,
            "solve_s": solved - read,
            "placed": len({p for p, _ in pairs_found}),
            "digest": _digest(pairs_found),
        },
    )


def _groups(bare: Bare, attribute: str) -> tuple[list[str], Any]:
    import numpy as np

    values = [a.get(attribute) for a in bare.attributes]
    labels = sorted({v for v in values if v is not None})
    index = {v: i for i, v in enumerate(labels)}
    member = np.array([index[v] if v is not None else -1 for v in values], dtype=np.int64)
    return labels, member


def worker_highs(path: str, report: str, time_limit: float | None) -> None:
    """The whole welfare problem as one MIP for HiGHS (highspy), built from arrays."""
    started = time.perf_counter()
    import highspy
    import numpy as np

    imported = time.perf_counter()
    bare = bare_read(path)
    read = time.perf_counter()
    deadline = read + (time_limit if time_limit is not None else 1e9)
    inf = highspy.kHighsInf
    n_p = len(bare.person_ids)
    n_o = len(bare.offer_ids)

    # Data: only affordable pairs can ever be used.
    pairs = np.flatnonzero(bare.price[bare.pair_offer] <= bare.budget[bare.pair_person])
    person = bare.pair_person[pairs]
    offer = bare.pair_offer[pairs]
    utility = bare.pair_utility[pairs].astype(np.float64)
    price = bare.price[offer].astype(np.float64)
    n_x = pairs.size
    has_rules = bool(bare.rules)
    several = np.flatnonzero(bare.max_placements > 1)
    # Variables: x (one per pair), then y (placed) for persons who may hold several places,
    # then L, U (gap bounds) per gap rule, then t (maximin stage 1).
    n_y = several.size if has_rules else 0
    y_of = np.full(n_p, -1, dtype=np.int64)
    y_of[several[:n_y]] = n_x + np.arange(n_y)
    gap_rules = [r for r in bare.rules if r["type"] == "coverage_gap"]
    maximin = [r for r in bare.rules if r["type"] == "maximize_min_coverage"]
    n_cols = n_x + n_y + 2 * len(gap_rules) + (1 if maximin else 0)

    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("mip_rel_gap", 0.0)
    lower = np.zeros(n_cols)
    upper = np.ones(n_cols)
    cost = np.zeros(n_cols)
    cost[:n_x] = utility
    empty_i = np.array([], dtype=np.int32)
    highs.addCols(n_cols, cost, lower, upper, 0, empty_i, empty_i, np.array([]))
    integer = np.arange(n_x + n_y, dtype=np.int32)
    highs.changeColsIntegrality(
        integer.size, integer, np.full(integer.size, highspy.HighsVarType.kInteger)
    )
    highs.changeObjectiveSense(highspy.ObjSense.kMaximize)

    def add_rows(lo: Any, hi: Any, starts: Any, index: Any, value: Any) -> None:
        highs.addRows(
            len(lo),
            np.asarray(lo, dtype=np.float64),
            np.asarray(hi, dtype=np.float64),
            len(index),
            np.asarray(starts, dtype=np.int32),
            np.asarray(index, dtype=np.int32),
            np.asarray(value, dtype=np.float64),
        )

    def csr(row_of: Any, cols: Any, values: Any, n_rows: int) -> tuple[Any, Any, Any]:
        order = np.argsort(row_of, kind="stable")
        counts = np.bincount(row_of, minlength=n_rows)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        return starts, cols[order], values[order]

    x_cols = np.arange(n_x)
    # No person holds more places than they may.
    starts, idx, val = csr(person, x_cols, np.ones(n_x), n_p)
    add_rows(np.full(n_p, -inf), bare.max_placements.astype(np.float64), starts, idx, val)
    # No offer takes more people than it has places.
    starts, idx, val = csr(offer, x_cols, np.ones(n_x), n_o)
    add_rows(np.full(n_o, -inf), bare.capacity.astype(np.float64), starts, idx, val)
    # A person's places cost at most their budget (binds only with several places).
    if several.size:
        mask = bare.max_placements[person] > 1
        rows = np.searchsorted(several, person[mask])
        starts, idx, val = csr(rows, x_cols[mask], price[mask], several.size)
        add_rows(
            np.full(several.size, -inf), bare.budget[several].astype(np.float64), starts, idx, val
        )
    # The places all together cost at most the pot.
    if bare.pot is not None:
        add_rows([-inf], [float(bare.pot)], [0], x_cols, price)
    # y is 1 exactly when its person holds a place.
    if n_y:
        mask = y_of[person] >= 0
        rows = np.searchsorted(several, person[mask])
        cols = np.concatenate([x_cols[mask], n_x + np.arange(n_y)])
        r_all = np.concatenate([rows, np.arange(n_y)])
        vals_le = np.concatenate([-np.ones(mask.sum()), np.ones(n_y)])  # y - sum x <= 0
        starts, idx, val = csr(r_all, cols, vals_le, n_y)
        add_rows(np.full(n_y, -inf), np.zeros(n_y), starts, idx, val)
        vals_ge = np.concatenate(
            [np.ones(mask.sum()), -bare.max_placements[several].astype(np.float64)]
        )  # sum x - M y <= 0
        starts, idx, val = csr(r_all, cols, vals_ge, n_y)
        add_rows(np.full(n_y, -inf), np.zeros(n_y), starts, idx, val)

    def placed_terms(member: Any, n_groups: int) -> tuple[Any, Any]:
        """For each group, the columns whose sum counts its placed members."""
        single = (member[person] >= 0) & (y_of[person] < 0)
        rows = [member[person[single]]]
        cols = [x_cols[single]]
        if n_y:
            ys = several[:n_y]
            keep = member[ys] >= 0
            rows.append(member[ys[keep]])
            cols.append(y_of[ys[keep]])
        return np.concatenate(rows), np.concatenate(cols)

    group_cache: dict[str, tuple[list[str], Any, Any, Any, Any]] = {}

    def group_counts(attribute: str) -> tuple[list[str], Any, Any, Any, Any]:
        if attribute not in group_cache:
            labels, member = _groups(bare, attribute)
            rows, cols = placed_terms(member, len(labels))
            sizes = np.bincount(member[member >= 0], minlength=len(labels))
            group_cache[attribute] = (labels, member, rows, cols, sizes)
        return group_cache[attribute]

    next_col = n_x + n_y
    for rule in bare.rules:
        if rule["type"] == "coverage_floor":
            # Every listed group has at least min_share of its members placed.
            labels, _, rows, cols, sizes = group_counts(rule["attribute"])
            listed = set(rule.get("values", labels))
            share = float(rule["min_share"])
            for g, label in enumerate(labels):
                if label not in listed:
                    continue
                need = math.ceil((share - 1e-9) * sizes[g])
                if need <= 0:
                    continue
                c = cols[rows == g]
                add_rows([float(need)], [inf], [0], c, np.ones(c.size))
        elif rule["type"] == "coverage_gap":
            # L <= coverage of every group <= U, and U - L <= max_gap.
            labels, _, rows, cols, sizes = group_counts(rule["attribute"])
            low, high = next_col, next_col + 1
            next_col += 2
            for g in range(len(labels)):
                c = cols[rows == g]
                coef = np.full(c.size, 1.0 / sizes[g])
                add_rows([0.0], [inf], [0], np.append(c, low), np.append(coef, -1.0))
                add_rows([-inf], [0.0], [0], np.append(c, high), np.append(coef, -1.0))
            add_rows([-inf], [float(rule["max_gap"]) + 1e-9], [0], [high, low], [1.0, -1.0])

    status_text = {
        highspy.HighsModelStatus.kOptimal: "optimal",
        highspy.HighsModelStatus.kInfeasible: "infeasible",
        highspy.HighsModelStatus.kTimeLimit: "time limit",
    }

    def run(limit: float) -> str:
        highs.setOptionValue("time_limit", max(limit, 1.0))
        highs.run()
        return status_text.get(
            highs.getModelStatus(), highs.modelStatusToString(highs.getModelStatus())
        )

    first_stage: dict[str, Any] = {}
    if maximin:
        # Stage 1: the largest smallest coverage t.
        labels, _, rows, cols, sizes = group_counts(maximin[0]["attribute"])
        t_col = next_col
        for g in range(len(labels)):
            c = cols[rows == g]
            coef = np.full(c.size, 1.0 / sizes[g])
            add_rows([0.0], [inf], [0], np.append(c, t_col), np.append(coef, -1.0))
        stage1_cost = np.zeros(n_cols)
        stage1_cost[t_col] = 1.0
        highs.changeColsCost(n_cols, np.arange(n_cols, dtype=np.int32), stage1_cost)
        # Two distinct coverages a/n and b/m differ by at least 1/(n m), so a gap below
        # 1/N^2 (N the largest group) proves the smallest coverage exactly.
        highs.setOptionValue("mip_abs_gap", 0.5 / float(max(sizes.max(), 1)) ** 2)
        highs.setOptionValue("mip_rel_gap", 0.0)
        status = run(deadline - time.perf_counter())
        first_stage["status"] = status
        if status == "optimal" and labels:
            x = np.array(highs.getSolution().col_value)
            counts = np.zeros(len(labels), dtype=np.int64)
            np.add.at(counts, rows, np.round(x[cols]).astype(np.int64))
            best = min(Fraction(int(counts[g]), int(sizes[g])) for g in range(len(labels)))
            first_stage["min_coverage"] = float(best)
            # Stage 2: welfare among allocations whose every group reaches that coverage.
            for g in range(len(labels)):
                need = math.ceil(best * int(sizes[g]))
                c = cols[rows == g]
                add_rows([float(need)], [inf], [0], c, np.ones(c.size))
            highs.changeColsCost(n_cols, np.arange(n_cols, dtype=np.int32), cost)
            highs.setOptionValue("mip_abs_gap", 0.999)
            highs.setSolution(highs.getSolution())
            status = run(deadline - time.perf_counter())
    else:
        highs.setOptionValue("mip_abs_gap", 0.999)
        status = run(deadline - time.perf_counter())
    solved = time.perf_counter()

    info = highs.getInfo()
    objective = None
    bound = None
    digest = None
    placed = 0
    if status in ("optimal", "time limit") and info.primal_solution_status == 2:
        x = np.round(np.array(highs.getSolution().col_value)[:n_x]).astype(bool)
        objective = int(bare.pair_utility[pairs[x]].sum())
        bound = math.floor(info.mip_dual_bound + 1e-6)
        placed = int(np.unique(person[x]).size)
        digest = _digest(
            [
                (bare.person_ids[p], bare.offer_ids[o])
                for p, o in zip(person[x], offer[x], strict=True)
            ]
        )
    _write_report(
        report,
        {
            "status": status,
            "objective": objective,
            "bound": bound,
            "import_s": imported - started,
            "read_s": read - imported,
            "solve_s": solved - read,
            "placed": placed,
            "digest": digest,
            "columns": n_cols,
            "rows": highs.getNumRow(),
            **({"first_stage": first_stage} if first_stage else {}),
        },
    )


def _write_report(path: str, data: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(data))


WORKERS = {
    "tapestry": worker_tapestry,
    "highs": worker_highs,
    "mcf": worker_mcf,
    "matching": worker_matching,
}


# --- the parent ---------------------------------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    #: processor time (user + system) of the whole process: unlike wall time, it hardly grows
    #: when others share the cores
    cpu_s: float
    peak_mb: float
    exit: int
    report: dict[str, Any] | None
    timed_out: bool = False
    #: the one-minute load average when the run ended (others may share the cores)
    load: float = 0.0


def run_case(solver: str, path: Path, time_limit: float | None, kill_after: float) -> Run:
    """One case in a fresh process: its wall time, its own peak memory, what it reported."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        report_path = handle.name
    Path(report_path).write_text("")
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", solver, str(path),
               report_path]  # fmt: skip
    if time_limit is not None:
        command.append(str(time_limit))
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    started = time.perf_counter()
    errors = tempfile.TemporaryFile()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors, cwd=ROOT)
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
    text = Path(report_path).read_text()
    os.unlink(report_path)
    report = json.loads(text) if text else None
    if report is None and not timed_out:
        tail = stderr.strip().splitlines()[-3:]
        report = {"status": "error", "error": " | ".join(tail)}
    return Run(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_mb=usage.ru_maxrss / 1024,
        exit=process.returncode,
        report=report,
        timed_out=timed_out,
        load=load,
    )


def summarise(runs: list[Run]) -> dict[str, Any]:
    """Medians over the repeats; status and numbers from the last run."""
    last = runs[-1]
    report = last.report or {}
    summary: dict[str, Any] = {
        "runs": len(runs),
        "wall_s": statistics.median(r.wall_s for r in runs),
        "cpu_s": statistics.median(r.cpu_s for r in runs),
        "peak_mb": statistics.median(r.peak_mb for r in runs),
        "timed_out": any(r.timed_out for r in runs),
        "load": statistics.median(r.load for r in runs),
        "status": "killed at the time limit" if last.timed_out else report.get("status"),
    }
    for key in ("read_s", "solve_s", "write_s", "import_s", "read_cpu_s", "solve_cpu_s"):
        values = [r.report[key] for r in runs if r.report and key in r.report]
        if values:
            summary[key] = statistics.median(values)
    for key in ("objective", "bound", "placed", "digest", "error", "first_stage"):
        if key in report:
            summary[key] = report[key]
    return summary


def ensure_instance(data: Path, size: str, seed: int, variant: str) -> Path:
    path = data / f"{size}-{seed}-{variant}.json"
    if not path.exists():
        started = time.perf_counter()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        code = (
            "import sys; from engine.generate import run_generate; "
            "sys.exit(run_generate(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]))"
        )
        partial = path.with_suffix(".part")
        subprocess.run(
            [sys.executable, "-c", code, size, str(seed), variant, str(partial)],
            check=True,
            env=env,
            cwd=ROOT,
        )
        partial.rename(path)
        print(f"  generated {path.name} in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def peers_for(variant: str) -> list[str]:
    if variant == "plain":
        return ["highs", "mcf"]
    if variant == "stable":
        return ["matching"]
    return ["highs"]


def fmt_s(summary: dict[str, Any] | None, key: str = "wall_s") -> str:
    if summary is None:
        return "-"
    if "skipped" in summary:
        return "skipped"
    value = summary.get(key)
    if value is None:
        return "-"
    text = f"{value:.2f}" if value < 100 else f"{value:.0f}"
    if summary.get("timed_out") or summary.get("status") == "time limit":
        return f"> {text}"
    return text


def ratio(ours: dict[str, Any] | None, peer: dict[str, Any] | None, key: str = "wall_s") -> str:
    if not ours or not peer or "skipped" in peer or not peer.get(key) or not ours.get(key):
        return "-"
    value = ours[key] / peer[key]
    lower_bound = peer.get("timed_out") or peer.get("status") == "time limit"
    return f"< {value:.2f}" if lower_bound else f"{value:.2f}"


RULE_VARIANTS = ("floors", "pot", "gap", "multi", "maximin")


def agreement(ours: dict[str, Any], peer: dict[str, Any]) -> str:
    """Whether a peer found the same answer: the same allocation (stable), the same optimum
    (welfare), or the same verdict (infeasible)."""
    if peer.get("status") == "stable" and ours.get("status") == "stable":
        return "same allocation" if peer.get("digest") == ours.get("digest") else "DIFFERENT"
    if peer.get("status") == "infeasible" or ours.get("status") == "infeasible":
        return "yes" if peer.get("status") == ours.get("status") else "DIFFERENT"
    if peer.get("status") == "optimal" and ours.get("status") == "optimal":
        return "yes" if peer.get("objective") == ours.get("objective") else "DIFFERENT"
    return "-"


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| size | variant | status | objective | gap | cost of rules | read s | solve s "
        "| total s | cpu s | peak MB | load | peer | peer status | peer total s | peer cpu s "
        "| total ÷ peer | cpu ÷ peer | agree |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---|",
    ]
    plain_objective = {
        case["size"]: (case.get("tapestry") or {}).get("objective")
        for case in results["cases"]
        if case["variant"] == "plain"
    }
    for case in results["cases"]:
        ours = case.get("tapestry") or {}
        objective, bound = ours.get("objective"), ours.get("bound")
        gap = (
            f"{(bound - objective) / max(abs(bound), 1):.3%}"
            if isinstance(objective, int) and isinstance(bound, int)
            else "-"
        )
        plain = plain_objective.get(case["size"])
        cost = (
            f"{(plain - objective) / plain:.3%}"
            if case["variant"] in RULE_VARIANTS and isinstance(objective, int) and plain
            else "-"
        )
        peers = case.get("peers") or {"-": None}
        first = True
        for name, peer in peers.items():
            head = (
                [
                    case["size"],
                    case["variant"],
                    str(ours.get("status", "-")),
                    "-" if objective is None else str(objective),
                    gap,
                    cost,
                    fmt_s(ours, "read_s") if ours else "-",
                    fmt_s(ours, "solve_s") if ours else "-",
                    fmt_s(ours) if ours else "-",
                    fmt_s(ours, "cpu_s") if ours else "-",
                    f"{ours['peak_mb']:.0f}" if ours.get("peak_mb") else "-",
                    f"{ours['load']:.1f}" if "load" in ours else "-",
                ]
                if first
                else [""] * 12
            )
            first = False
            if peer is None:
                tail = ["-"] * 7
            elif "skipped" in peer:
                tail = [name, f"not run: {peer['skipped']}"] + ["-"] * 5
            else:
                tail = [
                    name,
                    str(peer.get("status", "-")),
                    fmt_s(peer),
                    fmt_s(peer, "cpu_s"),
                    ratio(ours, peer),
                    ratio(ours, peer, "cpu_s"),
                    agreement(ours, peer),
                ]
            lines.append("| " + " | ".join(head + tail) + " |")
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
        info["nproc"] = subprocess.run(
            ["nproc"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    for name in ("highspy", "matching"):
        try:
            from importlib.metadata import version

            info[name] = version(name)
        except Exception:  # noqa: BLE001 - a missing peer is reported, not fatal
            info[name] = "not installed"
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
    parser.add_argument("--sizes", default="s,m", help="comma-separated: s, m, l")
    parser.add_argument("--variants", default="all", help="comma-separated, or all")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case (median)")
    parser.add_argument(
        "--peer-repeat", type=int, default=None, help="runs of each peer case (default: --repeat)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="peer time limit in seconds (default: 60 at s, 300 at m, 900 at l)",
    )
    parser.add_argument(
        "--solver-time-limit",
        type=float,
        default=None,
        help="override the instance's time_limit_s for Tapestry",
    )
    parser.add_argument("--all", action="store_true", help="also run peers known to be very slow")
    parser.add_argument(
        "--only",
        choices=("tapestry", "peers"),
        default=None,
        help="run only Tapestry, or only the peers (merge the runs with --table)",
    )
    parser.add_argument(
        "--data",
        default=str(Path(tempfile.gettempdir()) / "tapestry-bench"),
        help="folder for the generated instances (kept between runs)",
    )
    parser.add_argument("--out", default=None, help="write OUT.json and OUT.md (results and table)")
    parser.add_argument(
        "--table",
        nargs="+",
        default=None,
        metavar="RESULTS.json",
        help="print one table from earlier results (in order) and run nothing",
    )
    args = parser.parse_args(argv)
    if args.table:
        # Cases of the same size and variant from several runs become one case.
        cases: dict[tuple[str, str], dict[str, Any]] = {}
        for name in args.table:
            for case in json.loads(Path(name).read_text())["cases"]:
                into = cases.setdefault(
                    (case["size"], case["variant"]),
                    {"size": case["size"], "variant": case["variant"], "peers": {}},
                )
                if case.get("tapestry"):
                    into["tapestry"] = case["tapestry"]
                into["peers"].update(case.get("peers") or {})
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
    peer_repeat = args.peer_repeat or args.repeat
    results: dict[str, Any] = {"machine": machine(), "command": " ".join(sys.argv), "cases": []}
    print(f"machine: {json.dumps(results['machine'])}", flush=True)

    for size in sizes:
        for variant in variants:
            print(f"{size} {variant}", flush=True)
            path = ensure_instance(data, size, args.seed, variant)
            case: dict[str, Any] = {"size": size, "variant": variant, "peers": {}}
            solver_limit = args.solver_time_limit
            runs = []
            for _ in range(args.repeat if args.only != "peers" else 0):
                run = run_case(
                    "tapestry", path, solver_limit, kill_after=(solver_limit or 120) + 600
                )
                runs.append(run)
                print(
                    f"  tapestry {run.wall_s:.2f} s {(run.report or {}).get('status')}", flush=True
                )
            if runs:
                case["tapestry"] = summarise(runs)
            if args.only != "tapestry":
                for peer in peers_for(variant):
                    if size == "l" and peer in SLOW_AT_L and not args.all:
                        case["peers"][peer] = {"skipped": SLOW_AT_L[peer]}
                        continue
                    limit = args.time_limit or PEER_TIME_LIMIT[size]
                    runs = []
                    for _ in range(peer_repeat):
                        run = run_case(peer, path, limit, kill_after=limit + 120.0)
                        runs.append(run)
                        print(
                            f"  {peer} {run.wall_s:.2f} s {(run.report or {}).get('status')}",
                            flush=True,
                        )
                    case["peers"][peer] = summarise(runs)
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
        _, _, solver, instance_path, report_path, *rest = sys.argv
        sys.path.insert(0, str(ROOT))
        WORKERS[solver](instance_path, report_path, float(rest[0]) if rest else None)
        sys.exit(0)
    sys.exit(main())
