"""A columnar (NumPy) view of an :class:`~engine.instance.Instance`, shared by the solvers.

Persons and offers are numbered by their position in the instance. Preference pairs are stored
in compressed sparse row (CSR) form: the pairs of person ``p`` are
``pair_start[p]:pair_start[p + 1]``, in rank order (rank 1 first). Money is integer pence.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

import numpy as np
import numpy.typing as npt

from engine.instance import Instance

_offer_of = attrgetter("offer")
_rank_of = attrgetter("rank")
_utility_of = attrgetter("utility")

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Groups:
    """The groups of one attribute: ``labels`` in code-point order, and for each person the
    index of their group in ``labels`` (``-1`` for persons without the attribute)."""

    attribute: str
    labels: tuple[str, ...]
    member_group: IntArray
    #: number of members of each group, aligned with ``labels``
    sizes: IntArray


@dataclass(frozen=True)
class PairColumns:
    """The preference pairs of an instance as arrays, in the order the persons list them.

    The pairs of person ``p`` are ``start[p]:start[p + 1]``; ``offer`` holds offer positions.
    """

    start: IntArray  # (P + 1,)
    offer: IntArray  # (E,)
    rank: IntArray  # (E,)
    utility: IntArray  # (E,)


def pair_columns(instance: Instance) -> PairColumns:
    """The :class:`PairColumns` of ``instance``: the reader's, or built from its persons."""
    if instance.pair_columns is not None:
        return instance.pair_columns  # type: ignore[no-any-return]
    persons = instance.persons
    offer_index = {offer.id: i for i, offer in enumerate(instance.offers)}
    n_pairs_of = np.fromiter(
        (len(p.preferences) for p in persons), dtype=np.int64, count=len(persons)
    )
    start = np.zeros(len(persons) + 1, dtype=np.int64)
    np.cumsum(n_pairs_of, out=start[1:])
    n_pairs = int(start[-1])
    # Flatten the preferences with C-level maps (a Python loop per pair is several times slower
    # at a million pairs).
    flat = [pref for person in persons for pref in person.preferences]
    return PairColumns(
        start=start,
        offer=np.array(
            list(map(offer_index.__getitem__, map(_offer_of, flat))), dtype=np.int64
        ).reshape(n_pairs),
        rank=np.array(list(map(_rank_of, flat)), dtype=np.int64).reshape(n_pairs),
        utility=np.array(list(map(_utility_of, flat)), dtype=np.int64).reshape(n_pairs),
    )


@dataclass(frozen=True)
class InstanceArrays:
    person_ids: tuple[str, ...]
    offer_ids: tuple[str, ...]
    budget: IntArray  # (P,) pence
    need: IntArray  # (P,)
    lottery: FloatArray  # (P,)
    max_placements: IntArray  # (P,)
    capacity: IntArray  # (O,)
    price: IntArray  # (O,) pence
    pair_start: IntArray  # (P + 1,)
    pair_person: IntArray  # (E,)
    pair_offer: IntArray  # (E,)
    pair_rank: IntArray  # (E,)
    pair_utility: IntArray  # (E,)
    #: the offer's price is within the person's budget (a pair that is not can never be used)
    pair_affordable: BoolArray  # (E,)
    #: attribute -> its groups, for every attribute named in a rule
    groups: dict[str, Groups]

    @property
    def n_persons(self) -> int:
        return len(self.person_ids)

    @property
    def n_offers(self) -> int:
        return len(self.offer_ids)

    @property
    def n_pairs(self) -> int:
        return int(self.pair_offer.shape[0])


def group_persons(instance: Instance, attribute: str) -> Groups:
    """Group the persons of ``instance`` by their value of ``attribute``."""
    values = [person.attributes.get(attribute) for person in instance.persons]
    labels = tuple(sorted({v for v in values if v is not None}))
    index = {label: i for i, label in enumerate(labels)}
    member_group = np.fromiter(
        (index[v] if v is not None else -1 for v in values), dtype=np.int64, count=len(values)
    )
    sizes = np.bincount(member_group[member_group >= 0], minlength=len(labels)).astype(np.int64)
    return Groups(attribute=attribute, labels=labels, member_group=member_group, sizes=sizes)


def to_arrays(instance: Instance) -> InstanceArrays:
    """Build the columnar view of ``instance`` (linear in the number of preference pairs)."""
    persons = instance.persons
    offers = instance.offers
    columns = pair_columns(instance)
    pair_start = columns.start
    pair_offer, pair_rank, pair_utility = columns.offer, columns.rank, columns.utility
    # Put each person's pairs in rank order (they usually are already) with one stable sort.
    pair_person = np.repeat(np.arange(len(persons), dtype=np.int64), np.diff(pair_start))
    out_of_order = (pair_rank[1:] < pair_rank[:-1]) & (pair_person[1:] == pair_person[:-1])
    if out_of_order.any():
        order = np.lexsort((pair_rank, pair_person))
        pair_offer = pair_offer[order]
        pair_rank = pair_rank[order]
        pair_utility = pair_utility[order]

    budget = np.fromiter((p.budget for p in persons), dtype=np.int64, count=len(persons))
    price = np.fromiter((o.price for o in offers), dtype=np.int64, count=len(offers))
    attributes = {rule.attribute for rule in instance.policy.rules}
    return InstanceArrays(
        person_ids=tuple(p.id for p in persons),
        offer_ids=tuple(o.id for o in offers),
        budget=budget,
        need=np.fromiter((p.need for p in persons), dtype=np.int64, count=len(persons)),
        lottery=np.fromiter((p.lottery for p in persons), dtype=np.float64, count=len(persons)),
        max_placements=np.fromiter(
            (p.max_placements for p in persons), dtype=np.int64, count=len(persons)
        ),
        capacity=np.fromiter((o.capacity for o in offers), dtype=np.int64, count=len(offers)),
        price=price,
        pair_start=pair_start,
        pair_person=pair_person,
        pair_offer=pair_offer,
        pair_rank=pair_rank,
        pair_utility=pair_utility,
        pair_affordable=price[pair_offer] <= budget[pair_person],
        groups={a: group_persons(instance, a) for a in sorted(attributes)},
    )
