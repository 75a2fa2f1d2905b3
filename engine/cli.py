"""The command-line actions behind ``tapestry solve`` (the click wiring is in ``web/cli.py``).

Exit status: 0 when an allocation was produced (``optimal``, ``feasible``, ``stable``); 1 for
``infeasible`` or ``no_solution`` (the result is still written); 2 for input that breaks the
format, bad option values or a file that cannot be read or written, with one line per problem on
standard error and no traceback.
"""

from __future__ import annotations

import gc
import math
import os
import sys
from pathlib import Path
from typing import TextIO

from engine.instance import InvalidInstance, Problem
from engine.reader import read_instance
from engine.solve import MECHANISMS, solve
from engine.writer import dumps_result

__all__ = ["EXIT_BAD_INPUT", "EXIT_NO_ALLOCATION", "EXIT_OK", "run_solve"]

EXIT_OK = 0
EXIT_NO_ALLOCATION = 1
EXIT_BAD_INPUT = 2

_ALLOCATED = ("optimal", "feasible", "stable")


def _report(problems: list[Problem], stderr: TextIO) -> int:
    for problem in problems:
        stderr.write(f"{problem}\n")
    stderr.flush()
    return EXIT_BAD_INPUT


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

    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        return _report([Problem(path, f"cannot read the file: {reason}")], stderr)

    try:
        instance = read_instance(data)
        del data
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
    else:
        try:
            Path(out).write_text(text, encoding="utf-8")
        except OSError as error:
            reason = error.strerror or str(error)
            return _report([Problem(out, f"cannot write the result: {reason}")], stderr)
    return EXIT_OK if result.status in _ALLOCATED else EXIT_NO_ALLOCATION
