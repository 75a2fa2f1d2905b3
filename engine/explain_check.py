"""Does a result fit its instance? What ``tapestry explain`` checks before it explains.

:func:`result_problems` lists every way a :class:`~engine.instance.Result` read from a file does
not belong to an :class:`~engine.instance.Instance` (``shared/spec/explanations-format.md``, exit
2): an assignment of an unknown person or offer, or off the person's list; an assignment whose
rank, utility or price is not the instance's; a person holding the same offer twice or more
places than ``max_placements``; places that cost more than a person's budget; an offer holding
more people than its capacity; for a welfare result, a pot or a coverage floor or gap broken (a
stable result may break the pot and the rules: it lists them under ``violations``); an objective
that is not the sum of the utilities; a status without an allocation (``infeasible``,
``no_solution``) or one that is not the mechanism's; a stable result for an instance where
someone may hold more than one place; ``unassigned`` and ``metrics`` that do not describe the
assignments. Each problem names its place in the result (``assignments[3].offer``), or in the
instance when the fault is there (``persons[3].max_placements``).

A ``maximize_min_coverage`` rule is not checked: whether a welfare result reaches the best
smallest coverage takes a solve, and is the solver's to prove.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from engine.instance import SHARE_TOLERANCE, Instance, Metrics, Problem, Result
from engine.reader import _member_path, _quote
from engine.stable import find_violations

__all__ = ["person_problems", "result_problems"]

_ALLOCATED = {"optimal": "welfare", "feasible": "welfare", "stable": "stable"}


def _money(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"


def result_problems(instance: Instance, result: Result) -> list[Problem]:
    """Every way ``result`` does not fit ``instance``, in the result's order; empty when it fits."""
    problems: list[Problem] = []
    add = problems.append

    # The status and the mechanism.
    if result.status not in _ALLOCATED:
        add(Problem("status", f'"{result.status}" has no allocation to explain'))
    elif _ALLOCATED[result.status] != result.mechanism:
        add(
            Problem(
                "status",
                f'"{result.status}" is not a status of the {result.mechanism} mechanism',
            )
        )
    if result.mechanism == "stable":
        for index, someone in enumerate(instance.persons):
            if someone.max_placements != 1:
                add(
                    Problem(
                        f"persons[{index}].max_placements",
                        f"must be 1 for the stable mechanism, not {someone.max_placements}",
                    )
                )

    persons = {p.id: p for p in instance.persons}
    offers = {o.id: o for o in instance.offers}
    # The preferences of each person who holds a place, by offer id (built only for them).
    lists: dict[str, dict[str, tuple[int, int]]] = {}
    spent: Counter[str] = Counter()
    held: dict[str, dict[str, int]] = {}
    taken: Counter[str] = Counter()
    places: Counter[str] = Counter()
    ranks: Counter[int] = Counter()
    utility_sum = 0
    previous: tuple[str, int] | None = None
    unsorted_reported = False
    for index, a in enumerate(result.assignments):
        path = f"assignments[{index}]"
        utility_sum += a.utility
        key = (a.person, a.rank)
        if previous is not None and key < previous and not unsorted_reported:
            add(Problem(path, "assignments must be sorted by person id, then rank"))
            unsorted_reported = True
        previous = key
        person = persons.get(a.person)
        offer = offers.get(a.offer)
        if person is None:
            add(Problem(f"{path}.person", f"unknown person {_quote(a.person)}"))
        if offer is None:
            add(Problem(f"{path}.offer", f"unknown offer {_quote(a.offer)}"))
        if person is None or offer is None:
            continue
        prefs = lists.get(a.person)
        if prefs is None:
            prefs = lists[a.person] = {p.offer: (p.rank, p.utility) for p in person.preferences}
        pref = prefs.get(a.offer)
        if pref is None:
            add(Problem(f"{path}.offer", f"{_quote(a.offer)} is not on {a.person}'s list"))
        else:
            rank, utility = pref
            if a.rank != rank:
                add(
                    Problem(
                        f"{path}.rank", f"{a.person} ranks {_quote(a.offer)} {rank}, not {a.rank}"
                    )
                )
            if a.utility != utility:
                add(
                    Problem(
                        f"{path}.utility",
                        f"{a.person}'s utility for {_quote(a.offer)} is {utility}, not {a.utility}",
                    )
                )
        if a.price != offer.price:
            add(
                Problem(
                    f"{path}.price",
                    f"{_quote(a.offer)} costs {_money(offer.price)}, not {_money(a.price)}",
                )
            )
        # Every placement the document lists counts, even a faulty one: the capacities, budgets
        # and metrics below are those of the allocation as written.
        mine = held.setdefault(a.person, {})
        if a.offer in mine:
            add(
                Problem(
                    f"{path}.offer",
                    f"{a.person} holds {_quote(a.offer)} twice (also at "
                    f"assignments[{mine[a.offer]}])",
                )
            )
        else:
            mine[a.offer] = index
        places[a.person] += 1
        if places[a.person] == person.max_placements + 1:
            add(
                Problem(
                    path,
                    f"{a.person} holds more places than max_placements ({person.max_placements})",
                )
            )
        before = spent[a.person]
        spent[a.person] = before + offer.price
        if before <= person.budget < before + offer.price:
            add(
                Problem(
                    f"{path}.price",
                    f"{a.person}'s places cost {_money(before + offer.price)}, above the "
                    f"budget of {_money(person.budget)}",
                )
            )
        taken[a.offer] += 1
        ranks[a.rank] += 1

    for offer in instance.offers:
        if taken[offer.id] > offer.capacity:
            add(
                Problem(
                    "assignments",
                    f"{_quote(offer.id)} is held {taken[offer.id]} times, above its capacity "
                    f"of {offer.capacity}",
                )
            )

    # The pot and the rules, for a welfare result (from the assignments themselves).
    placed = set(held)
    metrics = _metrics(instance, placed, taken, ranks)
    if result.mechanism == "welfare" and result.status in _ALLOCATED:
        for violation in find_violations(instance, metrics):
            where = "the pot" if violation.rule == "pot" else f"policy.rules[{violation.rule}]"
            add(Problem("assignments", f"the allocation breaks {where}: {violation.message}"))

    if result.objective is not None and result.objective != utility_sum:
        add(
            Problem(
                "objective",
                f"{result.objective} is not the sum of the utilities ({utility_sum})",
            )
        )
    if result.status in _ALLOCATED:
        if result.objective is None:
            add(Problem("objective", f"must be a number for a {result.status} result, not null"))
        problems.extend(_bound_problems(result))

    problems.extend(_unassigned_problems(instance, result, placed, persons))
    problems.extend(_metrics_problems(result.metrics, metrics))
    if result.mechanism == "welfare" and result.violations:
        add(Problem("violations", "must be empty for a welfare result"))
    if result.status in _ALLOCATED and result.diagnosis:
        add(Problem("diagnosis", f"must be empty for a {result.status} result"))
    return problems


def _bound_problems(result: Result) -> list[Problem]:
    bound, objective = result.bound, result.objective
    if result.mechanism == "stable":
        return [] if bound is None else [Problem("bound", "must be null for a stable result")]
    if bound is None:
        return [Problem("bound", f"must be a number for a {result.status} result, not null")]
    if objective is None:
        return []
    if result.status == "optimal" and bound != objective:
        return [Problem("bound", f"must equal the objective ({objective}) when optimal")]
    if bound < objective:
        return [Problem("bound", f"{bound} is below the objective ({objective})")]
    return []


def _unassigned_problems(
    instance: Instance, result: Result, placed: set[str], persons: Iterable[str]
) -> list[Problem]:
    problems = []
    known = set(persons)
    listed: dict[str, int] = {}
    for index, pid in enumerate(result.unassigned):
        path = f"unassigned[{index}]"
        if pid not in known:
            problems.append(Problem(path, f"unknown person {_quote(pid)}"))
        elif pid in listed:
            problems.append(
                Problem(path, f"{_quote(pid)} is listed twice (also at unassigned[{listed[pid]}])")
            )
        elif pid in placed:
            problems.append(Problem(path, f"{_quote(pid)} holds a place"))
        listed.setdefault(pid, index)
    missing = [p.id for p in instance.persons if p.id not in placed and p.id not in listed]
    for pid in sorted(missing):
        problems.append(Problem("unassigned", f"{_quote(pid)} holds no place and is not listed"))
    if not problems and list(result.unassigned) != sorted(result.unassigned):
        problems.append(Problem("unassigned", "must be sorted by person id"))
    return problems


def _metrics(
    instance: Instance, placed: set[str], taken: Counter[str], ranks: Counter[int]
) -> Metrics:
    """The metrics of the result's assignments (those that name a known person and offer)."""
    prices = {o.id: o.price for o in instance.offers}
    attributes = sorted({rule.attribute for rule in instance.policy.rules})
    coverage: dict[str, dict[str, float]] = {}
    for attribute in attributes:
        members: Counter[str] = Counter()
        in_place: Counter[str] = Counter()
        for person in instance.persons:
            value = person.attributes.get(attribute)
            if value is not None:
                members[value] += 1
                if person.id in placed:
                    in_place[value] += 1
        coverage[attribute] = {g: in_place[g] / members[g] for g in sorted(members)}
    return Metrics(
        persons=len(instance.persons),
        placed=len(placed),
        placements=sum(taken.values()),
        spend=sum(prices[o] * n for o, n in taken.items()),
        rank_histogram=dict(sorted(ranks.items())),
        coverage=coverage,
    )


def _metrics_problems(given: Metrics, actual: Metrics) -> list[Problem]:
    problems = []
    for name in ("persons", "placed", "placements"):
        if getattr(given, name) != getattr(actual, name):
            problems.append(
                Problem(
                    f"metrics.{name}",
                    f"{getattr(given, name)}, but the assignments give {getattr(actual, name)}",
                )
            )
    if given.spend != actual.spend:
        problems.append(
            Problem(
                "metrics.spend",
                f"{_money(given.spend)}, but the assignments cost {_money(actual.spend)}",
            )
        )
    if given.rank_histogram != actual.rank_histogram:
        problems.append(
            Problem("metrics.rank_histogram", "does not count the ranks of the assignments")
        )
    if given.coverage.keys() != actual.coverage.keys():
        names = ", ".join(_quote(a) for a in actual.coverage) or "none"
        problems.append(
            Problem("metrics.coverage", f"must name the attributes of the rules ({names})")
        )
    else:
        for attribute, groups in actual.coverage.items():
            shown = given.coverage[attribute]
            if shown.keys() != groups.keys() or any(
                abs(shown[g] - share) > SHARE_TOLERANCE for g, share in groups.items()
            ):
                problems.append(
                    Problem(
                        _member_path("metrics.coverage", attribute),
                        "does not give the coverage of each group of the assignments",
                    )
                )
    return problems


def person_problems(instance: Instance, ids: Iterable[str]) -> list[Problem]:
    """One problem for each id in ``ids`` (the ``--persons`` option) that is not a person."""
    known = {p.id for p in instance.persons}
    problems = []
    for pid in ids:
        if pid == "":
            problems.append(Problem("--persons", "an empty person id (two commas in a row?)"))
        elif pid not in known:
            problems.append(Problem("--persons", f"unknown person {_quote(pid)}"))
    return problems
