"""Schemas of the commissioner's rounds, runs and statements. Money is integer pence."""

from __future__ import annotations

import marshmallow as ma

from models.rounds import SolverRun
from web.api.schemas import StrictSchema
from web.services import allocation_runs, allocations, rounds, rule_checks
from web.services.offers import MAX_CAPACITY
from web.services.rounds import (
    ANSWER_DAYS_LIMIT,
    MAX_CHOICES_LIMIT,
    MAX_TIME_LIMIT_S,
    NAME_MAX_CHARS,
)

#: Formats of the document's own, for values that name what is stored (no enum can list them).
COUNCIL_AREA_FORMAT = "council-area"
OFFER_ID_FORMAT = "offer-id"
PLACES_WORDS = (
    "Offer id (format offer-id: a published offer of one of the council's providers, as "
    "text) to its places, 0 to take it out. Taking out an offer people chose, or going below "
    "the places already taken, is refused with 409 naming places-<offer id>"
)


def _places(**kwargs: object) -> ma.fields.Dict:
    return ma.fields.Dict(
        keys=ma.fields.Integer(),
        values=ma.fields.Integer(validate=ma.validate.Range(min=0, max=MAX_CAPACITY)),
        metadata={
            "description": PLACES_WORDS,
            "propertyNames": {"type": "string", "format": OFFER_ID_FORMAT},
        },
        **kwargs,  # type: ignore[arg-type]
    )


class RoundSchema(StrictSchema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"example": "open"})
    pot_pence = ma.fields.Integer(allow_none=True)
    choice_deadline = ma.fields.DateTime(allow_none=True)
    areas = ma.fields.List(ma.fields.String())
    max_choices = ma.fields.Integer()
    answer_days = ma.fields.Integer(
        metadata={"description": "Days people have to answer an offer of a place"}
    )
    max_placements = ma.fields.Integer()
    mechanism = ma.fields.String(metadata={"example": "welfare"})
    rules = ma.fields.List(ma.fields.Dict(), metadata={"description": "As policy.rules"})
    time_limit_s = ma.fields.Float()
    seed = ma.fields.Integer()
    published_run_id = ma.fields.Integer(allow_none=True)
    override_reason = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Why the published run was published although it breaks "
            "the pot or a rule (null when it keeps them all)"
        },
    )
    override_breaches = ma.fields.List(
        ma.fields.String(),
        allow_none=True,
        metadata={"description": "What the published run breaks, one sentence each"},
    )
    places = ma.fields.Method("_places", metadata={"description": "Offer id to places"})

    def _places(self, round_: object) -> dict[str, dict[str, int]]:
        return {
            str(ro.offer_id): {"places": ro.places, "places_taken": ro.places_taken}
            for ro in getattr(round_, "round_offers", [])
        }


class RoundCreateSchema(StrictSchema):
    name = ma.fields.String(
        required=True, validate=ma.validate.Length(max=NAME_MAX_CHARS), metadata={"pattern": r"\S"}
    )
    answer_days = ma.fields.Integer(
        load_default=7,
        validate=ma.validate.Range(
            min=1,
            max=ANSWER_DAYS_LIMIT,
            error=f"People need between 1 and {ANSWER_DAYS_LIMIT} days to answer",
        ),
        metadata={"description": "Days people have to answer an offer of a place"},
    )
    # The service checks the pot with the other details, so all their problems come together.
    pot_pence = ma.fields.Integer(load_default=None, allow_none=True, metadata={"minimum": 0})
    choice_deadline = ma.fields.AwareDateTime(load_default=None, allow_none=True)
    areas = ma.fields.List(
        ma.fields.String(metadata={"format": COUNCIL_AREA_FORMAT}),
        load_default=list,
        metadata={
            "description": "Areas the round is for (format council-area: each one of the "
            "council's areas); an area the council does not have is refused (422)"
        },
    )
    max_choices = ma.fields.Integer(
        load_default=5,
        validate=ma.validate.Range(
            min=1,
            max=MAX_CHOICES_LIMIT,
            error=f"People can rank between 1 and {MAX_CHOICES_LIMIT} offers",
        ),
    )
    places = _places(load_default=dict)


class PlacesSchema(StrictSchema):
    places = _places(required=True)


#: Formats of the document's own for a rule: an attribute people of the round have (built in, or
#: an equity-monitoring one people consented to give) and a group someone of the round is in.
RULE_ATTRIBUTE_FORMAT = "rule-attribute"
RULE_GROUP_FORMAT = "rule-group"
_SHARE = {"type": "number", "minimum": 0, "maximum": 1}
_ATTRIBUTE = {
    "type": "string",
    "format": RULE_ATTRIBUTE_FORMAT,
    "description": "A person attribute (format rule-attribute): "
    + ", ".join(rounds.BUILT_IN_ATTRIBUTES)
    + ", or an equity-monitoring attribute people of the round consented to give",
}


def _rule(kind: str, **fields: dict[str, object]) -> dict[str, object]:
    """One kind of rule as the allocation format writes it, with exactly these fields."""
    required = ["type", "attribute", *(name for name in fields if name != "values")]
    return {
        "type": "object",
        "title": kind,
        "description": rounds.RULE_TYPES[kind],
        "required": required,
        "additionalProperties": False,
        "properties": {
            "type": {"type": "string", "enum": [kind]},
            "attribute": _ATTRIBUTE,
            **fields,
        },
    }


#: Each kind of rule and its fields (``web.services.rounds`` checks them and names ``rules-<i>``).
RULE_KINDS = [
    _rule(
        "coverage_floor",
        min_share={**_SHARE, "description": "The smallest share of each group given a place"},
        values={
            "type": "array",
            "items": {"type": "string", "format": RULE_GROUP_FORMAT, "minLength": 1},
            "description": "The groups it holds for (format rule-group: each a group someone of "
            "the round is in, so a typo is refused with the closest known group); all groups "
            "when left out",
        },
    ),
    _rule(
        "coverage_gap",
        max_gap={**_SHARE, "description": "The largest difference between groups' shares"},
    ),
    _rule("maximize_min_coverage"),
]


class PolicySchema(StrictSchema):
    mechanism = ma.fields.String(required=True, validate=ma.validate.OneOf(["welfare", "stable"]))
    rules = ma.fields.List(
        ma.fields.Dict(metadata={"oneOf": RULE_KINDS}),
        load_default=list,
        metadata={
            "description": "Fairness rules, as the allocation format's policy.rules; at most one "
            "maximize_min_coverage. A rule that breaks these is refused with 422 naming "
            "rules-<its index>"
        },
    )
    time_limit_s = ma.fields.Float(
        load_default=60.0,
        validate=ma.validate.Range(min=0, min_inclusive=False, max=MAX_TIME_LIMIT_S),
        # apispec drops the Range's exclusive lower bound, so it is stated here.
        metadata={"description": "Seconds the solver may take, above 0", "exclusiveMinimum": True},
    )
    seed = ma.fields.Integer(
        load_default=0, validate=ma.validate.Range(min=-(2**31) + 1, max=2**31 - 1)
    )
    max_placements = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Range(min=1),
        metadata={
            "description": "Places each person may hold (null keeps the round's); the stable "
            "mechanism allows only 1"
        },
    )


class BudgetSchema(StrictSchema):
    id = ma.fields.Integer(dump_only=True)
    person_id = ma.fields.Integer(dump_only=True)
    amount_pence = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0))
    committed_pence = ma.fields.Integer(dump_only=True)


class RunStartSchema(StrictSchema):
    label = ma.fields.String(load_default=None, allow_none=True)
    mechanism = ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.OneOf(["welfare", "stable"])
    )
    without_rules = ma.fields.Boolean(load_default=False)


class PublishSchema(StrictSchema):
    override_reason = ma.fields.String(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "Required when the run breaks the round's pot or a rule: why it is "
            "published anyway (kept with the round and in the audit trail)"
        },
    )


class RunSchema(StrictSchema):
    id = ma.fields.Integer(required=True)
    round_id = ma.fields.Integer(required=True)
    label = ma.fields.String(allow_none=True)
    status = ma.fields.String(required=True, metadata={"example": "running"})
    progress = ma.fields.Integer(metadata={"description": "0 to 100"})
    message = ma.fields.String(allow_none=True)
    mechanism = ma.fields.String()
    parameters = ma.fields.Dict()
    seed = ma.fields.Integer()
    input_hash = ma.fields.String(allow_none=True, metadata={"description": "SHA-256"})
    ortools_version = ma.fields.String(allow_none=True)
    status_of_result = ma.fields.String(allow_none=True)
    objective = ma.fields.Integer(allow_none=True)
    bound = ma.fields.Integer(allow_none=True)
    solve_seconds = ma.fields.Float(allow_none=True)
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    breaches = ma.fields.Method(
        "_breaches",
        metadata={
            "description": "How the run's allocation breaks the round's pot or a rule, one "
            "sentence each (empty when it keeps them all); publishing it then needs an "
            "`override_reason`",
            "type": "array",
            "items": {"type": "string"},
        },
    )
    reasons = ma.fields.Method(
        "_reasons",
        metadata={
            "description": "Why a run with no allocation (`infeasible`) found none, one "
            "sentence per rule, naming the rule (from 1) and the groups",
            "type": "array",
            "items": {"type": "string"},
        },
    )

    def _breaches(self, run: SolverRun) -> list[str]:
        return allocations.run_breaches(run)

    def _reasons(self, run: SolverRun) -> list[str]:
        result = allocation_runs.run_result(run)
        if not result or run.instance_json is None:
            return []
        return rule_checks.diagnosis_words(allocation_runs.run_instance(run), result)

    error = ma.fields.String(allow_none=True)


class StatementLineSchema(StrictSchema):
    when = ma.fields.DateTime(required=True)
    person_id = ma.fields.Integer()
    person_name = ma.fields.String()
    offer_id = ma.fields.Integer()
    offer_title = ma.fields.String()
    provider_id = ma.fields.Integer()
    provider_name = ma.fields.String()
    amount_pence = ma.fields.Integer()
    released = ma.fields.Boolean()


class TotalsSchema(StrictSchema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    places = ma.fields.Integer()
    amount_pence = ma.fields.Integer()


class RoundStatementSchema(StrictSchema):
    total_pence = ma.fields.Integer(required=True)
    by_person = ma.fields.List(ma.fields.Nested(TotalsSchema))
    by_provider = ma.fields.List(ma.fields.Nested(TotalsSchema))
    lines = ma.fields.List(ma.fields.Nested(StatementLineSchema))


class HeldPlaceSchema(StrictSchema):
    id = ma.fields.Integer(required=True, metadata={"description": "The allocation's id"})
    person_id = ma.fields.Integer(required=True)
    person_name = ma.fields.Function(lambda a: a.person.display_name)
    offer_id = ma.fields.Integer(required=True)
    offer_title = ma.fields.Function(lambda a: a.offer.title)
    price_pence = ma.fields.Integer(required=True)
    status = ma.fields.String(
        required=True,
        metadata={"description": "offered (not answered yet) or accepted; withdrawn once moved"},
    )


class MovePlaceSchema(StrictSchema):
    to_offer_id = ma.fields.Integer(
        required=True,
        metadata={"description": "An offer of this round with a free place that the person "
                  "has not had or turned down"},
    )  # fmt: skip
    reason = ma.fields.String(
        required=True,
        metadata={"description": "Why the place is moved (kept in the audit trail; at most "
                  "2,000 characters)", "pattern": r"\S"},
    )  # fmt: skip
    consent = ma.fields.Boolean(
        load_default=False,
        truthy={True},
        falsy={False},
        metadata={"description": "Required true for an accepted place: the person agrees"},
    )


class ReleasePlaceSchema(StrictSchema):
    reason = ma.fields.String(
        required=True,
        metadata={
            "description": "Why the place is taken away (kept in the audit trail)",
            "pattern": r"\S",
        },
    )
