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
from engine.reader import instance_from_dict, read_instance
from engine.solve import solve
from engine.writer import dumps_instance, dumps_result, instance_to_dict, result_to_dict

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
    "dumps_instance",
    "dumps_result",
    "instance_from_dict",
    "instance_to_dict",
    "read_instance",
    "result_to_dict",
    "solve",
]
