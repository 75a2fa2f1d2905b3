"""Realistic synthetic allocation instances, for demos, tests and benchmarks.

``generate(size, seed, variant)`` builds one population of a fictional county and puts one
commissioning policy on it. The population is the same for every variant of a (size, seed);
only the policy changes (and, for ``placements``, how many places each person may hold and the
budgets that go with that).

The county (steps of :func:`generate`):

1. **Areas** of unequal size: the four wards of a city, four market towns and four rural
   districts, each with a position on a map. The city has more services per head than the
   countryside.
2. **Persons** draw an area (by population), a support group (learning disability, autism,
   physical disability, mental health, older people, sensory impairment), an age band, and a
   need level 0..10 skewed towards low need.
3. **Providers** sit in an area; each **offer** belongs to a provider, has a category
   (employment, training, day opportunities, home support, social and creative activities), a
   price around the category's typical price, and a popularity drawn from a Zipf law.
4. **Preferences**: each person ranks 3..15 offers (about 10). The chance of ranking an offer is
   popularity x the taste of the person's support group for its category x closeness of its
   area to the person's (an exponential in the distance). Ranks are drawn by successive sampling
   without replacement (Plackett-Luce), so popular, liked and local offers tend to rank high.
   Most persons keep the default utilities; about one in ten states their own.
5. **Budgets** sit around the price of the person's first choice and grow with need; about one
   person in five cannot afford their first choice.
6. **Capacities** follow demand (how often an offer is ranked near the top), scaled by a
   category factor so that demand exceeds supply in the popular categories (employment, day
   opportunities) and not in others.

Rule parameters are computed from the generated data so that the rules bind but can hold: the
plain welfare optimum (a min-cost flow) shows what coverage each group reaches without rules,
and a second flow that rewards placing members of weak groups gives an allocation that meets
every rule of the variant, which proves the rules feasible. ``infeasible`` sets a floor above
the best coverage one area can reach even on its own (a max flow), which proves it cannot hold.

Everything is drawn from ``numpy.random.Generator(PCG64(seed))``; no global random state.
Money is integer pence.
"""

from __future__ import annotations

import gc
import math
import sys
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.graph.python import max_flow, min_cost_flow

from engine.instance import (
    Instance,
    Offer,
    Person,
    Policy,
    Preference,
    Rule,
    default_utility,
)
from engine.writer import dumps_instance

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: size -> (persons, offers)
SIZES: dict[str, tuple[int, int]] = {
    "s": (1_000, 100),
    "m": (20_000, 1_500),
    "l": (200_000, 15_000),
}

#: Every variant is one commissioning policy on the same population.
VARIANTS: tuple[str, ...] = (
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

#: What each variant is, in a line (for ``--help`` and the benchmark's table).
VARIANT_HELP: dict[str, str] = {
    "plain": "welfare, one place each, no pot, no rules (a transportation problem)",
    "floors": "coverage floors on area, one of them for the weakest areas only",
    "pot": "a pot below what the unconstrained optimum spends",
    "gap": "a coverage gap between support groups",
    "multi": "floors on area and age band and a gap on support together",
    "maximin": "maximise the smallest coverage among areas",
    "placements": "up to three places each, budgets shared across them",
    "stable": "deferred acceptance; a pot and rules that it reports as broken",
    "infeasible": "a floor on area that one area cannot reach",
}

# --- the county ---------------------------------------------------------------------------------

#: name, kind, map position (km), share of the population
AREAS: tuple[tuple[str, str, float, float, float], ...] = (
    ("kingsbridge-central", "city", 0.0, 0.0, 0.13),
    ("kingsbridge-north", "city", 0.0, 3.5, 0.11),
    ("kingsbridge-east", "city", 3.5, 0.0, 0.10),
    ("kingsbridge-south", "city", 0.0, -3.5, 0.10),
    ("ashford-vale", "town", -14.0, 6.0, 0.09),
    ("millbrook", "town", 12.0, 11.0, 0.08),
    ("port-elm", "town", 16.0, -9.0, 0.08),
    ("hollins", "town", -10.0, -13.0, 0.07),
    ("north-moors", "rural", -4.0, 26.0, 0.06),
    ("west-valleys", "rural", -27.0, -2.0, 0.06),
    ("south-downs", "rural", 6.0, -25.0, 0.06),
    ("fenlands", "rural", 27.0, 4.0, 0.06),
)
#: services per head, relative, by kind of area
SERVICE_DENSITY = {"city": 1.35, "town": 1.0, "rural": 0.45}
#: places per unit of demand, relative, by kind of area: rural services are stretched thinner
AREA_SUPPLY = {"city": 1.1, "town": 0.95, "rural": 0.6}

CATEGORIES: tuple[str, ...] = (
    "employment",
    "training",
    "day-opportunities",
    "home-support",
    "social-and-creative",
)
CATEGORY_MIX = (0.20, 0.18, 0.22, 0.20, 0.20)
#: typical price of one place, pence
CATEGORY_PRICE = (6_500, 14_000, 9_500, 18_000, 3_500)
#: places per unit of demand: below 1 means demand exceeds supply
CATEGORY_SUPPLY = (0.55, 0.95, 0.45, 0.65, 1.3)

#: name, share of the population, taste for each category (same order as CATEGORIES), how many
#: offers a member ranks on average, and how far (km) they look before interest halves
SUPPORT_GROUPS: tuple[tuple[str, float, tuple[float, ...], float, float], ...] = (
    ("learning-disability", 0.24, (1.2, 1.0, 1.7, 0.5, 1.4), 10.5, 5.0),
    ("autism", 0.13, (1.1, 1.5, 1.3, 0.4, 1.1), 7.0, 4.0),
    ("physical-disability", 0.17, (1.2, 0.9, 0.7, 1.7, 0.9), 11.0, 6.0),
    ("mental-health", 0.20, (1.6, 1.1, 0.8, 0.6, 1.4), 13.0, 8.0),
    ("older-people", 0.18, (0.05, 0.15, 1.8, 2.4, 0.5), 5.5, 2.5),
    ("sensory-impairment", 0.08, (1.0, 1.0, 0.9, 1.3, 1.0), 11.0, 5.0),
)
AGE_BANDS: tuple[str, ...] = ("18-25", "26-64", "65-plus")

PROVIDER_PLACES = (
    "riverside", "harbour", "oakwood", "meadow", "beacon", "kingfisher", "heather", "willow",
    "castle", "brook", "ashgrove", "elmtree", "stonebridge", "lantern", "orchard", "millstone",
    "northgate", "hillside", "fernlea", "seaview", "greenway", "thistle", "bramble", "copper",
)  # fmt: skip
PROVIDER_KINDS = (
    "college", "cic", "trust", "charity", "care", "works", "hub", "cooperative", "centre", "arts",
)  # fmt: skip

MIN_PREFERENCES = 3
MAX_PREFERENCES = 15


@dataclass(frozen=True)
class _Population:
    """The generated county, as arrays (persons and offers are numbered from 0)."""

    person_area: IntArray
    person_support: IntArray
    person_age: IntArray
    need: IntArray
    lottery: FloatArray
    budget: IntArray  # pence
    pair_start: IntArray  # CSR over persons, pairs in rank order
    pair_offer: IntArray
    pair_utility: IntArray
    pair_explicit: BoolArray  # the person stated this utility (else it is the default)
    offer_area: IntArray
    offer_category: IntArray
    offer_provider: list[str]
    price: IntArray  # pence
    capacity: IntArray

    @property
    def n_persons(self) -> int:
        return int(self.person_area.shape[0])

    @property
    def n_offers(self) -> int:
        return int(self.price.shape[0])

    @property
    def pair_person(self) -> IntArray:
        counts = np.diff(self.pair_start)
        return np.repeat(np.arange(self.n_persons, dtype=np.int64), counts)

    @property
    def pair_rank(self) -> IntArray:
        counts = np.diff(self.pair_start)
        starts = np.repeat(self.pair_start[:-1], counts)
        return np.arange(self.pair_offer.shape[0], dtype=np.int64) - starts + 1


def generate(size: str, seed: int, variant: str = "plain") -> Instance:
    """A synthetic instance of ``size`` (``s``, ``m`` or ``l``) with the policy ``variant``.

    The same (size, seed, variant) always gives the same instance. Raises ``ValueError`` for an
    unknown size or variant.
    """
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}: choose one of {', '.join(SIZES)}")
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    n_persons, n_offers = SIZES[size]
    rng = np.random.Generator(np.random.PCG64(seed))
    population = _generate_population(rng, n_persons, n_offers)
    max_placements = np.ones(n_persons, dtype=np.int64)
    pot: int | None = None
    rules: tuple[Rule, ...] = ()
    mechanism = "welfare"
    # Policies draw from their own stream so that the population never depends on the variant.
    policy_rng = np.random.Generator(np.random.PCG64([seed, VARIANTS.index(variant)]))

    if variant == "floors":
        rules = _floors_rules(population)
    elif variant == "pot":
        plain = _welfare_flow(population, population.pair_utility)
        pot = _round_down_pounds(0.9 * _spend(population, plain))
    elif variant == "gap":
        rules = _gap_rules(population)
    elif variant == "multi":
        rules = _multi_rules(population)
    elif variant == "maximin":
        rules = (Rule(type="maximize_min_coverage", attribute="area"),)
    elif variant == "placements":
        max_placements, budget = _several_placements(policy_rng, population)
        population = _replace_budget(population, budget)
    elif variant == "stable":
        mechanism = "stable"
        pot, rules = _stable_policy(population)
    elif variant == "infeasible":
        rules = _infeasible_rules(population)

    return _to_instance(
        population,
        max_placements=max_placements,
        round_id=f"synthetic-{size}-{seed}-{variant}",
        pot=pot,
        policy=Policy(
            mechanism=mechanism,  # type: ignore[arg-type]
            rules=rules,
            time_limit_s=120.0 if size == "l" else 60.0,
            seed=seed,
        ),
    )


# --- the population -----------------------------------------------------------------------------


def _generate_population(rng: np.random.Generator, n_persons: int, n_offers: int) -> _Population:
    n_areas = len(AREAS)
    area_share = np.array([a[4] for a in AREAS])
    area_share /= area_share.sum()
    xy = np.array([(a[2], a[3]) for a in AREAS])
    distance = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    half_distance = np.array([g[4] for g in SUPPORT_GROUPS])
    # support x area x area: how much a member living in one area cares for offers in another
    closeness = np.maximum(0.5 ** (distance[None, :, :] / half_distance[:, None, None]), 0.002)

    # Persons: area, support group, age band, need.
    person_area = rng.choice(n_areas, size=n_persons, p=area_share).astype(np.int64)
    support_share = np.array([g[1] for g in SUPPORT_GROUPS])
    support_share /= support_share.sum()
    person_support = rng.choice(len(SUPPORT_GROUPS), size=n_persons, p=support_share).astype(
        np.int64
    )
    older = person_support == _support_index("older-people")
    person_age = rng.choice(3, size=n_persons, p=(0.22, 0.72, 0.06)).astype(np.int64)
    person_age[older] = 2
    # Need 0..10, skewed towards low need; older people tend to need more.
    need = rng.binomial(10, np.where(older, 0.42, 0.28)).astype(np.int64)
    lottery = np.minimum(np.round(rng.random(n_persons), 6), 0.999999)

    # Offers sit in areas by population and service density; each area has its own providers,
    # about one for every four offers there, some larger than others.
    density = np.array([SERVICE_DENSITY[a[1]] for a in AREAS]) * area_share
    offer_area = np.sort(rng.choice(n_areas, size=n_offers, p=density / density.sum()))
    offer_area = rng.permutation(offer_area).astype(np.int64)
    offers_in_area = np.bincount(offer_area, minlength=n_areas)
    providers_in_area = np.maximum(1, np.ceil(offers_in_area / 4)).astype(np.int64)
    first_provider = np.concatenate([[0], np.cumsum(providers_in_area)[:-1]])
    pick = np.floor(providers_in_area[offer_area] * rng.random(n_offers) ** 1.6).astype(np.int64)
    offer_provider_index = first_provider[offer_area] + pick
    provider_names = _provider_names(rng, int(providers_in_area.sum()))
    offer_provider = [provider_names[i] for i in offer_provider_index.tolist()]
    offer_category = rng.choice(len(CATEGORIES), size=n_offers, p=CATEGORY_MIX).astype(np.int64)
    typical = np.array(CATEGORY_PRICE, dtype=np.float64)[offer_category]
    price = (np.round(typical * rng.lognormal(0.0, 0.3, n_offers) / 50) * 50).astype(np.int64)
    popularity = (1.0 + rng.permutation(n_offers)) ** -0.8

    # Preferences: how many, then which, by successive sampling without replacement.
    mean_prefs = np.array([g[3] for g in SUPPORT_GROUPS])[person_support]
    n_prefs = np.clip(
        np.round(rng.normal(mean_prefs, 2.4)), MIN_PREFERENCES, MAX_PREFERENCES
    ).astype(np.int64)
    n_prefs = np.minimum(n_prefs, n_offers)
    taste = np.array([g[2] for g in SUPPORT_GROUPS])
    pair_start = np.zeros(n_persons + 1, dtype=np.int64)
    np.cumsum(n_prefs, out=pair_start[1:])
    pair_offer = _draw_rankings(
        rng,
        person_cell=person_support * n_areas + person_area,
        cell_weights=(
            taste[:, None, offer_category]  # support x 1 x offer
            * closeness[:, :, offer_area]  # support x area x offer
            * popularity[None, None, :]
        ).reshape(len(SUPPORT_GROUPS) * n_areas, n_offers),
        n_prefs=n_prefs,
    )
    pair_person = np.repeat(np.arange(n_persons, dtype=np.int64), n_prefs)
    pair_rank = np.arange(pair_offer.shape[0], dtype=np.int64) - pair_start[pair_person] + 1

    # Utilities: the default for most; about one person in ten states their own, from a personal
    # starting value and a personal rate of decline.
    default_by_rank = np.array([0] + [default_utility(r) for r in range(1, MAX_PREFERENCES + 1)])
    pair_utility = default_by_rank[pair_rank].astype(np.int64)
    explicit_person = rng.random(n_persons) < 0.1
    start = rng.integers(60, 151, n_persons)
    decline = rng.uniform(0.55, 0.97, n_persons)
    own = np.maximum(
        1, np.round(start[pair_person] * decline[pair_person] ** (pair_rank - 1))
    ).astype(np.int64)
    pair_explicit = explicit_person[pair_person] & (own != pair_utility)
    pair_utility = np.where(pair_explicit, own, pair_utility)

    # Budgets: around the price of the first choice, more for higher need; round to 10p.
    first_price = price[pair_offer[pair_start[:-1]]].astype(np.float64)
    factor = rng.lognormal(0.2, 0.3, n_persons) * (0.88 + 0.03 * need)
    budget = (np.round(first_price * factor / 10) * 10).astype(np.int64)

    # Capacities: follow demand near the top of the lists, scaled by the category's supply.
    top = pair_rank <= 3
    demand = np.bincount(pair_offer[top], minlength=n_offers) / 3.0
    mean_demand = max(float(demand.mean()), 1.0)
    supply = (
        np.array(CATEGORY_SUPPLY)[offer_category]
        * np.array([AREA_SUPPLY[a[1]] for a in AREAS])[offer_area]
    )
    wanted = supply * demand**0.8 * mean_demand**0.2 * rng.lognormal(0.0, 0.35, n_offers)
    capacity = np.maximum(np.round(wanted), 1).astype(np.int64)
    # A few offers have no places this round.
    capacity[rng.random(n_offers) < 0.01] = 0

    return _Population(
        person_area=person_area,
        person_support=person_support,
        person_age=person_age,
        need=need,
        lottery=lottery,
        budget=budget,
        pair_start=pair_start,
        pair_offer=pair_offer,
        pair_utility=pair_utility,
        pair_explicit=pair_explicit,
        offer_area=offer_area,
        offer_category=offer_category,
        offer_provider=offer_provider,
        price=price,
        capacity=capacity,
    )


def _draw_rankings(
    rng: np.random.Generator, person_cell: IntArray, cell_weights: FloatArray, n_prefs: IntArray
) -> IntArray:
    """Each person's ranked offers, concatenated person by person (CSR by ``n_prefs``).

    A person of cell ``c`` draws offers with probability proportional to ``cell_weights[c]``
    again and again; the first ``n_prefs`` distinct offers in draw order are their ranking. This
    is exactly sampling without replacement (Plackett-Luce), done for all persons at once.
    Persons who did not see enough distinct offers draw again with more draws.
    """
    n_persons = person_cell.shape[0]
    cdf = np.cumsum(cell_weights, axis=1)
    cdf /= cdf[:, -1:]
    result = np.empty(int(n_prefs.sum()), dtype=np.int64)
    offsets = np.zeros(n_persons + 1, dtype=np.int64)
    np.cumsum(n_prefs, out=offsets[1:])
    todo = np.arange(n_persons, dtype=np.int64)
    n_draws = MAX_PREFERENCES + 12
    while todo.size:
        u = rng.random((todo.size, n_draws))
        draws = np.empty((todo.size, n_draws), dtype=np.int64)
        cells = person_cell[todo]
        for cell in np.unique(cells):
            rows = np.flatnonzero(cells == cell)
            draws[rows] = np.searchsorted(cdf[cell], u[rows], side="right")
        np.minimum(draws, cdf.shape[1] - 1, out=draws)
        # Mark the first occurrence of each offer in each row (a stable sort keeps the earliest
        # copy first among equals).
        order = np.argsort(draws, axis=1, kind="stable")
        ordered = np.take_along_axis(draws, order, axis=1)
        repeat = np.zeros_like(draws, dtype=bool)
        np.put_along_axis(repeat, order[:, 1:], ordered[:, 1:] == ordered[:, :-1], axis=1)
        first = ~repeat
        seen = np.cumsum(first, axis=1)
        wanted = n_prefs[todo][:, None]
        done = seen[:, -1] >= wanted[:, 0]
        keep = first & (seen <= wanted) & done[:, None]
        # Rows are in person order, so the kept draws fill each person's slice in rank order.
        done_persons = todo[done]
        kept = draws[keep]
        lengths = n_prefs[done_persons]
        targets = np.repeat(offsets[done_persons], lengths) + (
            np.arange(kept.shape[0]) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        )
        result[targets] = kept
        todo = todo[~done]
        n_draws *= 2
    return result


def _provider_names(rng: np.random.Generator, n_providers: int) -> list[str]:
    names: list[str] = []
    used: dict[str, int] = {}
    places = rng.integers(0, len(PROVIDER_PLACES), n_providers)
    kinds = rng.integers(0, len(PROVIDER_KINDS), n_providers)
    for place, kind in zip(places, kinds, strict=True):
        name = f"{PROVIDER_PLACES[place]}-{PROVIDER_KINDS[kind]}"
        used[name] = used.get(name, 0) + 1
        names.append(name if used[name] == 1 else f"{name}-{used[name]}")
    return names


def _support_index(name: str) -> int:
    return [g[0] for g in SUPPORT_GROUPS].index(name)


def _replace_budget(population: _Population, budget: IntArray) -> _Population:
    fields = {name: getattr(population, name) for name in population.__dataclass_fields__}
    fields["budget"] = budget
    return _Population(**fields)


def _several_placements(
    rng: np.random.Generator, population: _Population
) -> tuple[IntArray, IntArray]:
    """Up to three places each, with budgets that stretch to one more place but rarely to all.

    Half the persons keep one place; the others may hold two or three. Their budget grows by
    60% of the original per extra place, so a person can usually afford their first choice and a
    cheaper one, and the budget binds across the places.
    """
    n = population.n_persons
    max_placements = rng.choice(3, size=n, p=(0.5, 0.3, 0.2)).astype(np.int64) + 1
    budget = population.budget.astype(np.float64) * (1.0 + 0.6 * (max_placements - 1))
    return max_placements, (np.round(budget / 10) * 10).astype(np.int64)


# --- rule parameters from flows -----------------------------------------------------------------


def _welfare_flow(
    population: _Population,
    weight: IntArray,
    max_placements: IntArray | None = None,
) -> BoolArray:
    """Which pairs a greatest-``weight`` allocation uses: capacities, one place per person
    (or ``max_placements``), affordable pairs only. Solved as a min-cost flow (OR-Tools):
    source -> person -> offer -> sink, plus a free source -> sink arc so that nobody has to be
    placed. Budgets across several places are not modelled, so use it with one place each.
    """
    n_p, n_o = population.n_persons, population.n_offers
    pair_person = population.pair_person
    affordable = population.price[population.pair_offer] <= population.budget[pair_person]
    pairs = np.flatnonzero(affordable & (weight > 0))
    source, sink = n_p + n_o, n_p + n_o + 1
    person_cap = np.ones(n_p, dtype=np.int64) if max_placements is None else max_placements
    supply = int(person_cap.sum())
    tails = np.concatenate(
        [np.full(n_p, source), pair_person[pairs], n_p + np.arange(n_o), [source]]
    )
    heads = np.concatenate(
        [np.arange(n_p), n_p + population.pair_offer[pairs], np.full(n_o, sink), [sink]]
    )
    caps = np.concatenate(
        [person_cap, np.ones(pairs.size, np.int64), population.capacity, [supply]]
    )
    costs = np.concatenate([np.zeros(n_p, np.int64), -weight[pairs], np.zeros(n_o, np.int64), [0]])
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps, costs
    )
    supplies = np.zeros(n_p + n_o + 2, dtype=np.int64)
    supplies[source], supplies[sink] = supply, -supply
    flow.set_nodes_supplies(np.arange(n_p + n_o + 2, dtype=np.int32), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    used = np.zeros(population.pair_offer.shape[0], dtype=bool)
    used[pairs] = flow.flows(arcs[n_p : n_p + pairs.size]) > 0
    return used


def _best_coverage_alone(population: _Population, members: BoolArray) -> int:
    """The most members of a group that can be placed at once, counting no one else (max flow)."""
    pair_person = population.pair_person
    affordable = population.price[population.pair_offer] <= population.budget[pair_person]
    pairs = np.flatnonzero(affordable & members[pair_person])
    n_p, n_o = population.n_persons, population.n_offers
    source, sink = n_p + n_o, n_p + n_o + 1
    people = np.flatnonzero(members)
    tails = np.concatenate([np.full(people.size, source), pair_person[pairs], n_p + np.arange(n_o)])
    heads = np.concatenate([people, n_p + population.pair_offer[pairs], np.full(n_o, sink)])
    caps = np.concatenate([np.ones(people.size + pairs.size, dtype=np.int64), population.capacity])
    flow = max_flow.SimpleMaxFlow()
    flow.add_arcs_with_capacity(tails.astype(np.int32), heads.astype(np.int32), caps)
    status = flow.solve(source, sink)
    if status != flow.OPTIMAL:
        raise RuntimeError(f"max flow failed with status {status}")
    return int(flow.optimal_flow())


def _coverage(
    population: _Population, used: BoolArray, member_group: IntArray, n_groups: int
) -> FloatArray:
    placed = np.zeros(population.n_persons, dtype=bool)
    placed[population.pair_person[used]] = True
    members = np.bincount(member_group, minlength=n_groups)
    placed_members = np.bincount(member_group[placed], minlength=n_groups)
    return placed_members / np.maximum(members, 1)


def _spend(population: _Population, used: BoolArray) -> int:
    return int(population.price[population.pair_offer[used]].sum())


def _boosted_flow(population: _Population, bonus_per_person: IntArray) -> BoolArray:
    """A welfare flow where placing a person is worth ``bonus_per_person`` more."""
    bonus = bonus_per_person[population.pair_person]
    return _welfare_flow(population, population.pair_utility + bonus)


def _share_between(plain: float, reachable: float) -> float:
    """A floor that the plain optimum misses (when possible) but a known allocation meets.

    60% of the way from the plain coverage to the reachable one, rounded down to 3 decimals;
    never above ``reachable``, so the rule can hold.
    """
    if reachable > plain + 0.002:
        return math.floor((plain + 0.6 * (reachable - plain)) * 1000) / 1000
    return math.floor(reachable * 1000) / 1000


def _gap_between(plain: float, reachable: float) -> float:
    """A gap below the plain optimum's (when possible) but at or above a known allocation's:
    40% of the way from the reachable gap to the plain one, rounded up to 3 decimals."""
    if reachable < plain - 0.002:
        return math.ceil((reachable + 0.4 * (plain - reachable)) * 1000) / 1000
    return math.ceil(reachable * 1000) / 1000


def _weakest(coverage: FloatArray, count: int) -> IntArray:
    return np.argsort(coverage, kind="stable")[:count].astype(np.int64)


def _optimum_favouring(population: _Population, favour: IntArray) -> BoolArray:
    """A plain welfare optimum that, among all of them, places the persons with the greatest
    total ``favour`` (small integers per person; negative to place as few as possible).

    Default utilities make many allocations equally good, and a rule binds only if no optimum
    meets it. Scaling utilities by more than the total favour makes the order lexicographic:
    utility first, favour only to break ties.
    """
    scale = int(np.abs(favour).sum()) + 1
    weight = population.pair_utility * scale + favour[population.pair_person]
    return _welfare_flow(population, weight)


def _area_floors(
    population: _Population, first: BoolArray, extra_bonus: IntArray | None = None
) -> tuple[Rule, Rule, BoolArray]:
    """A floor on every area and a higher one for the two areas the plain optimum serves worst,
    with the allocation that proves them feasible.

    The higher floor certainly binds: it lies above the largest coverage that any plain optimum
    gives the weakest area (found by favouring its members among the optima). A flow that
    rewards placing members of the weaker half of the areas, at some cost in welfare, reaches
    the floors. Each floor lies 60% of the way from the plain coverage to the reachable one.
    """
    n_areas = len(AREAS)
    area = population.person_area
    first_coverage = _coverage(population, first, area, n_areas)
    weakest = _weakest(first_coverage, 2)
    best_free = _coverage(
        population, _optimum_favouring(population, (area == weakest[0]).astype(np.int64)), area,
        n_areas,
    )[weakest[0]]  # fmt: skip
    bonus = np.where(np.isin(area, _weakest(first_coverage, n_areas // 2)), 40, 0)
    bonus[np.isin(area, weakest)] = 60
    if extra_bonus is not None:
        bonus = bonus + extra_bonus
    boosted = _boosted_flow(population, bonus.astype(np.int64))
    reach = _coverage(population, boosted, area, n_areas)
    every = _share_between(float(first_coverage.min()), float(reach.min()))
    listed = _share_between(float(best_free), float(reach[weakest].min()))
    return (
        Rule(type="coverage_floor", attribute="area", min_share=min(every, listed)),
        Rule(
            type="coverage_floor",
            attribute="area",
            min_share=listed,
            values=tuple(sorted(AREAS[i][0] for i in weakest)),
        ),
        boosted,
    )


def _floors_rules(population: _Population) -> tuple[Rule, ...]:
    """Floors on area: one for every area, a higher one for the two weakest (see
    :func:`_area_floors`)."""
    every, listed, _ = _area_floors(population, _welfare_flow(population, population.pair_utility))
    return (every, listed)


def _gap_rules(population: _Population) -> tuple[Rule, ...]:
    """A gap between support groups that no plain optimum meets.

    Among the plain optima, the best-served support group has at least its smallest coverage
    (favour against its members) and the worst-served at most its largest (favour for them), so
    every optimum's gap is at least the difference; the rule asks for 80% of it. When that
    difference vanishes, the rule asks for 10% of the plain gap instead. The empty allocation
    has no gap, so any gap can hold.
    """
    n_groups = len(SUPPORT_GROUPS)
    support = population.person_support
    first = _coverage(
        population, _welfare_flow(population, population.pair_utility), support, n_groups
    )
    low, high = int(np.argmin(first)), int(np.argmax(first))
    low_best = _coverage(
        population, _optimum_favouring(population, (support == low).astype(np.int64)), support,
        n_groups,
    )[low]  # fmt: skip
    high_least = _coverage(
        population, _optimum_favouring(population, -(support == high).astype(np.int64)), support,
        n_groups,
    )[high]  # fmt: skip
    certain = float(high_least - low_best)
    if certain > 0.002:
        gap = math.floor(0.8 * certain * 1000) / 1000
    else:
        gap = math.floor(0.1 * float(first.max() - first.min()) * 1000) / 1000
    return (Rule(type="coverage_gap", attribute="support", max_gap=gap),)


def _multi_rules(population: _Population) -> tuple[Rule, ...]:
    """Rules on three attributes at once: a floor for the two weakest areas, a floor on every
    age band, and a gap between support groups.

    The area floor binds as in :func:`_area_floors`; the flow that proves it also rewards
    placing members of the weakest age band. Taking places away never breaks a capacity, a
    budget or the pot, so places are then taken from the best-served support groups (lowest
    utility first, never below a floor) until their gap is 30% of the plain optimum's or no
    more can go. That allocation meets all three rules, so they can hold together.
    """
    n_areas, n_support, n_ages = len(AREAS), len(SUPPORT_GROUPS), len(AGE_BANDS)
    first = _welfare_flow(population, population.pair_utility)
    support = _coverage(population, first, population.person_support, n_support)
    age = _coverage(population, first, population.person_age, n_ages)
    weak_age = np.where(population.person_age == int(np.argmin(age)), 25, 0).astype(np.int64)
    _, area_rule, boosted = _area_floors(population, first, extra_bonus=weak_age)
    b_age = _coverage(population, boosted, population.person_age, n_ages)
    age_share = _share_between(float(age.min()), float(b_age.min()))

    assert area_rule.values is not None and area_rule.min_share is not None
    listed = [i for i, a in enumerate(AREAS) if a[0] in area_rule.values]
    area_members = np.bincount(population.person_area, minlength=n_areas)
    age_members = np.bincount(population.person_age, minlength=n_ages)
    area_floor = np.zeros(n_areas, dtype=np.int64)
    area_floor[listed] = np.ceil((area_rule.min_share - 1e-9) * area_members[listed])
    age_floor = np.ceil((age_share - 1e-9) * age_members).astype(np.int64)
    plain_gap = float(support.max() - support.min())
    reached = _trim_gap(population, boosted, area_floor, age_floor, target_gap=0.3 * plain_gap)
    return (
        area_rule,
        Rule(type="coverage_floor", attribute="age", min_share=age_share),
        Rule(type="coverage_gap", attribute="support", max_gap=_gap_between(plain_gap, reached)),
    )


def _trim_gap(
    population: _Population,
    used: BoolArray,
    area_floor: IntArray,
    age_floor: IntArray,
    *,
    target_gap: float,
) -> float:
    """Take places from the best-served support groups, keeping every area and age band at or
    above its floor (a count of placed members), until the support groups' coverages are within
    ``target_gap`` of each other or no place can go. Returns the gap reached."""
    n_support = len(SUPPORT_GROUPS)
    person = population.pair_person[used]
    members = np.bincount(population.person_support, minlength=n_support)
    support_placed = np.bincount(population.person_support[person], minlength=n_support)
    area_placed = np.bincount(population.person_area[person], minlength=len(AREAS))
    age_placed = np.bincount(population.person_age[person], minlength=len(AGE_BANDS))
    ceiling = float((support_placed / members).min()) + target_gap
    # The least valued places go first.
    order = np.argsort(population.pair_utility[used], kind="stable")
    for p in person[order].tolist():
        s = population.person_support[p]
        a = population.person_area[p]
        b = population.person_age[p]
        if support_placed[s] <= ceiling * members[s]:
            continue
        if area_placed[a] <= area_floor[a] or age_placed[b] <= age_floor[b]:
            continue
        support_placed[s] -= 1
        area_placed[a] -= 1
        age_placed[b] -= 1
    coverage = support_placed / members
    return float(coverage.max() - coverage.min())


def _stable_policy(population: _Population) -> tuple[int, tuple[Rule, ...]]:
    """The council's wishes, which deferred acceptance does not enforce but reports when broken:
    a pot of 80% of what everyone's affordable first choices would cost, a floor on every area
    and a gap between support groups."""
    pair_person = population.pair_person
    affordable = population.price[population.pair_offer] <= population.budget[pair_person]
    first_affordable = np.full(population.n_persons, -1, dtype=np.int64)
    # Pairs are in rank order; writing in reverse leaves each person's best affordable pair.
    idx = np.flatnonzero(affordable)[::-1]
    first_affordable[pair_person[idx]] = population.pair_offer[idx]
    wanted = first_affordable[first_affordable >= 0]
    pot = _round_down_pounds(0.8 * float(population.price[wanted].sum()))
    rules = (
        Rule(type="coverage_floor", attribute="area", min_share=0.75),
        Rule(type="coverage_gap", attribute="support", max_gap=0.1),
    )
    return pot, rules


def _infeasible_rules(population: _Population) -> tuple[Rule, ...]:
    """A floor on every area that at least one area cannot reach even alone.

    Each area's coverage is bounded by the share of its members who can afford one of their
    choices; areas get an exact max flow (the most members placed at once, counting no one
    else) in order of that bound, at least three of them, until one cannot be served in full.
    The floor is set above the smallest best coverage found, so it cannot hold.
    """
    n_areas = len(AREAS)
    pair_person = population.pair_person
    affordable = population.price[population.pair_offer] <= population.budget[pair_person]
    can_afford = np.zeros(population.n_persons, dtype=bool)
    can_afford[pair_person[affordable]] = True
    members = np.bincount(population.person_area, minlength=n_areas)
    bound = np.bincount(population.person_area[can_afford], minlength=n_areas) / members
    best = 1.0
    for count, a in enumerate(_weakest(bound, n_areas).tolist()):
        if count >= 3 and best < 1.0:
            break
        best = min(best, _best_coverage_alone(population, population.person_area == a) / members[a])
    if best >= 1.0:
        raise RuntimeError("every area can be served in full on its own: no floor is infeasible")
    # Rounded down to hundredths, plus one hundredth: above the best, by more than the 1e-9
    # tolerance of floors since coverages are fractions with small denominators.
    share = math.floor(best * 100) / 100 + 0.01
    return (Rule(type="coverage_floor", attribute="area", min_share=round(share, 2)),)


def _round_down_pounds(pence: float) -> int:
    return int(pence // 100) * 100


# --- building the instance ----------------------------------------------------------------------


def _to_instance(
    population: _Population,
    *,
    max_placements: IntArray,
    round_id: str,
    pot: int | None,
    policy: Policy,
) -> Instance:
    n_o = population.n_offers
    offer_width = max(3, len(str(n_o)))
    offer_ids = [f"o-{i + 1:0{offer_width}d}" for i in range(n_o)]
    categories = [CATEGORIES[c] for c in population.offer_category.tolist()]
    offers = tuple(
        Offer(
            id=offer_ids[i],
            capacity=int(cap),
            price=int(price),
            provider=population.offer_provider[i],
            category=categories[i],
        )
        for i, (cap, price) in enumerate(
            zip(population.capacity.tolist(), population.price.tolist(), strict=True)
        )
    )
    # Building a million small objects triggers the cyclic garbage collector again and again,
    # for nothing: none of them forms a cycle.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build_instance(
            population,
            offer_ids=offer_ids,
            offers=offers,
            max_placements=max_placements,
            round_id=round_id,
            pot=pot,
            policy=policy,
        )
    finally:
        if collecting:
            gc.enable()


def _build_instance(
    population: _Population,
    *,
    offer_ids: list[str],
    offers: tuple[Offer, ...],
    max_placements: IntArray,
    round_id: str,
    pot: int | None,
    policy: Policy,
) -> Instance:
    n_p = population.n_persons
    person_width = max(4, len(str(n_p)))
    # Preferences are immutable, so equal ones are shared: far fewer objects at size l.
    key = (
        population.pair_offer * (MAX_PREFERENCES + 1) + population.pair_rank
    ) * 1_000_000 + population.pair_utility
    unique_keys, which = np.unique(key, return_inverse=True)
    shared = [
        Preference(offer=offer_ids[k // 1_000_000 // (MAX_PREFERENCES + 1)], rank=r, utility=u)
        for k, r, u in zip(
            unique_keys.tolist(),
            (unique_keys // 1_000_000 % (MAX_PREFERENCES + 1)).tolist(),
            (unique_keys % 1_000_000).tolist(),
            strict=True,
        )
    ]
    prefs = [shared[i] for i in which.tolist()]
    starts = population.pair_start.tolist()
    area_names = [a[0] for a in AREAS]
    support_names = [g[0] for g in SUPPORT_GROUPS]
    persons = tuple(
        Person(
            id=f"p-{p + 1:0{person_width}d}",
            budget=budget,
            need=need,
            lottery=lottery,
            max_placements=most,
            attributes={
                "area": area_names[area],
                "support": support_names[support],
                "age": AGE_BANDS[age],
            },
            preferences=tuple(prefs[starts[p] : starts[p + 1]]),
            lottery_given=True,
        )
        for p, (budget, need, lottery, most, area, support, age) in enumerate(
            zip(
                population.budget.tolist(),
                population.need.tolist(),
                population.lottery.tolist(),
                max_placements.tolist(),
                population.person_area.tolist(),
                population.person_support.tolist(),
                population.person_age.tolist(),
                strict=True,
            )
        )
    )
    return Instance(persons=persons, offers=offers, policy=policy, round_id=round_id, pot=pot)


# --- writing ------------------------------------------------------------------------------------


def run_generate(size: str, seed: int, variant: str = "plain", out: str | None = None) -> int:
    """Generate an instance and write it as JSON to ``out`` (standard output when None).

    Returns the exit status: 0 when written, 2 for an unknown size or variant.
    """
    try:
        instance = generate(size, seed, variant)
    except ValueError as error:
        print(f"tapestry generate: {error}", file=sys.stderr)
        return 2
    text = dumps_instance(instance)
    if out is None or out == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text)
    return 0
