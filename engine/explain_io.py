"""Writing the explanations document (``shared/spec/explanations-format.md``) as JSON."""

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


def dumps_explanations(doc: Explanations) -> str:
    """The document as JSON text (UTF-8, two-space indent, a final newline)."""
    return json.dumps(explanations_to_dict(doc), ensure_ascii=False, indent=2) + "\n"
