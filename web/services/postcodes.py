"""UK postcodes: tidied as people type them, and placed by the national postcode table.

:func:`normal_postcode` gives capitals with one space ("EX1 1AA"), or refuses. The table
``postcodes`` holds the ONS Postcode Directory (ONSPD), loaded by :func:`import_onspd`
(``tapestry postcodes import FILE``): each postcode's latitude and longitude and, for one no
longer used, the month it ended. :func:`national_point` looks a postcode up in it; where the
table is empty or lacks the postcode, Tapestry falls back on the postcodes of the council's own
services (:func:`web.services.openreferral.postcode_point`).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from models.people import Postcode

#: A UK postcode (the outward code, then the inward code), spaces and case aside.
UK_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")
#: ONSPD's columns that the import reads (the file has some fifty; the rest are left).
ONSPD_COLUMNS = ("pcds", "lat", "long", "doterm")
#: ONSPD's latitude for a postcode with no grid reference (its longitude is then 0).
NO_POINT_LATITUDE = 99.999999
BATCH = 2000
# The British Isles, with room: a point outside is a broken row, not a postcode.
_LATITUDES = (49.0, 61.5)
_LONGITUDES = (-9.0, 2.5)
_MONTH = re.compile(r"^([12][0-9]{3})(0[1-9]|1[0-2])$")


def normal_postcode(text: str) -> str | None:
    """``text`` as a UK postcode in capitals with one space ("EX1 1AA"), or None."""
    match = UK_POSTCODE.match(" ".join(text.upper().split()))
    return f"{match.group(1)} {match.group(2)}" if match else None


def national_point(session: Session, postcode: str) -> tuple[float, float] | None:
    """Where ``postcode`` ("EX1 1AA") is in the national table, or None if it is not there."""
    row = session.execute(
        select(Postcode.latitude, Postcode.longitude).where(Postcode.postcode == postcode)
    ).first()
    return (row[0], row[1]) if row else None


class ColumnsMissing(ValueError):
    """The file's first line lacks columns the import needs."""


@dataclass
class PostcodeImport:
    """What an import did: counts, and one line per refused row (``line: column: why``)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    terminated: int = 0  # of those read, how many are no longer used
    without_point: int = 0  # ONSPD gives no coordinates: skipped
    refused: list[str] = field(default_factory=list)

    @property
    def valid(self) -> int:
        return self.created + self.updated + self.unchanged

    def summary(self) -> str:
        return (
            f"postcodes: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged ({self.terminated} of them no longer used); "
            f"{self.without_point} without coordinates left out; {len(self.refused)} refused"
        )


def _row(
    cells: list[str], where: dict[str, int], line: int, report: PostcodeImport
) -> tuple[str, float, float, str | None] | None:
    """One row's postcode, point and end month, or None (refused or left out)."""
    if len(cells) <= max(where.values()):
        report.refused.append(f"line {line}: the row has {len(cells)} columns, not enough")
        return None
    raw = cells[where["pcds"]]
    postcode = normal_postcode(raw)
    if postcode is None:
        report.refused.append(f"line {line}: pcds: {raw!r} is not a UK postcode")
        return None
    try:
        lat, lon = float(cells[where["lat"]]), float(cells[where["long"]])
    except ValueError:
        report.refused.append(f"line {line}: lat, long: {postcode} has no numbers for its point")
        return None
    if math.isclose(lat, NO_POINT_LATITUDE):
        report.without_point += 1
        return None
    if not (_LATITUDES[0] <= lat <= _LATITUDES[1] and _LONGITUDES[0] <= lon <= _LONGITUDES[1]):
        report.refused.append(
            f"line {line}: lat, long: {postcode} is at {lat}, {lon}, outside the UK"
        )
        return None
    ended = cells[where["doterm"]].strip()
    terminated = None
    if ended:
        month = _MONTH.match(ended)
        if month is None:
            report.refused.append(
                f"line {line}: doterm: {ended!r} is not a year and month like 201106"
            )
            return None
        terminated = f"{month.group(1)}-{month.group(2)}"
    return postcode, lat, lon, terminated


def _rows(
    lines: Iterable[str], report: PostcodeImport
) -> Iterator[tuple[str, float, float, str | None]]:
    reader = csv.reader(lines)
    header = next(reader, None)
    names = [h.strip().strip("\ufeff").lower() for h in header or []]
    missing = [c for c in ONSPD_COLUMNS if c not in names]
    if missing:
        raise ColumnsMissing(
            "the first line must name the ONSPD columns " + ", ".join(ONSPD_COLUMNS)
            + f"; it lacks {', '.join(missing)}"
        )  # fmt: skip
    where = {c: names.index(c) for c in ONSPD_COLUMNS}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        row = _row(cells, where, line, report)
        if row is not None:
            yield row


def import_onspd(session: Session, lines: Iterable[str]) -> PostcodeImport:
    """Load the ONS Postcode Directory CSV read from ``lines`` into the national table.

    Streams the file in batches of :data:`BATCH`: each row's ``pcds``, ``lat``, ``long`` and
    ``doterm`` (the month a postcode ended, ``YYYYMM``). A postcode already held is updated if
    the file says otherwise, so a second import of the same file changes nothing. Rows without
    coordinates (ONSPD's 99.999999, 0) are left out; broken rows are refused, one line each.
    Raises :class:`ColumnsMissing` when the header lacks a column. Never commits.
    """
    report = PostcodeImport()
    batch: dict[str, tuple[float, float, str | None]] = {}
    for postcode, lat, lon, terminated in _rows(lines, report):
        batch[postcode] = (lat, lon, terminated)  # a postcode given twice: the last one
        if len(batch) >= BATCH:
            _save(session, batch, report)
            batch = {}
    if batch:
        _save(session, batch, report)
    return report


def _save(
    session: Session, batch: dict[str, tuple[float, float, str | None]], report: PostcodeImport
) -> None:
    held = {
        row[0]: (row[1], row[2], row[3])
        for row in session.execute(
            select(Postcode.postcode, Postcode.latitude, Postcode.longitude, Postcode.terminated)
            .where(Postcode.postcode.in_(list(batch)))
        )
    }  # fmt: skip
    new, changed = [], []
    for postcode, (lat, lon, terminated) in batch.items():
        values = {"postcode": postcode, "latitude": lat, "longitude": lon, "terminated": terminated}
        report.terminated += terminated is not None
        if postcode not in held:
            new.append(values)
        elif held[postcode] != (lat, lon, terminated):
            changed.append(values)
        else:
            report.unchanged += 1
    if new:
        session.execute(insert(Postcode), new)
        report.created += len(new)
    if changed:
        session.execute(update(Postcode), changed)
        report.updated += len(changed)
