"""Tapestry's allocation engine: pure Python and OR-Tools, no web or database imports.

Input and output follow ``shared/spec/allocation-format.md``. Money is integer pence throughout.
"""

from engine.instance import (
    INSTANCE_FORMAT,
    RESULT_FORMAT,
    Assignment,
    DiagnosisEntry,
    Instance,
    InvalidInstance,
    Metrics,
    Offer,
    Person,
    Policy,
    Preference,
    Problem,
    Result,
    Rule,
    Violation,
)

__all__ = [
    "INSTANCE_FORMAT",
    "RESULT_FORMAT",
    "Assignment",
    "DiagnosisEntry",
    "Instance",
    "InvalidInstance",
    "Metrics",
    "Offer",
    "Person",
    "Policy",
    "Preference",
    "Problem",
    "Result",
    "Rule",
    "Violation",
]
