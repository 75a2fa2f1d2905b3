"""The command-line actions behind ``tapestry solve`` and ``tapestry explain`` (the click wiring
is in ``web/cli.py``).

``tapestry solve`` exits 0 when an allocation was produced (``optimal``, ``feasible``,
``stable``); 1 for ``infeasible`` or ``no_solution`` (the result is still written); 2 for input
that breaks the format, bad option values or a file that cannot be read or written, with one
line per problem on standard error and no traceback.

``tapestry explain`` exits 0 when everything asked for was decided; 1 when the time limit
stopped it first (the document is still written, ``complete`` false); 2 for input that breaks
either format, a result that does not fit its instance, a result without an allocation or an
unknown person in ``--persons``, again one line per problem
(``shared/spec/explanations-format.md``).
"""

from __future__ import annotations

import gc
import json
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from engine.instance import Instance, InvalidInstance, Problem, Result
from engine.reader import read_instance
from engine.result_reader import InvalidResult, read_result
from engine.rule_warnings import unknown_group_warnings
from engine.solve import MECHANISMS, solve
from engine.writer import dumps_result

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INCOMPLETE",
    "EXIT_NO_ALLOCATION",
    "EXIT_OK",
    "STATS_ENV",
    "run_explain",
    "run_solve",
]

EXIT_OK = 0
EXIT_NO_ALLOCATION = 1
#: ``tapestry explain``: the time limit stopped it before everything was decided.
EXIT_INCOMPLETE = 1
EXIT_BAD_INPUT = 2

#: When set, ``tapestry explain`` writes what each method settled, and its timings, as JSON to
#: the file this names, and logs a one-line summary to standard error (for the benchmark).
STATS_ENV = "TAPESTRY_EXPLAIN_STATS"

logger = logging.getLogger(__name__)

_ALLOCATED = ("optimal", "feasible", "stable")


def _report(problems: list[Problem], stderr: TextIO) -> int:
    for problem in problems:
        stderr.write(f"{problem}\n")
    stderr.flush()
    return EXIT_BAD_INPUT


def _write_output(text: str, out: str | None, what: str, stderr: TextIO) -> bool:
    """Write ``text`` to ``out``, or to standard output (always UTF-8) when it is None.

    False, with the problem reported, when ``out`` cannot be written.
    """
    if out is None:
        # Always UTF-8, whatever the terminal's locale says.
        stdout = getattr(sys.stdout, "buffer", None)
        try:
            if stdout is not None:
                sys.stdout.flush()
                stdout.write(text.encode("utf-8"))
                stdout.flush()
            else:
                sys.stdout.write(text)
                sys.stdout.flush()
        except BrokenPipeError:
            # The reader went away (``tapestry solve x | head``): not an error of ours. Point
            # standard output at nothing so that Python's own flush at exit stays quiet.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return True
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as error:
        reason = error.strerror or str(error)
        _report([Problem(out, f"cannot write {what}: {reason}")], stderr)
        return False
    return True


def _read_bytes(path: str, stderr: TextIO) -> bytes | None:
    """The bytes of ``path`` (``"-"``: standard input), or None with the problem reported."""
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        _report([Problem(path, f"cannot read the file: {reason}")], stderr)
        return None


def _option_problems(mechanism: str | None, time_limit_s: float | None) -> list[Problem]:
    problems = []
    if mechanism is not None and mechanism not in MECHANISMS:
        problems.append(Problem("--mechanism", f'must be "welfare" or "stable", not "{mechanism}"'))
    if time_limit_s is not None and (
        not isinstance(time_limit_s, int | float)
        or isinstance(time_limit_s, bool)
        or not math.isfinite(time_limit_s)
        or time_limit_s <= 0
    ):
        problems.append(
            Problem("--time-limit", f"must be a number of seconds above 0, not {time_limit_s}")
        )
    return problems


def run_solve(
    path: str,
    *,
    out: str | None = None,
    mechanism: str | None = None,
    time_limit_s: float | None = None,
) -> int:
    """Solve the instance in ``path`` (``"-"`` for standard input) and write the result.

    The result goes to ``out`` when given (then nothing is written to standard output), else to
    standard output. ``mechanism`` and ``time_limit_s`` override the instance's policy.
    Returns the exit status.
    """
    stderr = sys.stderr
    problems = _option_problems(mechanism, time_limit_s)
    if problems:
        return _report(problems, stderr)

    data = _read_bytes(path, stderr)
    if data is None:
        return EXIT_BAD_INPUT

    try:
        instance = read_instance(data)
        del data
        for warning in unknown_group_warnings(instance):
            stderr.write(f"warning: {warning}\n")
        # The instance's million small objects live until the process ends: keep the cyclic
        # garbage collector from walking them again and again while the solver allocates.
        gc.freeze()
        try:
            result = solve(instance, mechanism=mechanism, time_limit_s=time_limit_s)
        finally:
            gc.unfreeze()
    except InvalidInstance as error:
        return _report(error.problems, stderr)

    text = dumps_result(result)
    if not _write_output(text, out, "the result", stderr):
        return EXIT_BAD_INPUT
    return EXIT_OK if result.status in _ALLOCATED else EXIT_NO_ALLOCATION


def _read_input(
    path: str, data: bytes, reader: Any, error_type: type[ValueError]
) -> tuple[Any, list[Problem]]:
    """``reader(data)``, or None and its problems; a problem of the whole file names the file."""
    try:
        return reader(data), []
    except error_type as error:
        where = "standard input" if path == "-" else path
        problems: list[Problem] = error.problems  # type: ignore[attr-defined]
        return None, [Problem(p.path or where, p.message) for p in problems]


def _person_ids(persons: str | None) -> list[str] | None:
    return None if persons is None else persons.split(",")


def _explain_workers(problems: list[Problem]) -> int:
    """:func:`engine.explain.workers_from_environment`, a problem added when it is set wrong."""
    from engine.explain import WORKERS_VARIABLE, workers_from_environment

    try:
        return workers_from_environment()
    except ValueError as error:
        problems.append(Problem(WORKERS_VARIABLE, str(error)))
        return 1


def run_explain(
    instance_path: str,
    result_path: str,
    *,
    out: str | None = None,
    persons: str | None = None,
    time_limit_s: float | None = None,
) -> int:
    """Explain the result in ``result_path`` of the instance in ``instance_path`` and write the
    explanations document (``shared/spec/explanations-format.md``).

    Either path may be ``"-"`` (standard input), not both. ``persons`` is the ``--persons``
    option as given (ids separated by commas): only those persons are explained, and the
    ``rules`` and ``places`` sections are empty. ``time_limit_s`` bounds the whole command
    (reading included; default the instance's ``policy.time_limit_s``). The document goes to
    ``out`` when given (then nothing is written to standard output), else to standard output.
    Returns the exit status: 0 complete, 1 stopped by the time limit, 2 bad input.
    """
    started = time.perf_counter()
    stderr = sys.stderr
    problems = _option_problems(None, time_limit_s)
    workers = _explain_workers(problems)
    if instance_path == "-" and result_path == "-":
        problems.append(
            Problem("RESULT", "only one of INSTANCE and RESULT may be - (standard input)")
        )
    if problems:
        return _report(problems, stderr)

    instance_data = _read_bytes(instance_path, stderr)
    if instance_data is None:
        return EXIT_BAD_INPUT
    result_data = _read_bytes(result_path, stderr)
    if result_data is None:
        return EXIT_BAD_INPUT

    instance, problems = _read_input(instance_path, instance_data, read_instance, InvalidInstance)
    del instance_data
    result, result_read_problems = _read_input(result_path, result_data, read_result, InvalidResult)
    del result_data
    problems += result_read_problems
    if problems:
        return _report(problems, stderr)
    assert isinstance(instance, Instance) and isinstance(result, Result)
    read = time.perf_counter()

    from engine.explain_check import person_problems, result_problems

    wanted = _person_ids(persons)
    problems = result_problems(instance, result)
    if wanted is not None:
        problems += person_problems(instance, wanted)
    if problems:
        return _report(problems, stderr)
    checked = time.perf_counter()

    from engine.explain import explain
    from engine.explain_io import dumps_explanations

    limit = instance.policy.time_limit_s if time_limit_s is None else float(time_limit_s)
    # The limit bounds the whole command: what reading and checking took is spent already.
    left = max(limit - (checked - started), 1e-6)
    gc.freeze()
    try:
        doc = explain(instance, result, persons=wanted, time_limit_s=left, workers=workers)
    finally:
        gc.unfreeze()
    explained = time.perf_counter()

    text = dumps_explanations(doc)
    if not _write_output(text, out, "the explanations", stderr):
        return EXIT_BAD_INPUT
    written = time.perf_counter()

    stats_path = os.environ.get(STATS_ENV)
    if stats_path:
        _write_stats(
            stats_path,
            {
                "settled": dict(doc.settled),
                "complete": doc.complete,
                "persons": len(doc.persons),
                "persons_in_instance": len(instance.persons),
                "read_s": read - started,
                "check_s": checked - read,
                "explain_s": explained - checked,
                "write_s": written - explained,
                "total_s": written - started,
            },
            stderr,
        )
    return EXIT_OK if doc.complete else EXIT_INCOMPLETE


def _write_stats(path: str, stats: dict[str, Any], stderr: TextIO) -> None:
    """Log a one-line summary of what each method settled, and write the stats as JSON."""
    settled = ", ".join(f"{name} {count}" for name, count in sorted(stats["settled"].items()))
    handler = logging.StreamHandler(stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        logger.info(
            "explain: %s of %s persons in %.2f s (explain %.2f s), %s; settled: %s",
            stats["persons"],
            stats["persons_in_instance"],
            stats["total_s"],
            stats["explain_s"],
            "complete" if stats["complete"] else "incomplete",
            settled or "nothing",
        )
        try:
            Path(path).write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
        except OSError as error:
            logger.warning("%s: cannot write the stats: %s", path, error.strerror or error)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
