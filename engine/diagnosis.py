"""Why an instance has no feasible allocation, exactly as the spec's "Precise rules" define it.

For each ``coverage_floor`` in index order, alone with the base constraints (budgets,
capacities, placements, pot; no other rule):

1. if it can hold, it adds nothing;
2. otherwise each of its groups that cannot reach the floor even when only that group's members
   are counted adds ``(rule, group, best)``, ``best`` being the highest coverage that group can
   reach under the base constraints, in code-point order of the groups;
3. if every group could reach the floor by itself (they compete for the same places), the rule
   adds one entry ``(rule, None, None)``.

When no floor adds anything, the diagnosis is the single entry ``(None, None, None)``.

Both questions are min-cost flows (:mod:`engine.welfare_flow`): with one place per person, the
cheapest way to meet the floors must fit the pot; a group's best coverage is the largest number
of its members whose cheapest placement fits the pot.
"""

from __future__ import annotations

from engine.arrays import InstanceArrays
from engine.instance import DiagnosisEntry, Instance
from engine.welfare_flow import best_group_count, floors_can_hold
from engine.welfare_model import build_model


def diagnose(
    instance: Instance, arrays: InstanceArrays, time_limit_s: float = 60.0
) -> tuple[DiagnosisEntry, ...]:
    """The diagnosis of an infeasible instance (see the module docstring).

    ``time_limit_s`` is accepted for symmetry with the solvers; every step is a polynomial
    min-cost flow, so the diagnosis is always computed in full.
    """
    entries: list[DiagnosisEntry] = []
    for index, rule in enumerate(instance.policy.rules):
        if rule.type != "coverage_floor":
            continue
        model = build_model(instance, arrays, rules=(rule,))
        need = model.floors[rule.attribute]
        if floors_can_hold(model, rule.attribute, need):
            continue
        groups = arrays.groups[rule.attribute]
        share = float(rule.min_share or 0.0)
        found = False
        for g, label in enumerate(groups.labels):
            if need[g] == 0:
                continue
            best_count = best_group_count(model, rule.attribute, g)
            if best_count >= need[g]:
                continue
            size = int(groups.sizes[g])
            best = best_count / size
            found = True
            entries.append(
                DiagnosisEntry(
                    rule=index,
                    group=label,
                    best=best,
                    message=(
                        f'coverage_floor on {rule.attribute}: group "{label}" can reach a '
                        f"coverage of at most {best:.6g} ({best_count} of {size} members) on "
                        f"its own, below min_share {share:.6g}"
                    ),
                )
            )
        if not found:
            entries.append(
                DiagnosisEntry(
                    rule=index,
                    group=None,
                    best=None,
                    message=(
                        f"coverage_floor on {rule.attribute}: each group can reach "
                        f"min_share {share:.6g} on its own, but not all at once, because they "
                        "need the same places or money"
                    ),
                )
            )
    if not entries:
        entries.append(
            DiagnosisEntry(
                rule=None,
                group=None,
                best=None,
                message=("each rule can hold on its own, but the rules cannot all hold together"),
            )
        )
    return tuple(entries)
