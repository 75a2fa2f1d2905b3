"""The reader's fast lane: a valid instance in the usual shape, decoded by msgspec in C.

:func:`read_usual` returns exactly the :class:`~engine.instance.Instance` that the full reader
in :mod:`engine.reader` builds, or None. It never decides what is wrong with a document, only
that nothing is: on anything unusual or invalid it returns None, and the full reader reads the
document again and names every problem. At 200,000 persons it takes about a third of the full
reader's time, and it hands over the preference pairs as arrays as well
(:attr:`Instance.pair_columns`).

msgspec checks each value's type and range while it decodes (the annotations below, and those of
:class:`~engine.instance.Preference`), and refuses unknown members, ``NaN`` and bad UTF-8. Two
things it does not do are done here:

* **a key given twice.** msgspec keeps the last value. So the lane only takes texts with no
  backslash at all (no escapes: every key is spelled as it is read) and with no space between a
  key and its colon. Then every key in the text is exactly one ``":``, and the text's count of
  them equals the number of keys decoded only if no key was given twice. A preference's
  ``utility`` may be left out, so the decoded objects cannot say how many were given; keys named
  ``utility`` are counted apart, and a regular expression looks for an object with two of them;
* **the checks across values**: the format's name, money to the penny, unique ids, offers that
  exist, and each person's offers and ranks given once. These run on arrays.

``round`` and ``policy`` are small: they are read by the full reader's own functions.
"""

from __future__ import annotations

import re
from decimal import Decimal
from itertools import chain, repeat
from operator import attrgetter
from typing import Annotated

import msgspec
import numpy as np
from msgspec import UNSET, Meta, Raw, Struct, UnsetType

from engine.arrays import PairColumns
from engine.instance import (
    INSTANCE_FORMAT,
    MAX_INTEGER,
    Instance,
    InvalidInstance,
    Offer,
    Person,
    Policy,
    Preference,
    derived_lottery,
)
from engine.reader import (
    MAX_NEED,
    _Checker,
    _parse,
    _read_policy,
    _read_round,
    new_person,
)

__all__ = ["read_usual"]

_Id = Annotated[str, Meta(min_length=1)]
# A JSON integer comes back as an int; any other number as its exact Decimal.
_Money = int | Decimal


class _Offer(Struct, forbid_unknown_fields=True, gc=False):
    id: _Id
    capacity: Annotated[int, Meta(ge=0, le=MAX_INTEGER)]
    price: _Money
    provider: str | UnsetType = UNSET
    category: str | UnsetType = UNSET


class _Person(Struct, forbid_unknown_fields=True, gc=False):
    id: _Id
    budget: _Money
    need: Annotated[int, Meta(ge=0, le=MAX_NEED)] | UnsetType = UNSET
    lottery: float | UnsetType = UNSET
    max_placements: Annotated[int, Meta(ge=1, le=MAX_INTEGER)] | UnsetType = UNSET
    attributes: dict[str, str] | UnsetType = UNSET
    preferences: list[Preference] | UnsetType = UNSET


class _Document(Struct, forbid_unknown_fields=True, gc=False):
    format: str
    persons: list[_Person]
    offers: list[_Offer]
    round: Raw | UnsetType = UNSET
    policy: Raw | UnsetType = UNSET


_DECODER = msgspec.json.Decoder(_Document)
_BOM = b"\xef\xbb\xbf"
#: Two ``utility`` keys in one object: no brace between them outside a string.
_UTILITY_TWICE = re.compile(rb'"utility":(?:[^{}"]|"[^"]*")*"utility":')
_KEY = b'":'
#: Money written as text ("budget": "320.00"): msgspec would read it as a Decimal, but the format
#: says money is a number, so the full reader refuses it by name. No string here holds a quote or
#: a colon (see ``read_usual``), so this pattern only meets keys.
_MONEY_AS_TEXT = re.compile(rb'"(?:budget|price)":\s*"')
_UTILITY_KEY = b'"utility":'
_MAX_MONEY_UNITS = 1_000_000_000

_offer_of = attrgetter("offer")
_rank_of = attrgetter("rank")
_utility_of = attrgetter("utility")


def read_usual(data: bytes) -> Instance | None:
    """The instance in ``data`` (UTF-8 JSON), or None to leave it to the full reader."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    keys_written = data.count(_KEY)
    if b"\\" in data or data.count(b":") != keys_written or _MONEY_AS_TEXT.search(data):
        return None
    try:
        document = _DECODER.decode(data)
    except (msgspec.MsgspecError, ValueError, RecursionError):
        # Invalid JSON, UTF-8 or values (UnicodeDecodeError is a ValueError): the full reader
        # names the problems.
        return None
    if document.format != INSTANCE_FORMAT:
        return None

    check = _Checker()
    # Keys decoded (other than those named "utility"), to hold against the text's count.
    keys = 3
    round_id = pot = None
    policy = Policy()
    for name, raw in (("round", document.round), ("policy", document.policy)):
        if raw is UNSET:
            continue
        section = bytes(raw)
        keys += 1 + _plain_keys(section)
        try:
            parsed = _parse(section)
        except InvalidInstance:
            return None
        if name == "round":
            round_id, pot = _read_round(check, parsed)
        else:
            policy, _ = _read_policy(check, parsed)
    if check.problems:
        return None

    offers = _offers(check, document.offers)
    if offers is None:
        return None
    keys += 3 * len(offers) + sum(
        (o.provider is not None) + (o.category is not None) for o in offers
    )
    read = _persons(check, document.persons, policy)
    if read is None:
        return None
    persons, person_keys = read
    keys += person_keys

    utilities = data.count(_UTILITY_KEY)
    if keys_written - utilities != keys:
        return None
    if utilities and _UTILITY_TWICE.search(data):
        return None

    columns = _pair_columns(persons, {offer.id: i for i, offer in enumerate(offers)})
    if columns is None:
        return None
    instance = Instance(
        persons=tuple(persons), offers=tuple(offers), policy=policy, round_id=round_id, pot=pot
    )
    object.__setattr__(instance, "pair_columns", columns)
    return instance


def _plain_keys(section: bytes) -> int:
    """The keys in a section of the text, other than those named ``utility``."""
    return section.count(_KEY) - section.count(_UTILITY_KEY)


def _pence(check: _Checker, amount: int | Decimal) -> int | None:
    if type(amount) is int and 0 <= amount <= _MAX_MONEY_UNITS:
        return amount * 100
    return check.money(amount, "")


def _offers(check: _Checker, decoded: list[_Offer]) -> list[Offer] | None:
    offers = []
    for raw in decoded:
        price = _pence(check, raw.price)
        if price is None:
            return None
        offers.append(
            Offer(
                id=raw.id,
                capacity=raw.capacity,
                price=price,
                provider=None if raw.provider is UNSET else raw.provider,
                category=None if raw.category is UNSET else raw.category,
            )
        )
    if len({offer.id for offer in offers}) != len(offers):
        return None
    return offers


def _persons(
    check: _Checker, decoded: list[_Person], policy: Policy
) -> tuple[list[Person], int] | None:
    """The persons, with the number of keys they were written with; None if any is invalid."""
    stable = policy.mechanism == "stable"
    seed = policy.seed
    persons = []
    keys = 0
    for raw in decoded:
        person_id = raw.id
        budget = _pence(check, raw.budget)
        if budget is None:
            return None
        keys += 2
        need = raw.need
        if need is UNSET:
            need = 0
        else:
            keys += 1
        lottery = raw.lottery
        if lottery is UNSET:
            lottery = derived_lottery(seed, person_id)
            lottery_given = False
        elif 0.0 <= lottery < 1.0:
            lottery_given = True
            keys += 1
        else:
            return None
        max_placements = raw.max_placements
        if max_placements is UNSET:
            max_placements = 1
        elif stable and max_placements != 1:
            return None
        else:
            keys += 1
        attributes = raw.attributes
        if attributes is UNSET:
            attributes = {}
        else:
            keys += 1 + len(attributes) - ("utility" in attributes)
        preferences: tuple[Preference, ...] = ()
        if raw.preferences is not UNSET:
            keys += 1 + 2 * len(raw.preferences)
            preferences = tuple(raw.preferences)
        persons.append(
            new_person(
                person_id,
                budget,
                need,
                lottery,
                max_placements,
                attributes,
                preferences,
                lottery_given,
            )
        )
    if len({person.id for person in persons}) != len(persons):
        return None
    return persons, keys


def _pair_columns(persons: list[Person], offer_index: dict[str, int]) -> PairColumns | None:
    """The pairs as arrays; None if a person lists an unknown offer, or an offer or a rank twice."""
    n_persons = len(persons)
    start = np.zeros(n_persons + 1, dtype=np.int64)
    np.cumsum(
        np.fromiter((len(p.preferences) for p in persons), dtype=np.int64, count=n_persons),
        out=start[1:],
    )
    n_pairs = int(start[-1])
    flat = list(chain.from_iterable(p.preferences for p in persons))
    offer = np.fromiter(
        map(offer_index.get, map(_offer_of, flat), repeat(-1)), dtype=np.int64, count=n_pairs
    )
    if n_pairs and offer.min() < 0:
        return None
    rank = np.fromiter(map(_rank_of, flat), dtype=np.int64, count=n_pairs)
    utility = np.fromiter(map(_utility_of, flat), dtype=np.int64, count=n_pairs)
    person = np.repeat(np.arange(n_persons, dtype=np.int64), np.diff(start))
    if _repeats(person * max(len(offer_index), 1) + offer):
        return None
    # Ranks 1, 2, 3, ... in list order are distinct; otherwise look for a repeat.
    position = np.arange(n_pairs, dtype=np.int64) - start[person]
    if not np.array_equal(rank, position + 1) and _repeats(person * (MAX_INTEGER + 1) + rank):
        return None
    return PairColumns(start=start, offer=offer, rank=rank, utility=utility)


def _repeats(keys: np.ndarray) -> bool:
    ordered = np.sort(keys)
    return bool((ordered[1:] == ordered[:-1]).any())
