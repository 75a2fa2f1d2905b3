"""Writing the explanations document (``shared/spec/explanations-format.md``) as JSON.

:func:`dumps_explanations` writes the document's members one per line and each entry of its
lists (a person, a rule, an offer) on a line of its own, like the results that ``tapestry
solve`` writes. Each entry goes through the standard library's C encoder: with ``indent`` the
encoder is pure Python, which took 11 s for 200,000 persons (this takes about 1 s).
"""

from __future__ import annotations

import json
from typing import Any

from engine.explain import EXPLANATIONS_FORMAT, Explanations


def explanations_to_dict(doc: Explanations) -> dict[str, Any]:
    """The document as plain JSON values, members in the spec's order."""
    return {
        "format": EXPLANATIONS_FORMAT,
        "mechanism": doc.mechanism,
        "objective": doc.objective,
        "complete": doc.complete,
        "persons": [
            {
                "id": p.id,
                "ranks_held": list(p.ranks_held),
                "why_not": [
                    {
                        "offer": w.offer,
                        "rank": w.rank,
                        "code": w.code,
                        "rule": w.rule,
                        "message": w.message,
                    }
                    for w in p.why_not
                ],
            }
            for p in doc.persons
        ],
        "rules": [
            {
                "rule": r.rule,
                "type": r.type,
                "welfare_with": r.welfare_with,
                "welfare_without": r.welfare_without,
                "lost": r.lost,
            }
            for r in doc.rules
        ],
        "places": [{"offer": p.offer, "gain": p.gain} for p in doc.places],
        "explain_seconds": round(doc.explain_seconds, 3),
    }


_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def dumps_explanations(doc: Explanations) -> str:
    """The document as JSON text (for UTF-8; one member a line, one list entry a line, a final
    newline). ``json.loads`` of it equals :func:`explanations_to_dict`."""
    lines = []
    for key, value in explanations_to_dict(doc).items():
        if isinstance(value, list) and value:
            entries = ",\n".join(["    " + _ENCODE(entry) for entry in value])
            text = f"[\n{entries}\n  ]"
        else:
            text = _ENCODE(value)
        lines.append(f"  {_ENCODE(key)}: {text}")
    return "{\n" + ",\n".join(lines) + "\n}\n"
