"""Reading and validating an allocation result (``tapestry.allocation/1``).

:func:`read_result` parses JSON text into a :class:`~engine.instance.Result`, with the rules the
instance reader (:mod:`engine.reader`) applies: a member the format does not name is an error, so
is a key given twice in one object; integers take an integral value (``3`` or ``3.0``), money is
judged by its exact written value and held in pence. Every problem is collected, each naming its
JSON path (``assignments[3].price``), and raised together as one :class:`InvalidResult`.

This reader checks the document alone. Whether the result fits an instance (its assignments on
the persons' lists, capacities kept, the objective the sum of the utilities, ...) is
:func:`engine.explain_check.result_problems`.

A valid document in the usual shape (no backslash in the text, no space before a colon) is
decoded by msgspec in C; a key given twice is then caught by counting keys in the text (each key
is exactly one ``":`` when no string holds a quote or a colon), as :mod:`engine.reader_fast` does.
Anything else is read by the full reader, which names every problem.

Required members: ``format``, ``status``, ``mechanism``, ``objective``, ``bound``,
``assignments``, ``unassigned`` and ``metrics`` (every member of it). ``violations`` and
``diagnosis`` default to empty lists, ``solve_seconds`` to 0.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from engine.instance import (
    MAX_INTEGER,
    RESULT_FORMAT,
    Assignment,
    DiagnosisEntry,
    InvalidInstance,
    Metrics,
    Problem,
    Result,
    Violation,
)
from engine.reader import _MISSING, _Checker, _describe, _member_path, _parse, _quote

__all__ = ["InvalidResult", "read_result"]

_STATUSES = ("optimal", "feasible", "stable", "infeasible", "no_solution")
_MECHANISMS = ("welfare", "stable")
_ROOT_MEMBERS = (
    "format",
    "status",
    "mechanism",
    "objective",
    "bound",
    "assignments",
    "unassigned",
    "metrics",
    "violations",
    "diagnosis",
    "solve_seconds",
)
_REQUIRED = _ROOT_MEMBERS[:8]
_ASSIGNMENT_MEMBERS = ("person", "offer", "rank", "utility", "price")
_METRICS_MEMBERS = ("persons", "placed", "placements", "spend", "rank_histogram", "coverage")
_VIOLATION_MEMBERS = ("rule", "message")
_DIAGNOSIS_MEMBERS = ("rule", "group", "best", "message")
#: The objective is a sum of utilities: it may exceed 2^31 - 1 (not 2^63 - 1, a sum of 2^31
#: utilities of at most 2^31 - 1 each).
_MAX_OBJECTIVE = 2**62


class InvalidResult(ValueError):
    """A result breaks the format. Carries every problem found, each naming its place."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def read_result(data: bytes | str) -> Result:
    """Parse and validate a result from JSON text (UTF-8 bytes or a string).

    Raises :class:`InvalidResult` carrying every problem found.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        fast = _read_usual(bytes(data))
        if fast is not None:
            return fast
    try:
        document = _parse(data)
    except InvalidInstance as error:
        raise InvalidResult(error.problems) from None
    return result_from_dict(document)


# ---------------------------------------------------------------------------------------------
# The full reader


def result_from_dict(document: Any) -> Result:
    """Validate a parsed result document and build the :class:`Result`.

    ``document`` comes from :func:`engine.reader._parse` (objects as key-value pairs, so a key
    given twice is seen) or is built in Python. Raises :class:`InvalidResult`.
    """
    check = _Checker()
    root = check.object(document, "", _ROOT_MEMBERS, "a JSON object")
    if root is None:
        raise InvalidResult(check.problems)
    for key in _REQUIRED:
        if key not in root:
            check.add(key, "is required")

    fmt = root.get("format", _MISSING)
    if fmt is not _MISSING and fmt != RESULT_FORMAT:
        check.add("format", f'must be "{RESULT_FORMAT}", not {_describe(fmt)}')
    status = _choice(check, root.get("status", _MISSING), "status", _STATUSES)
    mechanism = _choice(check, root.get("mechanism", _MISSING), "mechanism", _MECHANISMS)
    objective = _optional_integer(check, root.get("objective", _MISSING), "objective")
    bound = _optional_integer(check, root.get("bound", _MISSING), "bound")
    assignments = _assignments(check, root.get("assignments", _MISSING))
    unassigned = _strings(check, root.get("unassigned", _MISSING), "unassigned")
    metrics = _metrics(check, root.get("metrics", _MISSING))
    violations = _violations(check, root.get("violations", _MISSING))
    diagnosis = _diagnosis(check, root.get("diagnosis", _MISSING))
    seconds = 0.0
    raw_seconds = root.get("solve_seconds", _MISSING)
    if raw_seconds is not _MISSING and check.not_null(raw_seconds, "solve_seconds"):
        number = check.number(raw_seconds, "solve_seconds")
        if number is not None and number < 0:
            check.add("solve_seconds", f"must be 0 or more, not {_describe(raw_seconds)}")
        elif number is not None:
            seconds = number

    if check.problems:
        raise InvalidResult(check.problems)
    assert status is not None and mechanism is not None and metrics is not None
    return Result(
        status=status,  # type: ignore[arg-type]
        mechanism=mechanism,  # type: ignore[arg-type]
        objective=objective,
        bound=bound,
        assignments=tuple(assignments),
        unassigned=tuple(unassigned),
        metrics=metrics,
        violations=tuple(violations),
        diagnosis=tuple(diagnosis),
        solve_seconds=seconds,
    )


def _choice(check: _Checker, value: Any, path: str, allowed: tuple[str, ...]) -> str | None:
    if value is _MISSING or not check.not_null(value, path):
        return None
    text = check.string(value, path)
    if text is None:
        return None
    if text not in allowed:
        names = ", ".join(f'"{a}"' for a in allowed)
        check.add(path, f"must be one of {names}, not {_quote(text)}")
        return None
    return text


def _optional_integer(check: _Checker, value: Any, path: str) -> int | None:
    if value is _MISSING or value is None:
        return None
    return check.integer(value, path, 0, _MAX_OBJECTIVE)


def _items(check: _Checker, value: Any, path: str) -> list[Any]:
    if value is _MISSING or not check.not_null(value, path):
        return []
    return check.list(value, path) or []


def _assignments(check: _Checker, value: Any) -> list[Assignment]:
    out: list[Assignment] = []
    for index, item in enumerate(_items(check, value, "assignments")):
        path = f"assignments[{index}]"
        obj = check.object(item, path, _ASSIGNMENT_MEMBERS, "an object")
        if obj is None:
            continue
        fields: dict[str, Any] = {}
        for key in _ASSIGNMENT_MEMBERS:
            where = f"{path}.{key}"
            raw = obj.get(key, _MISSING)
            if raw is _MISSING:
                check.add(where, "is required")
                fields[key] = None
            elif not check.not_null(raw, where):
                fields[key] = None
            elif key in ("person", "offer"):
                fields[key] = check.string(raw, where, non_empty=True)
            elif key == "rank":
                fields[key] = check.integer(raw, where, 1, MAX_INTEGER)
            elif key == "utility":
                fields[key] = check.integer(raw, where, 0, MAX_INTEGER)
            else:
                fields[key] = check.money(raw, where)
        if all(v is not None for v in fields.values()):
            out.append(Assignment(**fields))
    return out


def _strings(check: _Checker, value: Any, path: str) -> list[str]:
    out = []
    for index, item in enumerate(_items(check, value, path)):
        where = f"{path}[{index}]"
        if check.not_null(item, where):
            text = check.string(item, where, non_empty=True)
            if text is not None:
                out.append(text)
    return out


def _metrics(check: _Checker, value: Any) -> Metrics | None:
    if value is _MISSING or not check.not_null(value, "metrics"):
        return None
    obj = check.object(value, "metrics", _METRICS_MEMBERS, "an object")
    if obj is None:
        return None
    counts: dict[str, int | None] = {}
    for key in ("persons", "placed", "placements"):
        raw = obj.get(key, _MISSING)
        where = f"metrics.{key}"
        if raw is _MISSING:
            check.add(where, "is required")
            counts[key] = None
        elif check.not_null(raw, where):
            counts[key] = check.integer(raw, where, 0, _MAX_OBJECTIVE)
        else:
            counts[key] = None
    spend = None
    raw = obj.get("spend", _MISSING)
    if raw is _MISSING:
        check.add("metrics.spend", "is required")
    elif check.not_null(raw, "metrics.spend"):
        # A total of many places: money by value, not capped at one amount's maximum.
        spend = _total_money(check, raw, "metrics.spend")

    histogram: dict[int, int] = {}
    raw = obj.get("rank_histogram", _MISSING)
    if raw is _MISSING:
        check.add("metrics.rank_histogram", "is required")
    elif check.not_null(raw, "metrics.rank_histogram"):
        table = check.object(raw, "metrics.rank_histogram", None, "an object")
        for key, count in (table or {}).items():
            where = _member_path("metrics.rank_histogram", str(key))
            rank = _rank_key(key)
            if rank is None:
                check.add(where, "must be keyed by a rank (a whole number 1 or more, as text)")
            elif check.not_null(count, where):
                number = check.integer(count, where, 0, _MAX_OBJECTIVE)
                if number is not None:
                    histogram[rank] = number

    coverage: dict[str, dict[str, float]] = {}
    raw = obj.get("coverage", _MISSING)
    if raw is _MISSING:
        check.add("metrics.coverage", "is required")
    elif check.not_null(raw, "metrics.coverage"):
        table = check.object(raw, "metrics.coverage", None, "an object")
        for attribute, groups in (table or {}).items():
            where = _member_path("metrics.coverage", str(attribute))
            if not check.not_null(groups, where):
                continue
            shares = check.object(groups, where, None, "an object of shares")
            if shares is None:
                continue
            coverage[attribute] = {}
            for label, share in shares.items():
                at = _member_path(where, str(label))
                if check.not_null(share, at):
                    value = check.share(share, at)
                    if value is not None:
                        coverage[attribute][label] = value

    if spend is None or any(v is None for v in counts.values()):
        return None
    return Metrics(
        persons=counts["persons"],  # type: ignore[arg-type]
        placed=counts["placed"],  # type: ignore[arg-type]
        placements=counts["placements"],  # type: ignore[arg-type]
        spend=spend,
        rank_histogram=dict(sorted(histogram.items())),
        coverage=coverage,
    )


def _rank_key(key: Any) -> int | None:
    if not isinstance(key, str) or not key.isdigit() or not key.isascii() or key.startswith("0"):
        return None
    rank = int(key)
    return rank if 1 <= rank <= MAX_INTEGER else None


def _total_money(check: _Checker, value: Any, path: str) -> int | None:
    """Money without the upper limit of one amount (a total), still to the penny."""
    if type(value) is int and value >= 0:
        return value * 100
    if type(value) is Decimal and value.is_finite() and value >= 0:
        pence = value * 100
        if pence == pence.to_integral_value():
            return int(pence)
        check.add(
            path, f"must have at most two decimal places (pounds and pence), not {_describe(value)}"
        )
        return None
    return check.money(value, path)


def _violations(check: _Checker, value: Any) -> list[Violation]:
    out = []
    for index, item in enumerate(_items(check, value, "violations")):
        path = f"violations[{index}]"
        obj = check.object(item, path, _VIOLATION_MEMBERS, "an object")
        if obj is None:
            continue
        rule: int | Literal["pot"] | None = None
        raw = obj.get("rule", _MISSING)
        if raw is _MISSING:
            check.add(f"{path}.rule", "is required")
        elif raw == "pot" and type(raw) is str:
            rule = "pot"
        elif check.not_null(raw, f"{path}.rule"):
            rule = check.integer(raw, f"{path}.rule", 0, MAX_INTEGER)
        message = _message(check, obj, path)
        if rule is not None and message is not None:
            out.append(Violation(rule=rule, message=message))
    return out


def _diagnosis(check: _Checker, value: Any) -> list[DiagnosisEntry]:
    out = []
    for index, item in enumerate(_items(check, value, "diagnosis")):
        path = f"diagnosis[{index}]"
        obj = check.object(item, path, _DIAGNOSIS_MEMBERS, "an object")
        if obj is None:
            continue
        ok = True
        for key in ("rule", "group", "best"):
            if key not in obj:
                check.add(f"{path}.{key}", "is required")
                ok = False
        rule: int | None = None
        group: str | None = None
        best: float | None = None
        if obj.get("rule") is not None:
            rule = check.integer(obj["rule"], f"{path}.rule", 0, MAX_INTEGER)
            ok = ok and rule is not None
        if obj.get("group") is not None:
            group = check.string(obj["group"], f"{path}.group")
            ok = ok and group is not None
        if obj.get("best") is not None:
            best = check.share(obj["best"], f"{path}.best")
            ok = ok and best is not None
        message = _message(check, obj, path)
        if ok and message is not None:
            out.append(DiagnosisEntry(rule=rule, group=group, best=best, message=message))
    return out


def _message(check: _Checker, obj: dict[str, Any], path: str) -> str | None:
    raw = obj.get("message", _MISSING)
    if raw is _MISSING:
        check.add(f"{path}.message", "is required")
        return None
    if not check.not_null(raw, f"{path}.message"):
        return None
    return check.string(raw, f"{path}.message")


# ---------------------------------------------------------------------------------------------
# The fast lane: msgspec, for a valid document in the usual shape


_Id = Annotated[str, Meta(min_length=1)]
_Count = Annotated[int, Meta(ge=0, le=_MAX_OBJECTIVE)]
_Share = Annotated[float, Meta(ge=0.0, le=1.0)]


class _FastAssignment(Struct, forbid_unknown_fields=True, gc=False):
    person: _Id
    offer: _Id
    rank: Annotated[int, Meta(ge=1, le=MAX_INTEGER)]
    utility: Annotated[int, Meta(ge=0, le=MAX_INTEGER)]
    price: int | Decimal


class _FastMetrics(Struct, forbid_unknown_fields=True, gc=False):
    persons: _Count
    placed: _Count
    placements: _Count
    spend: int | Decimal
    rank_histogram: dict[str, _Count]
    coverage: dict[str, dict[str, _Share]]


class _FastViolation(Struct, forbid_unknown_fields=True, gc=False):
    rule: Annotated[int, Meta(ge=0, le=MAX_INTEGER)] | Literal["pot"]
    message: str


class _FastDiagnosis(Struct, forbid_unknown_fields=True, gc=False):
    rule: Annotated[int, Meta(ge=0, le=MAX_INTEGER)] | None
    group: str | None
    best: _Share | None
    message: str


class _FastResult(Struct, forbid_unknown_fields=True, gc=False):
    format: str
    status: Literal["optimal", "feasible", "stable", "infeasible", "no_solution"]
    mechanism: Literal["welfare", "stable"]
    objective: _Count | None
    bound: _Count | None
    assignments: list[_FastAssignment]
    unassigned: list[_Id]
    metrics: _FastMetrics
    violations: list[_FastViolation] | UnsetType = UNSET
    diagnosis: list[_FastDiagnosis] | UnsetType = UNSET
    solve_seconds: Annotated[float, Meta(ge=0.0)] | UnsetType = UNSET


_DECODER = msgspec.json.Decoder(_FastResult)
_BOM = b"\xef\xbb\xbf"
_KEY = b'":'
#: Money written as text ("price": "10.00"): msgspec would read it as a Decimal, but money is a
#: number, so the full reader refuses it by name. Strings here hold no quote or colon.
_MONEY_AS_TEXT = re.compile(rb'"(?:price|spend)":\s*"')


def _read_usual(data: bytes) -> Result | None:
    """The result in ``data``, or None to leave it to the full reader (which names problems)."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    keys_written = data.count(_KEY)
    if b"\\" in data or data.count(b":") != keys_written or _MONEY_AS_TEXT.search(data):
        return None
    try:
        doc = _DECODER.decode(data)
    except (msgspec.MsgspecError, ValueError, RecursionError):
        return None
    if doc.format != RESULT_FORMAT:
        return None
    metrics = doc.metrics
    violations = [] if doc.violations is UNSET else doc.violations
    diagnosis = [] if doc.diagnosis is UNSET else doc.diagnosis
    keys = (
        8
        + (doc.violations is not UNSET)
        + (doc.diagnosis is not UNSET)
        + (doc.solve_seconds is not UNSET)
        + 5 * len(doc.assignments)
        + 6
        + len(metrics.rank_histogram)
        + len(metrics.coverage)
        + sum(len(groups) for groups in metrics.coverage.values())
        + 2 * len(violations)
        + 4 * len(diagnosis)
    )
    if keys != keys_written:
        return None

    check = _Checker()
    assignments: list[Assignment] = []
    append = assignments.append
    # Prices repeat (one per offer): each written value is judged once.
    pence_of: dict[int | Decimal, int | None] = {}
    for a in doc.assignments:
        price = a.price
        pence = pence_of.get(price, -1)
        if pence == -1:
            pence = pence_of[price] = check.money(price, "")
        if pence is None:
            return None
        append(Assignment(a.person, a.offer, a.rank, a.utility, pence))
    spend = _total_money(check, metrics.spend, "")
    histogram = {}
    for key, count in metrics.rank_histogram.items():
        rank = _rank_key(key)
        if rank is None:
            return None
        histogram[rank] = count
    if spend is None or check.problems:
        return None
    return Result(
        status=doc.status,
        mechanism=doc.mechanism,
        objective=doc.objective,
        bound=doc.bound,
        assignments=tuple(assignments),
        unassigned=tuple(doc.unassigned),
        metrics=Metrics(
            persons=metrics.persons,
            placed=metrics.placed,
            placements=metrics.placements,
            spend=spend,
            rank_histogram=dict(sorted(histogram.items())),
            coverage=metrics.coverage,
        ),
        violations=tuple(Violation(v.rule, v.message) for v in violations),
        diagnosis=tuple(DiagnosisEntry(d.rule, d.group, d.best, d.message) for d in diagnosis),
        solve_seconds=0.0 if doc.solve_seconds is UNSET else doc.solve_seconds,
    )
