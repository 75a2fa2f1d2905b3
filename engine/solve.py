"""The one entry point to the engine: :func:`solve`."""

from __future__ import annotations

import dataclasses
import math

from engine.arrays import to_arrays
from engine.instance import Instance, InvalidInstance, Policy, Problem, Result
from engine.stable import solve_stable

__all__ = ["check_overrides", "solve"]

MECHANISMS = ("welfare", "stable")


def check_overrides(
    instance: Instance, *, mechanism: str | None = None, time_limit_s: float | None = None
) -> list[Problem]:
    """Problems with overriding the instance's policy by ``mechanism`` and ``time_limit_s``.

    The same rules as in the file apply: a known mechanism, a time limit above 0 seconds, and
    ``max_placements`` 1 for every person under the stable mechanism.
    """
    problems: list[Problem] = []
    if mechanism is not None and mechanism not in MECHANISMS:
        problems.append(Problem("mechanism", f'must be "welfare" or "stable", not "{mechanism}"'))
    if time_limit_s is not None and (
        isinstance(time_limit_s, bool)
        or not isinstance(time_limit_s, int | float)
        or not math.isfinite(time_limit_s)
        or time_limit_s <= 0
    ):
        problems.append(
            Problem("time_limit_s", f"must be a number of seconds above 0, not {time_limit_s!r}")
        )
    if (mechanism or instance.policy.mechanism) == "stable":
        problems.extend(
            Problem(
                f"persons[{index}].max_placements",
                f"must be 1 for the stable mechanism, not {person.max_placements}",
            )
            for index, person in enumerate(instance.persons)
            if person.max_placements != 1
        )
    return problems


def with_policy(instance: Instance, policy: Policy) -> Instance:
    """``instance`` under another policy, keeping the reader's pair arrays (the persons and
    offers are the same, so they still hold; :func:`dataclasses.replace` would drop them)."""
    changed = dataclasses.replace(instance, policy=policy)
    object.__setattr__(changed, "pair_columns", instance.pair_columns)
    return changed


def solve(
    instance: Instance, *, mechanism: str | None = None, time_limit_s: float | None = None
) -> Result:
    """Allocate the places of ``instance`` by its policy, or by the overrides given.

    ``mechanism`` (``"welfare"`` or ``"stable"``) and ``time_limit_s`` (seconds, > 0) replace the
    instance's own policy values. Raises :class:`InvalidInstance` when an override breaks the
    format's rules (for example the stable mechanism with ``max_placements`` above 1).
    """
    problems = check_overrides(instance, mechanism=mechanism, time_limit_s=time_limit_s)
    if problems:
        raise InvalidInstance(problems)
    policy = instance.policy
    if mechanism is not None or time_limit_s is not None:
        policy = dataclasses.replace(
            policy,
            mechanism=mechanism or policy.mechanism,  # type: ignore[arg-type]
            time_limit_s=float(time_limit_s) if time_limit_s is not None else policy.time_limit_s,
        )
        instance = with_policy(instance, policy)
    arrays = to_arrays(instance)
    if policy.mechanism == "stable":
        return solve_stable(instance, arrays)
    # Imported here so that the stable mechanism and the reader work without the MIP back ends.
    from engine.welfare import solve_welfare

    return solve_welfare(instance, arrays, policy.time_limit_s)
