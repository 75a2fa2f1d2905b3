"""The allocation instance and result, as plain frozen dataclasses (and one frozen struct).

These mirror ``shared/spec/allocation-format.md`` (format version 1) one to one, with two
differences of representation only:

* money is held as integer pence (``budget``, ``price``, ``pot``, ``spend``), never as floats;
* every default of the format has already been applied (utilities, lotteries, need, ...), so
  solvers never look at the JSON again.

Reading JSON into an :class:`Instance` lives in :mod:`engine.reader`; writing a :class:`Result`
as JSON lives in :mod:`engine.writer`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct
from msgspec.structs import force_setattr

INSTANCE_FORMAT = "tapestry.instance/1"
RESULT_FORMAT = "tapestry.allocation/1"

#: Integer fields hold at most 2^31 - 1.
MAX_INTEGER = 2**31 - 1

#: Shares (coverage) are compared with this absolute tolerance (spec: "Comparisons of shares").
SHARE_TOLERANCE = 1e-9

Mechanism = Literal["welfare", "stable"]
Status = Literal["optimal", "feasible", "stable", "infeasible", "no_solution"]
RuleType = Literal["coverage_floor", "coverage_gap", "maximize_min_coverage"]


def default_utility(rank: int) -> int:
    """The default utility of a preference: ``round(100 * 0.8 ** (rank - 1))``."""
    return round(100 * 0.8 ** (rank - 1))


#: Default utilities of the first ranks, so the common case is a list lookup.
DEFAULT_UTILITIES = tuple([0] + [default_utility(rank) for rank in range(1, 65)])


def derived_lottery(seed: int, person_id: str) -> float:
    """The spec's derived lottery for a person without one (a double in [0, 1))."""
    digest = hashlib.sha256(f"{seed}:{person_id}".encode()).hexdigest()
    return int(digest[:13], 16) / 16**13


class Preference(Struct, frozen=True, gc=False):
    """One offer a person would accept. ``rank`` 1 is the most wanted.

    ``utility`` left out (or given as -1) becomes the format's default for the rank,
    :func:`default_utility`. A frozen msgspec struct rather than a dataclass, so that the reader
    can decode millions of them straight from JSON (the annotations are the format's ranges,
    checked when decoding); it compares, hashes and prints like a frozen dataclass.
    """

    offer: str
    rank: Annotated[int, Meta(ge=1, le=MAX_INTEGER)]
    utility: Annotated[int, Meta(ge=0, le=MAX_INTEGER)] = -1

    def __post_init__(self) -> None:
        if self.utility == -1:
            rank = self.rank
            known = 0 < rank < len(DEFAULT_UTILITIES)
            utility = DEFAULT_UTILITIES[rank] if known else default_utility(rank)
            force_setattr(self, "utility", utility)


@dataclass(frozen=True, slots=True)
class Person:
    """A person taking part in the round. ``budget`` is in pence."""

    id: str
    budget: int
    need: int = 0
    lottery: float = 0.0
    max_placements: int = 1
    attributes: dict[str, str] = field(default_factory=dict)
    preferences: tuple[Preference, ...] = ()
    #: True when ``lottery`` was given in the instance, False when it was derived from the seed.
    lottery_given: bool = True


@dataclass(frozen=True, slots=True)
class Offer:
    """Places on offer. ``price`` is in pence per place."""

    id: str
    capacity: int
    price: int
    provider: str | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """An equity rule. Only the fields its ``type`` uses are set.

    * ``coverage_floor``: ``min_share`` and optional ``values`` (None = every group);
    * ``coverage_gap``: ``max_gap``;
    * ``maximize_min_coverage``: nothing else.
    """

    type: RuleType
    attribute: str
    min_share: float | None = None
    max_gap: float | None = None
    values: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    mechanism: Mechanism = "welfare"
    rules: tuple[Rule, ...] = ()
    time_limit_s: float = 60.0
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Instance:
    """A whole commissioning round. ``pot`` is in pence, or None for no cap."""

    persons: tuple[Person, ...]
    offers: tuple[Offer, ...]
    policy: Policy = Policy()
    round_id: str | None = None
    pot: int | None = None
    #: The preference pairs as arrays, when the reader built them on the way (see
    #: :func:`engine.arrays.to_arrays`). Not an argument, so :func:`dataclasses.replace` drops it.
    pair_columns: Any = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Assignment:
    """One placement. ``price`` is in pence."""

    person: str
    offer: str
    rank: int
    utility: int
    price: int


@dataclass(frozen=True, slots=True)
class Metrics:
    persons: int
    placed: int
    placements: int
    #: total price of all placements, in pence
    spend: int
    #: rank -> how many placements had that rank (only ranks that occur)
    rank_histogram: dict[int, int]
    #: attribute named in any rule -> group value -> coverage (placed / members)
    coverage: dict[str, dict[str, float]]


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule (its index in ``policy.rules``) or the pot (``"pot"``) broken by a stable result."""

    rule: int | Literal["pot"]
    message: str


@dataclass(frozen=True, slots=True)
class DiagnosisEntry:
    """Why an instance is infeasible (see the spec's "Precise rules")."""

    rule: int | None
    group: str | None
    best: float | None
    message: str


@dataclass(frozen=True, slots=True)
class Result:
    status: Status
    mechanism: Mechanism
    objective: int | None
    bound: int | None
    assignments: tuple[Assignment, ...]
    unassigned: tuple[str, ...]
    metrics: Metrics
    violations: tuple[Violation, ...] = ()
    diagnosis: tuple[DiagnosisEntry, ...] = ()
    solve_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input, at a JSON path such as ``persons[3].preferences[0].offer``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InvalidInstance(ValueError):
    """An instance breaks the format. Carries every problem found, each naming its place."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
