"""Reading and validating an allocation instance (``shared/spec/allocation-format.md``).

:func:`read_instance` parses JSON text, :func:`instance_from_dict` checks an already parsed
document. Both report every problem at once, as one :class:`~engine.instance.InvalidInstance`
whose problems each name their JSON path (``persons[3].preferences[0].offer``).

How it stays fast on 200,000 persons:

* a valid document in the usual shape is decoded by msgspec, in C, straight into the engine's
  preferences (see :mod:`engine.reader_fast`); anything else is read as below;
* the standard library's C JSON scanner does the parsing. Objects come back as lists of
  key-value pairs (``object_pairs_hook``), so a key given twice is still visible; numbers with a
  fraction or an exponent come back as :class:`~decimal.Decimal`, so money is judged by its exact
  written value; ``NaN`` and ``Infinity`` come back as a marker that the checks report;
* the checks are one pass of plain loops with a fast path for the common, valid case; the
  careful (slower) checks that build messages run only on values that fail the fast test;
* the garbage collector is paused while the millions of small objects are built.

Deeply nested junk cannot crash the reader: the C scanner stops with ``RecursionError`` at the
interpreter's recursion limit, which is turned into a problem, and the checks below never recurse
into values whose shape the format does not allow.
"""

from __future__ import annotations

import dataclasses
import difflib
import gc
import json
import math
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.instance import (
    DEFAULT_UTILITIES,
    INSTANCE_FORMAT,
    MAX_INTEGER,
    Instance,
    InvalidInstance,
    Offer,
    Person,
    Policy,
    Preference,
    Problem,
    Rule,
    default_utility,
    derived_lottery,
)

__all__ = ["MAX_INTEGER", "MAX_MONEY_PENCE", "instance_from_dict", "read_instance"]

#: The smallest seed (seeds may be negative; they are 32-bit like every other integer).
MIN_SEED = -(2**31)
#: Money is at most 1,000,000,000.00 (in pence).
MAX_MONEY_PENCE = 100_000_000_000
MAX_NEED = 10

_MAX_MONEY = Decimal("1000000000.00")
_CENT = Decimal("0.01")
_MISSING: Any = object()

_ROOT_MEMBERS = ("format", "round", "persons", "offers", "policy")
_ROUND_MEMBERS = ("id", "pot")
_PERSON_MEMBERS = (
    "id",
    "budget",
    "need",
    "lottery",
    "max_placements",
    "attributes",
    "preferences",
)
_PREFERENCE_MEMBERS = ("offer", "rank", "utility")
_OFFER_MEMBERS = ("id", "capacity", "price", "provider", "category")
_POLICY_MEMBERS = ("mechanism", "rules", "time_limit_s", "seed")
_RULE_MEMBERS = {
    "coverage_floor": ("type", "attribute", "min_share", "values"),
    "coverage_gap": ("type", "attribute", "max_gap"),
    "maximize_min_coverage": ("type", "attribute"),
}
_MECHANISMS = ("welfare", "stable")

_N_DEFAULT_UTILITIES = len(DEFAULT_UTILITIES)

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object as the scanner saw it: its (key, value) pairs, duplicates included."""

    __slots__ = ()


class _Constant:
    """``NaN``, ``Infinity`` or ``-Infinity`` in the JSON text (reported where it was used)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


# ---------------------------------------------------------------------------------------------
# Parsing


def read_instance(data: bytes | str) -> Instance:
    """Parse and validate an instance from JSON text (UTF-8 bytes or a string).

    Raises :class:`~engine.instance.InvalidInstance` carrying every problem found.
    """
    with _collector_paused():
        if isinstance(data, bytes | bytearray | memoryview):
            # Imported here: the fast lane is built on this module's checks.
            from engine.reader_fast import read_usual

            instance = read_usual(bytes(data))
            if instance is not None:
                return instance
        document = _parse(data)
        return instance_from_dict(document)


_pause_lock = threading.Lock()
_pause_depth = 0
_collector_was_enabled = False


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (process-wide) while millions of objects are built.

    Counted, so that readers running at once in several threads restore it only when the last
    one ends, and only if it was on before the first began.
    """
    global _pause_depth, _collector_was_enabled
    with _pause_lock:
        if _pause_depth == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _pause_depth += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pause_depth -= 1
            if _pause_depth == 0 and _collector_was_enabled:
                gc.enable()


def _parse(data: bytes | str) -> Any:
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            text = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InvalidInstance(
                [Problem("", f"the file is not UTF-8 text (bad byte at offset {error.start})")]
            ) from None
    elif isinstance(data, str):
        text = data[1:] if data.startswith("\ufeff") else data
    else:
        raise TypeError(f"read_instance needs bytes or str, not {type(data).__name__}")
    if not text.strip():
        raise InvalidInstance([Problem("", "the file is empty")])
    try:
        return json.loads(
            text,
            object_pairs_hook=_Pairs,
            parse_float=Decimal,
            parse_constant=_Constant,
        )
    except json.JSONDecodeError as error:
        message = f"not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        raise InvalidInstance([Problem("", message)]) from None
    except RecursionError:
        raise InvalidInstance([Problem("", _nesting_message(text))]) from None
    except ValueError:
        # The scanner refuses integers with thousands of digits (sys.int_max_str_digits). Parse
        # again, rarely, keeping such integers as exact decimals so that they are reported where
        # they stand.
        return json.loads(
            text,
            object_pairs_hook=_Pairs,
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=_Constant,
        )


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def _nesting_message(text: str) -> str:
    """Say where the JSON nests too deeply (only called once parsing has failed on it)."""
    depth = 0
    limit = 200
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                line = text.count("\n", 0, match.start()) + 1
                column = match.start() - text.rfind("\n", 0, match.start())
                return (
                    f"the JSON is nested too deeply (more than {limit} levels) "
                    f"at line {line}, column {column}"
                )
        elif token in "]}":
            depth -= 1
    return "the JSON is nested too deeply"


# ---------------------------------------------------------------------------------------------
# Describing values and places in messages


def _quote(text: str, limit: int = 60) -> str:
    if len(text) > limit:
        text = text[:limit] + "..."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(text)
    return json.dumps(text, ensure_ascii=False)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return f"the text {_quote(value)}"
    if isinstance(value, _Constant):
        return value.name
    if isinstance(value, int | Decimal | float):
        shown = str(value)
        return shown if len(shown) <= 40 else shown[:40] + "..."
    if isinstance(value, _Pairs | Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _member_path(path: str, key: str) -> str:
    if _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{_quote(key, 200)}]"


def _is_text(value: str) -> bool:
    """True when ``value`` can be written out again as UTF-8 (no lone surrogates)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Checking


class _Checker:
    """Collects problems while converting a parsed document into dataclasses."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    # -- shapes ---------------------------------------------------------------------------------

    def object(
        self, value: Any, path: str, members: tuple[str, ...] | None, what: str
    ) -> dict[str, Any] | None:
        """``value`` as a dict, or None (reported) when it is not an object.

        Keys given twice are reported; so are keys not in ``members`` (unless it is None).
        """
        if type(value) is _Pairs:
            result = dict(value)
            if len(result) != len(value):
                self._duplicate_keys(value, path)
        elif isinstance(value, Mapping):
            result = dict(value)
        else:
            self.add(path, f"must be {what}, not {_describe(value)}")
            return None
        if members is not None:
            self.unknown_members(result, path, members)
        return result

    def _duplicate_keys(self, pairs: list[tuple[str, Any]], path: str) -> None:
        seen: set[str] = set()
        reported: set[str] = set()
        for key, _ in pairs:
            if key in seen and key not in reported:
                reported.add(key)
                self.add(_member_path(path, key), "is given more than once in the same object")
            seen.add(key)

    def unknown_members(self, obj: dict[str, Any], path: str, members: tuple[str, ...]) -> None:
        for key in obj:
            if key not in members:
                name = str(key)
                hint = difflib.get_close_matches(name, members, n=1)
                suggestion = f' (did you mean "{hint[0]}"?)' if hint else ""
                self.add(_member_path(path, name), f"is not part of the format{suggestion}")

    def list(self, value: Any, path: str) -> list[Any] | None:
        if type(value) is list:
            return value
        if isinstance(value, list | tuple) and type(value) is not _Pairs:
            return list(value)
        self.add(path, f"must be a list, not {_describe(value)}")
        return None

    # -- scalars --------------------------------------------------------------------------------

    def string(self, value: Any, path: str, *, non_empty: bool = False) -> str | None:
        if type(value) is not str:
            if isinstance(value, str):
                value = str(value)
            else:
                self.add(path, f"must be a text string, not {_describe(value)}")
                return None
        if non_empty and not value:
            self.add(path, "must not be empty")
            return None
        if not _is_text(value):
            self.add(path, "contains an unpaired surrogate escape (not valid Unicode)")
            return None
        return value  # type: ignore[no-any-return]

    def integer(self, value: Any, path: str, low: int, high: int) -> int | None:
        """An integer field: a JSON number with an integral value in [low, high]."""
        kind = type(value)
        number: int | Decimal | float
        if kind is int:
            number = value
        elif kind is Decimal:
            if not value.is_finite() or value != value.to_integral_value():
                self.add(path, f"must be a whole number, not {_describe(value)}")
                return None
            number = value
        elif kind is float:
            if not value.is_integer():
                self.add(path, f"must be a whole number, not {_describe(value)}")
                return None
            number = value
        elif isinstance(value, int) and not isinstance(value, bool):
            number = int(value)
        else:
            self.add(path, f"must be a whole number, not {_describe(value)}")
            return None
        if number < low:
            self.add(path, f"must be at least {low}, not {_describe(value)}")
            return None
        if number > high:
            self.add(path, f"must be at most {high}, not {_describe(value)}")
            return None
        return int(number)

    def number(self, value: Any, path: str) -> float | None:
        """A real number field, as the IEEE double it denotes."""
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            if isinstance(value, Decimal | float) and value != value:
                self.add(path, f"must be a number, not {_describe(value)}")
                return None
            result = float(value)
            if not math.isfinite(result):
                self.add(path, f"is too large, not {_describe(value)}")
                return None
            return result
        self.add(path, f"must be a number, not {_describe(value)}")
        return None

    def money(self, value: Any, path: str) -> int | None:
        """A money field, in pence: at most two decimals by exact value, 0..1,000,000,000.00."""
        kind = type(value)
        if kind is int:
            if 0 <= value <= 1_000_000_000:
                return value * 100  # type: ignore[no-any-return]
            amount = Decimal(value)
        elif kind is Decimal:
            amount = value
        elif kind is float:
            # A float from a Python caller stands for its shortest decimal form.
            amount = Decimal(repr(value)) if math.isfinite(value) else Decimal("NaN")
        elif isinstance(value, int) and not isinstance(value, bool):
            amount = Decimal(int(value))
        else:
            self.add(path, f"must be an amount of money (a number), not {_describe(value)}")
            return None
        if not amount.is_finite():
            self.add(path, f"must be an amount of money (a number), not {_describe(value)}")
            return None
        if amount < 0:
            self.add(path, f"must be 0 or more, not {_describe(value)}")
            return None
        if amount > _MAX_MONEY:
            self.add(path, f"must be at most 1000000000.00, not {_describe(value)}")
            return None
        try:
            rounded = amount.quantize(_CENT)
        except InvalidOperation:  # pragma: no cover - amount is bounded above, so this fits
            rounded = None
        if rounded is None or rounded != amount:
            self.add(
                path,
                f"must have at most two decimal places (pounds and pence), not {_describe(value)}",
            )
            return None
        return int(rounded * 100)

    def share(self, value: Any, path: str) -> float | None:
        number = self.number(value, path)
        if number is None:
            return None
        exact = value if type(value) is Decimal else number
        if not (0.0 <= number <= 1.0 and 0 <= exact <= 1):
            self.add(path, f"must be between 0 and 1, not {_describe(value)}")
            return None
        return number

    def not_null(self, value: Any, path: str) -> bool:
        if value is None:
            self.add(path, "must not be null")
            return False
        return True


# ---------------------------------------------------------------------------------------------
# The document


def instance_from_dict(document: Any) -> Instance:
    """Validate a parsed instance document and build the :class:`Instance`, defaults applied.

    ``document`` may come from :func:`json.loads` or be built in Python (floats are then taken
    at their shortest decimal form). Raises :class:`InvalidInstance` with every problem found.
    """
    check = _Checker()
    root = check.object(document, "", _ROOT_MEMBERS, "a JSON object")
    if root is None:
        raise InvalidInstance(check.problems)

    fmt = root.get("format", _MISSING)
    if fmt is _MISSING:
        check.add("format", f'is required: "{INSTANCE_FORMAT}"')
    elif fmt != INSTANCE_FORMAT:
        check.add("format", f'must be "{INSTANCE_FORMAT}", not {_describe(fmt)}')

    round_id, pot = _read_round(check, root.get("round", _MISSING))
    policy, stable_requested = _read_policy(check, root.get("policy", _MISSING))

    # Offers first, so that preferences can be checked against their ids; their problems are
    # reported after the persons' so the list follows the document's usual order.
    person_problems_at = len(check.problems)
    offers, offer_ids = _read_offers(check, root.get("offers", _MISSING))
    offer_problems = check.problems[person_problems_at:]
    del check.problems[person_problems_at:]
    persons = _read_persons(
        check, root.get("persons", _MISSING), offer_ids, policy.seed, stable_requested
    )
    check.problems.extend(offer_problems)

    if check.problems:
        raise InvalidInstance(check.problems)
    return Instance(
        persons=tuple(persons), offers=tuple(offers), policy=policy, round_id=round_id, pot=pot
    )


def _read_round(check: _Checker, value: Any) -> tuple[str | None, int | None]:
    if value is _MISSING:
        return None, None
    obj = check.object(value, "round", _ROUND_MEMBERS, "an object")
    if obj is None:
        return None, None
    round_id = None
    if "id" in obj and check.not_null(obj["id"], "round.id"):
        round_id = check.string(obj["id"], "round.id")
    pot = None
    if obj.get("pot") is not None:
        pot = check.money(obj["pot"], "round.pot")
    return round_id, pot


def _read_policy(check: _Checker, value: Any) -> tuple[Policy, bool]:
    """The policy, and whether the stable mechanism was asked for (for the persons' checks)."""
    if value is _MISSING:
        return Policy(), False
    obj = check.object(value, "policy", _POLICY_MEMBERS, "an object")
    if obj is None:
        return Policy(), False

    mechanism = "welfare"
    if "mechanism" in obj and check.not_null(obj["mechanism"], "policy.mechanism"):
        given = check.string(obj["mechanism"], "policy.mechanism")
        if given is not None and given not in _MECHANISMS:
            check.add("policy.mechanism", f'must be "welfare" or "stable", not {_quote(given)}')
        elif given is not None:
            mechanism = given

    time_limit = 60.0
    if "time_limit_s" in obj and check.not_null(obj["time_limit_s"], "policy.time_limit_s"):
        number = check.number(obj["time_limit_s"], "policy.time_limit_s")
        if number is not None and number <= 0:
            check.add(
                "policy.time_limit_s",
                f"must be more than 0 seconds, not {_describe(obj['time_limit_s'])}",
            )
        elif number is not None:
            time_limit = number

    seed = 0
    if "seed" in obj and check.not_null(obj["seed"], "policy.seed"):
        given_seed = check.integer(obj["seed"], "policy.seed", MIN_SEED, MAX_INTEGER)
        if given_seed is not None:
            seed = given_seed

    rules: list[Rule] = []
    if "rules" in obj and check.not_null(obj["rules"], "policy.rules"):
        items = check.list(obj["rules"], "policy.rules")
        maximin_at: int | None = None
        for index, item in enumerate(items or ()):
            path = f"policy.rules[{index}]"
            rule = _read_rule(check, item, path)
            if rule is None:
                continue
            if rule.type == "maximize_min_coverage":
                if maximin_at is not None:
                    check.add(
                        f"{path}.type",
                        "only one maximize_min_coverage rule is allowed "
                        f"(there is one at policy.rules[{maximin_at}])",
                    )
                    continue
                maximin_at = index
            rules.append(rule)

    policy = Policy(
        mechanism=mechanism,  # type: ignore[arg-type]
        rules=tuple(rules),
        time_limit_s=time_limit,
        seed=seed,
    )
    return policy, mechanism == "stable"


def _read_rule(check: _Checker, value: Any, path: str) -> Rule | None:
    obj = check.object(value, path, None, "an object")
    if obj is None:
        return None
    kind = obj.get("type", _MISSING)
    if kind is _MISSING:
        check.add(f"{path}.type", "is required")
        return None
    if type(kind) is not str or kind not in _RULE_MEMBERS:
        shown = _quote(kind) if isinstance(kind, str) else _describe(kind)
        check.add(
            f"{path}.type",
            f"unknown rule type {shown} "
            "(expected coverage_floor, coverage_gap or maximize_min_coverage)",
        )
        return None
    members = _RULE_MEMBERS[kind]
    ok = True
    for key in obj:
        if key not in members:
            known_elsewhere = any(key in other for other in _RULE_MEMBERS.values())
            message = (
                f"is not allowed on a {kind} rule"
                if known_elsewhere
                else "is not part of the format"
            )
            check.add(_member_path(path, key), message)
            ok = False

    attribute = None
    if "attribute" not in obj:
        check.add(f"{path}.attribute", "is required")
    elif check.not_null(obj["attribute"], f"{path}.attribute"):
        attribute = check.string(obj["attribute"], f"{path}.attribute")

    min_share = max_gap = None
    values: tuple[str, ...] | None = None
    if kind == "coverage_floor":
        if "min_share" not in obj:
            check.add(f"{path}.min_share", "is required")
        elif check.not_null(obj["min_share"], f"{path}.min_share"):
            min_share = check.share(obj["min_share"], f"{path}.min_share")
        ok = ok and min_share is not None
        if "values" in obj and check.not_null(obj["values"], f"{path}.values"):
            items = check.list(obj["values"], f"{path}.values")
            if items is None:
                ok = False
            else:
                listed = [check.string(v, f"{path}.values[{i}]") for i, v in enumerate(items)]
                if any(v is None for v in listed):
                    ok = False
                values = tuple(v for v in listed if v is not None)
    elif kind == "coverage_gap":
        if "max_gap" not in obj:
            check.add(f"{path}.max_gap", "is required")
        elif check.not_null(obj["max_gap"], f"{path}.max_gap"):
            max_gap = check.share(obj["max_gap"], f"{path}.max_gap")
        ok = ok and max_gap is not None

    if not ok or attribute is None:
        return None
    return Rule(
        type=kind,  # type: ignore[arg-type]
        attribute=attribute,
        min_share=min_share,
        max_gap=max_gap,
        values=values,
    )


def _read_offers(check: _Checker, value: Any) -> tuple[list[Offer], dict[str, int]]:
    offers: list[Offer] = []
    first_at: dict[str, int] = {}
    if value is _MISSING:
        check.add("offers", "is required (a list of offers)")
        return offers, first_at
    if not check.not_null(value, "offers"):
        return offers, first_at
    items = check.list(value, "offers")
    if items is None:
        return offers, first_at
    for index, item in enumerate(items):
        path = f"offers[{index}]"
        obj = check.object(item, path, _OFFER_MEMBERS, "an object")
        if obj is None:
            continue
        offer_id = _required_id(check, obj, path)
        if offer_id is not None:
            if offer_id in first_at:
                check.add(
                    f"{path}.id",
                    f"offer id {_quote(offer_id)} is used twice "
                    f"(also by offers[{first_at[offer_id]}])",
                )
            else:
                first_at[offer_id] = index
        capacity = price = None
        if "capacity" not in obj:
            check.add(f"{path}.capacity", "is required")
        elif check.not_null(obj["capacity"], f"{path}.capacity"):
            capacity = check.integer(obj["capacity"], f"{path}.capacity", 0, MAX_INTEGER)
        if "price" not in obj:
            check.add(f"{path}.price", "is required")
        elif check.not_null(obj["price"], f"{path}.price"):
            price = check.money(obj["price"], f"{path}.price")
        labels: dict[str, str | None] = {"provider": None, "category": None}
        for key in labels:
            if key in obj and check.not_null(obj[key], f"{path}.{key}"):
                labels[key] = check.string(obj[key], f"{path}.{key}")
        if offer_id is not None and capacity is not None and price is not None:
            offers.append(
                Offer(
                    id=offer_id,
                    capacity=capacity,
                    price=price,
                    provider=labels["provider"],
                    category=labels["category"],
                )
            )
    return offers, first_at


def _required_id(check: _Checker, obj: dict[str, Any], path: str) -> str | None:
    if "id" not in obj:
        check.add(f"{path}.id", "is required")
        return None
    if not check.not_null(obj["id"], f"{path}.id"):
        return None
    return check.string(obj["id"], f"{path}.id", non_empty=True)


def _read_persons(
    check: _Checker,
    value: Any,
    offer_ids: Mapping[str, int],
    seed: int,
    stable: bool,
) -> list[Person]:
    persons: list[Person] = []
    if value is _MISSING:
        check.add("persons", "is required (a list of persons)")
        return persons
    if not check.not_null(value, "persons"):
        return persons
    items = check.list(value, "persons")
    if items is None:
        return persons

    first_at: dict[str, int] = {}
    problems = check.problems
    for index, item in enumerate(items):
        path = f"persons[{index}]"
        problems_before = len(problems)
        if type(item) is _Pairs:
            obj = dict(item)
            if len(obj) != len(item):
                check._duplicate_keys(item, path)
        elif isinstance(item, Mapping):
            obj = dict(item)
        else:
            check.add(path, f"must be an object, not {_describe(item)}")
            continue
        if not obj.keys() <= _PERSON_MEMBER_SET:
            check.unknown_members(obj, path, _PERSON_MEMBERS)

        person_id = obj.get("id", _MISSING)
        if type(person_id) is not str or not person_id or not person_id.isascii():
            person_id = _required_id(check, obj, path)
        if person_id is not None:
            if person_id in first_at:
                check.add(
                    f"{path}.id",
                    f"person id {_quote(person_id)} is used twice "
                    f"(also by persons[{first_at[person_id]}])",
                )
            else:
                first_at[person_id] = index

        budget = obj.get("budget", _MISSING)
        if budget is _MISSING:
            check.add(f"{path}.budget", "is required")
        elif check.not_null(budget, f"{path}.budget"):
            budget = check.money(budget, f"{path}.budget")
        else:
            budget = None

        need = obj.get("need", 0)
        if type(need) is not int or not 0 <= need <= MAX_NEED:
            if check.not_null(need, f"{path}.need"):
                need = check.integer(need, f"{path}.need", 0, MAX_NEED)

        lottery = obj.get("lottery", _MISSING)
        lottery_given = lottery is not _MISSING
        if not lottery_given:
            lottery = None if person_id is None else derived_lottery(seed, person_id)
        elif type(lottery) is Decimal and 0 <= lottery < 1 and (lottery := float(lottery)) < 1.0:
            pass
        elif check.not_null(lottery, f"{path}.lottery"):
            number = check.number(lottery, f"{path}.lottery")
            if number is not None and not 0.0 <= number < 1.0:
                check.add(
                    f"{path}.lottery",
                    f"must be at least 0 and less than 1, not {_describe(obj['lottery'])}",
                )
            lottery = number

        max_placements = obj.get("max_placements", 1)
        if max_placements != 1 or type(max_placements) is not int:
            if check.not_null(max_placements, f"{path}.max_placements"):
                max_placements = check.integer(
                    max_placements, f"{path}.max_placements", 1, MAX_INTEGER
                )
                if stable and max_placements is not None and max_placements != 1:
                    check.add(
                        f"{path}.max_placements",
                        f"must be 1 for the stable mechanism, not {max_placements}",
                    )

        attributes: dict[str, str] = {}
        raw_attributes = obj.get("attributes", _MISSING)
        if raw_attributes is not _MISSING and check.not_null(raw_attributes, f"{path}.attributes"):
            attributes = _read_attributes(check, raw_attributes, f"{path}.attributes")

        preferences: list[Preference] = []
        raw_preferences = obj.get("preferences", _MISSING)
        if raw_preferences is not _MISSING:
            if type(raw_preferences) is not list:
                raw_preferences = (
                    check.list(raw_preferences, f"{path}.preferences")
                    if check.not_null(raw_preferences, f"{path}.preferences")
                    else None
                )
            preferences = _read_preferences(check, raw_preferences or (), path, offer_ids)

        if len(problems) == problems_before:
            # Person(...) with its slots filled directly; see _new_object below.
            persons.append(
                new_person(
                    person_id,
                    budget,
                    need,
                    lottery,
                    max_placements,
                    attributes,
                    tuple(preferences),
                    lottery_given,
                )
            )
    return persons


_PERSON_MEMBER_SET = frozenset(_PERSON_MEMBERS)


# Building a frozen dataclass through its __init__ costs a Python call and one
# object.__setattr__ call per field; 200,000 persons are built markedly faster by filling the
# slots directly. Every field is set, exactly as __init__ would.
_new_object = object.__new__
_set_id = Person.__dict__["id"].__set__
_set_budget = Person.__dict__["budget"].__set__
_set_need = Person.__dict__["need"].__set__
_set_lottery = Person.__dict__["lottery"].__set__
_set_max_placements = Person.__dict__["max_placements"].__set__
_set_attributes = Person.__dict__["attributes"].__set__
_set_preferences = Person.__dict__["preferences"].__set__
_set_lottery_given = Person.__dict__["lottery_given"].__set__


def new_person(
    person_id: Any,
    budget: Any,
    need: Any,
    lottery: Any,
    max_placements: Any,
    attributes: dict[str, str],
    preferences: tuple[Preference, ...],
    lottery_given: bool,
) -> Person:
    """``Person(...)`` with its slots filled directly (every field, as __init__ would)."""
    built = _new_object(Person)
    _set_id(built, person_id)
    _set_budget(built, budget)
    _set_need(built, need)
    _set_lottery(built, lottery)
    _set_max_placements(built, max_placements)
    _set_attributes(built, attributes)
    _set_preferences(built, preferences)
    _set_lottery_given(built, lottery_given)
    return built  # type: ignore[no-any-return]


if [f.name for f in dataclasses.fields(Person)] != [
    "id",
    "budget",
    "need",
    "lottery",
    "max_placements",
    "attributes",
    "preferences",
    "lottery_given",
] or Preference.__struct_fields__ != ("offer", "rank", "utility"):
    # A field added to Person or Preference must be filled in _read_persons/_read_preferences.
    raise ImportError("engine.reader builds Person and Preference field by field: update it")


def _read_preferences(
    check: _Checker, items: Any, path: str, offer_ids: Mapping[str, int]
) -> list[Preference]:
    """One person's preferences, defaults applied; an offer or a rank given twice is reported."""
    preferences: list[Preference] = []
    append = preferences.append
    offers_seen: set[str] = set()
    remember_offer = offers_seen.add
    # Ranks are usually 1, 2, 3, ... in list order, which makes them distinct without a set.
    ranks_in_order = True
    offer: Any
    rank: Any
    utility: Any
    for position, raw in enumerate(items):
        # Fast path: the usual {"offer": .., "rank": ..[, "utility": ..]} with valid values;
        # anything else takes the slow path below, which names each problem.
        if type(raw) is _Pairs:
            size = len(raw)
            if size == 2:
                (key1, offer), (key2, rank) = raw
                if (
                    key1 == "offer"
                    and key2 == "rank"
                    and type(offer) is str
                    and type(rank) is int
                    and 0 < rank < _N_DEFAULT_UTILITIES
                    and offer in offer_ids
                ):
                    append(Preference(offer, rank, DEFAULT_UTILITIES[rank]))
                    remember_offer(offer)
                    if rank != position + 1:
                        ranks_in_order = False
                    continue
            elif size == 3:
                (key1, offer), (key2, rank), (key3, utility) = raw
                if (
                    key1 == "offer"
                    and key2 == "rank"
                    and key3 == "utility"
                    and type(offer) is str
                    and type(rank) is int
                    and type(utility) is int
                    and 0 < rank <= MAX_INTEGER
                    and 0 <= utility <= MAX_INTEGER
                    and offer in offer_ids
                ):
                    append(Preference(offer, rank, utility))
                    remember_offer(offer)
                    if rank != position + 1:
                        ranks_in_order = False
                    continue
        where = f"{path}.preferences[{position}]"
        obj = check.object(raw, where, _PREFERENCE_MEMBERS, "an object")
        if obj is None:
            continue
        offer = obj.get("offer", _MISSING)
        if offer is _MISSING:
            check.add(f"{where}.offer", "is required")
            offer = None
        elif check.not_null(offer, f"{where}.offer"):
            offer = check.string(offer, f"{where}.offer")
            if offer is not None and offer not in offer_ids:
                check.add(f"{where}.offer", f"unknown offer {_quote(offer)}")
                offer = None
        else:
            offer = None
        rank = obj.get("rank", _MISSING)
        if rank is _MISSING:
            check.add(f"{where}.rank", "is required")
            rank = None
        elif check.not_null(rank, f"{where}.rank"):
            rank = check.integer(rank, f"{where}.rank", 1, MAX_INTEGER)
        else:
            rank = None
        utility = obj.get("utility", _MISSING)
        if utility is _MISSING:
            utility = None if rank is None else default_utility(rank)
        elif check.not_null(utility, f"{where}.utility"):
            utility = check.integer(utility, f"{where}.utility", 0, MAX_INTEGER)
        else:
            utility = None
        if offer is not None and rank is not None and utility is not None:
            remember_offer(offer)
            ranks_in_order = False
            append(Preference(offer, rank, utility))
    if len(offers_seen) != len(preferences) or (
        not ranks_in_order and len({pref.rank for pref in preferences}) != len(preferences)
    ):
        _report_repeats(check, items, path)
    return preferences


def _preference_offer(check: _Checker, offer: Any, path: str) -> str | None:
    if offer is _MISSING:
        check.add(f"{path}.offer", "is required")
        return None
    if not check.not_null(offer, f"{path}.offer"):
        return None
    return check.string(offer, f"{path}.offer")


def _report_repeats(check: _Checker, raw: list[Any], path: str) -> None:
    """Report each offer listed twice and each rank used twice in one person's preferences."""
    seen_offer: dict[str, int] = {}
    seen_rank: dict[Any, int] = {}
    for position, item in enumerate(raw):
        pref = dict(item) if type(item) is _Pairs or isinstance(item, Mapping) else {}
        offer, rank = pref.get("offer"), pref.get("rank")
        if isinstance(offer, str):
            if offer in seen_offer:
                check.add(
                    f"{path}.preferences[{position}].offer",
                    f"offer {_quote(offer)} is listed twice "
                    f"(also at preferences[{seen_offer[offer]}])",
                )
            else:
                seen_offer[offer] = position
        if isinstance(rank, int | Decimal) and not isinstance(rank, bool):
            if rank in seen_rank:
                check.add(
                    f"{path}.preferences[{position}].rank",
                    f"rank {rank} is used twice (also at preferences[{seen_rank[rank]}])",
                )
            else:
                seen_rank[rank] = position


def _read_attributes(check: _Checker, value: Any, path: str) -> dict[str, str]:
    if type(value) is _Pairs:
        # Fast path: ASCII text labels, each name once.
        for key, label in value:
            if type(label) is not str or not label.isascii() or not key.isascii():
                break
        else:
            attributes = dict(value)
            if len(attributes) == len(value):
                return attributes
    obj = check.object(value, path, None, "an object of text labels")
    if obj is None:
        return {}
    for key, label in obj.items():
        if type(label) is not str or not label.isascii() or not key.isascii():
            where = _member_path(path, str(key))
            if type(key) is not str:
                check.add(where, "the name of an attribute must be a text string")
            elif not _is_text(key):
                check.add(where, "the name contains an unpaired surrogate (not valid Unicode)")
            elif check.not_null(label, where):
                check.string(label, where)
    return obj
