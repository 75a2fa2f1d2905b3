"""UK postcodes as people type them: tidied to capitals with one space, or refused."""

from __future__ import annotations

import re

#: A UK postcode (the outward code, then the inward code), spaces and case aside.
UK_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")


def normal_postcode(text: str) -> str | None:
    """``text`` as a UK postcode in capitals with one space ("EX1 1AA"), or None."""
    match = UK_POSTCODE.match(" ".join(text.upper().split()))
    return f"{match.group(1)} {match.group(2)}" if match else None
