"""Allocation runs: a round becomes an engine instance, the engine allocates, the run is kept.

Turning a round into an instance (:func:`build_instance`)
=========================================================

* **Persons**: everyone with a budget in the round who ranked at least one offer in it (people
  who chose nothing did not ask for a place). Their id is ``p-<person id>``; ``budget`` is the
  money left in their budget (amount minus what is already committed); ``need`` their assessed
  need level; ``lottery`` :func:`engine.instance.derived_lottery` of the round's seed and their
  id, written out so the instance file says exactly what was used; ``max_placements`` the
  round's; ``attributes`` from :func:`web.services.rounds.person_attributes` (area, age band,
  need band and consented equity-monitoring attributes).
* **Preferences**: the person's choices in rank order. A choice the person is no longer eligible
  for (the provider's age or need rules; see :mod:`web.services.matching`) is left out, since
  the provider's rules bind; being over budget is left to the engine, which never places
  anyone over budget. Ranks are renumbered 1, 2, 3, ... over what is left.
* **Utilities** come from the rank and the match score (0-100, :func:`score_offer`)::

      raw(k)     = round(100 * 0.8 ** (k - 1)) * (900 + score) // 100
      utility(1) = raw(1)
      utility(k) = max(0, min(raw(k), utility(k - 1) - 1))

  So the format's default utility (``round(100 * 0.8 ** (k - 1))``), times 10, is scaled by
  90% (no match at all) to 100% (a perfect match). The rank decides and the match score nudges:
  a better match earns up to 10% more, which breaks near-ties between people in favour of the
  one the offer suits best, but a person's own order is never overturned (each choice is worth
  strictly more than the next one).
* **Offers**: every offer in the round, id ``o-<offer id>``, ``capacity`` its places left in
  the round, ``price`` its price, ``provider`` the provider's slug, ``category``.
* **Round and policy**: ``round.id`` is ``round-<id>``, ``pot`` the round's pot (or null);
  ``policy`` the round's mechanism, rules, time limit and seed.

A run stores the instance as canonical JSON (sorted keys, no spaces) with its SHA-256 as
``input_hash``, the OR-Tools version, the parameters, the seed and the engine's result JSON, so
``tapestry solve`` on the downloaded instance gives the same result.

Runs happen off the request: :func:`start_run` builds the instance and asks the
:class:`~web.services.jobs.JobRunner` for an ``allocate_round`` job; a worker runs
:func:`execute_run`, which solves, then explains the result with :func:`engine.explain.explain`
(every person, every rule's price, every offer's place value: ``explanations-format.md``), and
stores the result and the explanations document together, in one transaction, as the run
becomes "Finished". At most one run per round is queued or running at a time (checked here,
and by a partial unique index on ``solver_runs`` and on ``jobs.unique_key``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, selectinload

from engine.instance import (
    Assignment,
    DiagnosisEntry,
    Instance,
    Metrics,
    Offer,
    Person,
    Policy,
    Preference,
    Result,
    Rule,
    Violation,
    default_utility,
    derived_lottery,
)
from models.accounts import User
from models.audit import append_event
from models.base import utcnow
from models.people import PersonProfile
from models.providers import Offer as OfferRow
from models.providers import OfferStatus
from models.rounds import (
    ACTIVE_RUN_STATUSES,
    Budget,
    Choice,
    Mechanism,
    Round,
    RoundOffer,
    RoundStatus,
    RunStatus,
    SolverRun,
)
from web.services.errors import Conflict, InvalidInput, NotFound
from web.services.jobs import HEARTBEAT_EVERY_S, JobRunner, ProgressReporter, register
from web.services.matching import score_offer
from web.services.profiles import facts_for, offer_facts
from web.services.rounds import person_attributes

log = logging.getLogger(__name__)

JOB_KIND = "allocate_round"
#: Jobs of this kind came from earlier versions, which explained a run's people in follow-up
#: jobs. A run now stores every explanation before it is finished, so they have nothing to do.
OLD_EXPLAIN_JOB_KIND = "explain_run"
LABEL_MAX_CHARS = 200
#: Results that hold an allocation, and so have explanations.
PLACED_STATUSES = ("optimal", "feasible", "stable")
#: Seconds between progress writes while the explanations are worked out.
PROGRESS_EVERY_S = 1.0


def person_key(person_id: int) -> str:
    return f"p-{person_id}"


def offer_key(offer_id: int) -> str:
    return f"o-{offer_id}"


def key_id(key: str) -> int:
    """``"p-12"`` or ``"o-7"`` -> 12 or 7."""
    return int(key.split("-", 1)[1])


def utilities_for(scores: list[int]) -> list[int]:
    """Utilities of a person's choices in rank order, from their match scores (see above)."""
    utilities: list[int] = []
    for k, score in enumerate(scores, start=1):
        raw = default_utility(k) * (900 + max(0, min(100, score))) // 100
        if utilities:
            raw = max(0, min(raw, utilities[-1] - 1))
        utilities.append(raw)
    return utilities


@dataclass(frozen=True, slots=True)
class BuiltInstance:
    instance: Instance
    document: dict[str, Any]
    json: str
    input_hash: str
    left_out: int  # choices left out because the person is no longer eligible
    equity_persons: int  # persons whose consented equity attributes were read


def canonical_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _money(pence: int) -> float:
    return round(pence / 100, 2)


def instance_document(instance: Instance) -> dict[str, Any]:
    """The instance as the allocation format's JSON object (money in pounds)."""
    from engine.writer import instance_to_dict

    return instance_to_dict(instance)


def build_instance(
    session: Session,
    round_: Round,
    *,
    mechanism: str | None = None,
    rules: list[dict[str, Any]] | None = None,
    time_limit_s: float | None = None,
    seed: int | None = None,
) -> BuiltInstance:
    """The engine instance of ``round_`` (see the module's documentation for every field).

    ``mechanism``, ``rules``, ``time_limit_s`` and ``seed`` override the round's policy (to
    compare runs with and without a rule, say) without changing the round.
    """
    seed = round_.seed if seed is None else seed
    policy_rules = list(round_.rules or []) if rules is None else list(rules)
    round_offers = list(
        session.scalars(
            select(RoundOffer)
            # A service withdrawn (or back in draft) since the round opened gives no places.
            .join(RoundOffer.offer)
            .where(RoundOffer.round_id == round_.id, OfferRow.status == OfferStatus.published)
            .options(
                selectinload(RoundOffer.offer).selectinload(OfferRow.provider),
                selectinload(RoundOffer.offer).selectinload(OfferRow.outcome_tags),
            )
            .order_by(RoundOffer.offer_id)
        )
    )
    facts = {ro.offer_id: offer_facts(ro.offer) for ro in round_offers}
    budgets = {
        b.person_id: b
        for b in session.scalars(
            select(Budget)
            .where(Budget.round_id == round_.id)
            .options(selectinload(Budget.person).selectinload(PersonProfile.outcome_tags))
        )
    }
    choices: dict[int, list[Choice]] = {}
    for choice in session.scalars(
        select(Choice).where(Choice.round_id == round_.id).order_by(Choice.person_id, Choice.rank)
    ):
        choices.setdefault(choice.person_id, []).append(choice)

    persons: list[Person] = []
    left_out = 0
    equity_persons = 0
    for person_id in sorted(choices, key=lambda pid: person_key(pid)):
        budget = budgets.get(person_id)
        if budget is None:
            continue
        profile = budget.person
        person_facts = facts_for(profile, budget)
        kept: list[tuple[int, int]] = []  # (offer id, match score)
        for choice in choices[person_id]:
            if choice.offer_id not in facts:
                left_out += 1
                continue
            match = score_offer(person_facts, facts[choice.offer_id])
            if any(r.part == "eligibility" for r in match.blockers):
                left_out += 1
                continue
            kept.append((choice.offer_id, sum(match.points.values())))
        if not kept:
            continue
        utilities = utilities_for([score for _, score in kept])
        attributes = person_attributes(profile)
        if profile.equity_consent_at is not None and profile.equity_attributes:
            equity_persons += 1
        key = person_key(person_id)
        persons.append(
            Person(
                id=key,
                budget=budget.remaining_pence,
                need=profile.need_level,
                lottery=derived_lottery(seed, key),
                max_placements=round_.max_placements,
                attributes=attributes,
                preferences=tuple(
                    Preference(offer=offer_key(offer_id), rank=rank, utility=utility)
                    for rank, ((offer_id, _), utility) in enumerate(
                        zip(kept, utilities, strict=True), start=1
                    )
                ),
            )
        )
    offers = tuple(
        Offer(
            id=offer_key(ro.offer_id),
            capacity=max(0, ro.places - ro.places_taken),
            price=ro.offer.price_pence,
            provider=ro.offer.provider.slug,
            category=str(ro.offer.category),
        )
        for ro in round_offers
    )
    instance = Instance(
        persons=tuple(persons),
        offers=offers,
        policy=Policy(
            mechanism=(mechanism or str(round_.mechanism)),  # type: ignore[arg-type]
            rules=tuple(_rule(r) for r in policy_rules),
            time_limit_s=float(time_limit_s if time_limit_s is not None else round_.time_limit_s),
            seed=seed,
        ),
        round_id=f"round-{round_.id}",
        pot=round_.pot_pence,
    )
    document = instance_document(instance)
    text = canonical_json(document)
    return BuiltInstance(
        instance=instance,
        document=document,
        json=text,
        input_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        left_out=left_out,
        equity_persons=equity_persons,
    )


def _rule(rule: Mapping[str, Any]) -> Rule:
    values = rule.get("values")
    return Rule(
        type=rule["type"],
        attribute=rule["attribute"],
        min_share=rule.get("min_share"),
        max_gap=rule.get("max_gap"),
        values=tuple(values) if values is not None else None,
    )


def ortools_version() -> str:
    try:
        return metadata.version("ortools")
    except metadata.PackageNotFoundError:
        return "unknown"


# -- starting a run ---------------------------------------------------------------------------


def active_run(session: Session, round_: Round) -> SolverRun | None:
    return session.scalars(
        select(SolverRun).where(
            SolverRun.round_id == round_.id, SolverRun.status.in_(ACTIVE_RUN_STATUSES)
        )
    ).first()


def start_run(
    session: Session,
    runner: JobRunner,
    actor: User,
    round_: Round,
    *,
    label: str | None = None,
    mechanism: str | None = None,
    rules: list[dict[str, Any]] | None = None,
    time_limit_s: float | None = None,
    seed: int | None = None,
) -> SolverRun:
    """Build the round's instance, keep it in a queued run and ask for a job to solve it.

    The round must be closed (or allocated, to compare another policy). Only one run per round
    may be queued or running: a second one raises :class:`Conflict`.
    """
    if round_.status not in (RoundStatus.closed, RoundStatus.allocated):
        raise Conflict("Close the round for choices before running an allocation.")
    if label is not None and len(label) > LABEL_MAX_CHARS:
        raise InvalidInput({"label": f"The label must be {LABEL_MAX_CHARS} characters or fewer"})
    if active_run(session, round_) is not None:
        raise Conflict("An allocation run for this round is already going. Wait for it to end.")
    if mechanism is not None and mechanism not in {m.value for m in Mechanism}:
        raise InvalidInput({"mechanism": "Choose welfare or stable"})
    built = build_instance(
        session, round_, mechanism=mechanism, rules=rules, time_limit_s=time_limit_s, seed=seed
    )
    policy = built.instance.policy
    if policy.mechanism == "stable" and round_.max_placements != 1:
        raise InvalidInput({"mechanism": "The stable mechanism gives each person 1 place at most"})
    if not built.instance.persons:
        raise Conflict("No one with a budget has chosen an offer in this round yet.")
    run = SolverRun(
        round_id=round_.id,
        label=(label or "").strip() or None,
        status=RunStatus.queued,
        progress=0,
        message="Waiting for a worker",
        mechanism=Mechanism(policy.mechanism),
        parameters={
            "mechanism": policy.mechanism,
            "rules": [dict(r) for r in (rules if rules is not None else round_.rules or [])],
            "time_limit_s": policy.time_limit_s,
            "seed": policy.seed,
            "pot_pence": round_.pot_pence,
            "max_placements": round_.max_placements,
            "persons": len(built.instance.persons),
            "offers": len(built.instance.offers),
            "choices_left_out": built.left_out,
        },
        seed=policy.seed,
        input_hash=built.input_hash,
        ortools_version=ortools_version(),
        instance_json=built.json,
        created_by_user_id=actor.id,
    )
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError as error:
        raise Conflict("An allocation run for this round is already going.") from error
    run.job_id = runner.enqueue(JOB_KIND, {"run_id": run.id}, unique_key=f"round:{round_.id}")
    session.flush()
    append_event(
        session,
        "run.start",
        actor_user_id=actor.id,
        object_type="solver_run",
        object_id=run.id,
        details={"round_id": round_.id, "input_hash": built.input_hash, "seed": policy.seed},
    )
    if built.equity_persons:
        # Consented equity-monitoring attributes were read to build the instance.
        append_event(
            session,
            "profile.equity.read",
            actor_user_id=actor.id,
            object_type="solver_run",
            object_id=run.id,
            details={"round_id": round_.id, "persons": built.equity_persons},
        )
    return run


def sync_with_job(session: Session, runner: JobRunner, run: SolverRun) -> SolverRun:
    """Fail a run whose job failed without the run hearing of it (its worker kept dying, so
    the job used up its attempts). Returns the run, refreshed."""
    if run.status not in ACTIVE_RUN_STATUSES or run.job_id is None:
        return run
    try:
        state = runner.status(run.job_id)
    except NotFound:
        state = None
    if state is not None and state.status != "failed":
        return run
    session.execute(
        update(SolverRun)
        .where(SolverRun.id == run.id, SolverRun.status.in_(ACTIVE_RUN_STATUSES))
        .values(
            status=RunStatus.failed,
            message="The run failed",
            error=(state.error if state is not None else None) or "The job for this run was lost.",
            finished_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.flush()
    session.refresh(run)
    return run


def list_runs(session: Session, round_: Round) -> list[SolverRun]:
    return list(
        session.scalars(
            select(SolverRun).where(SolverRun.round_id == round_.id).order_by(SolverRun.id.desc())
        )
    )


def get_run(session: Session, round_: Round, run_id: int) -> SolverRun:
    run = session.get(SolverRun, run_id)
    if run is None or run.round_id != round_.id:
        raise NotFound("There is no such run in this round.")
    return run


def result_from_dict(document: Mapping[str, Any]) -> Result:
    """A stored result (the allocation format's JSON) as the engine's :class:`Result`."""
    metrics = document.get("metrics") or {}
    return Result(
        status=document["status"],
        mechanism=document["mechanism"],
        objective=document.get("objective"),
        bound=document.get("bound"),
        assignments=tuple(
            Assignment(
                person=a["person"],
                offer=a["offer"],
                rank=a["rank"],
                utility=a["utility"],
                price=round(a["price"] * 100),
            )
            for a in document.get("assignments", [])
        ),
        unassigned=tuple(document.get("unassigned", [])),
        metrics=Metrics(
            persons=metrics.get("persons", 0),
            placed=metrics.get("placed", 0),
            placements=metrics.get("placements", 0),
            spend=round(metrics.get("spend", 0) * 100),
            rank_histogram={int(k): v for k, v in (metrics.get("rank_histogram") or {}).items()},
            coverage={k: dict(v) for k, v in (metrics.get("coverage") or {}).items()},
        ),
        violations=tuple(
            Violation(rule=v["rule"], message=v.get("message", ""))
            for v in document.get("violations", [])
        ),
        diagnosis=tuple(
            DiagnosisEntry(
                rule=d.get("rule"),
                group=d.get("group"),
                best=d.get("best"),
                message=d.get("message", ""),
            )
            for d in document.get("diagnosis", [])
        ),
        solve_seconds=float(document.get("solve_seconds") or 0.0),
    )


def run_result(run: SolverRun) -> dict[str, Any] | None:
    return None if run.result_json is None else json.loads(run.result_json)


def run_instance(run: SolverRun) -> dict[str, Any]:
    if run.instance_json is None:
        raise NotFound("This run has no instance.")
    return json.loads(run.instance_json)  # type: ignore[no-any-return]


# -- executing a run (in a worker) ------------------------------------------------------------


class ExplanationsIncomplete(RuntimeError):
    """The engine stopped before it had explained everything."""


def _set_run(
    session_factory: Callable[[], Session], run_id: int, attempts: int = 5, **values: Any
) -> None:
    _update_run(session_factory, run_id, values, None, attempts)


def _store_finished(
    session_factory: Callable[[], Session],
    run_id: int,
    round_id: int,
    values: dict[str, Any],
    attempts: int = 5,
) -> None:
    """Keep the result and its explanations, mark the run finished and the round allocated, all
    in one transaction: a run is never "Finished" with part of its work missing."""
    _update_run(session_factory, run_id, values, round_id, attempts)


def _update_run(
    session_factory: Callable[[], Session],
    run_id: int,
    values: dict[str, Any],
    allocated_round_id: int | None,
    attempts: int,
) -> None:
    """Set the run's ``values`` in one transaction, and with ``allocated_round_id`` make that
    closed round allocated in the same one. A result that took minutes to find is worth a few
    tries when the database is busy."""
    for attempt in range(1, attempts + 1):
        try:
            with session_factory() as session:
                session.execute(
                    update(SolverRun)
                    .where(SolverRun.id == run_id)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
                if allocated_round_id is not None:
                    # The round has an allocation to publish now.
                    session.execute(
                        update(Round)
                        .where(Round.id == allocated_round_id, Round.status == RoundStatus.closed)
                        .values(status=RoundStatus.allocated)
                        .execution_options(synchronize_session=False)
                    )
                session.commit()
            return
        except OperationalError:
            if attempt == attempts:
                raise
            log.warning("run %s: the database is busy, trying again", run_id)
            time.sleep(attempt)


#: Progress (percent) at the start of each phase of a run, and where the phase ends.
PHASES = {
    "reading": (0, 5),
    "solving": (5, 40),
    "persons": (40, 80),
    "rules": (80, 88),
    "places": (88, 96),
    "storing": (96, 99),
}


def phase_words(phase: str, done: int, total: int) -> str:
    """What the run is doing, in plain words, for the progress line."""
    if phase == "persons":
        return f"Explaining each person's place: {done:,} of {total:,} done"
    if phase == "rules":
        return f"Working out what each fairness rule costs: {done:,} of {total:,} rules done"
    if phase == "places":
        return f"Working out what one more place would be worth: {done:,} of {total:,} services"
    if phase == "storing":
        return "Saving the places and every explanation"
    if phase == "solving":
        return f"Finding the best allocation: {done:,} of at most {total:,} seconds"
    return "Reading the round"


def phase_percent(phase: str, done: int, total: int) -> int:
    start, end = PHASES.get(phase, (0, 5))
    share = min(1.0, done / total) if total > 0 else 0.0
    return start + int((end - start) * share)


def execute_run(
    session_factory: Callable[[], Session],
    run_id: int,
    report: Callable[[int, str | None], bool] | None = None,
    *,
    explain_workers: int | None = None,
    explain_time_limit_s: float = float("inf"),
) -> SolverRun:
    """Solve a queued run's stored instance, explain the result, and keep both.

    Phases, each named in the run's progress message: reading, solving (5-40%, by the time
    used against the time limit), explaining each person (40-80%), pricing each rule (80-88%)
    and valuing one more place at each offer (88-96%; welfare only), storing (96-100%). The
    explanations are :func:`engine.explain.explain`'s document, by default with no time limit
    of its own (each of the engine's internal solves keeps the policy's limit), kept as
    ``run.analysis`` (``explanations_to_dict``). The result and the document are stored in
    the same transaction that marks the run finished. The explanation's exact programs are
    shared out over ``explain_workers`` processes (default ``TAPESTRY_EXPLAIN_WORKERS``, else
    every core the worker may use). If anything fails, or the engine could
    not decide every explanation, the run is failed with the reason and nothing of it is kept.
    """
    from engine.explain import explain, workers_from_environment
    from engine.explain_io import explanations_to_dict
    from engine.reader import read_instance
    from engine.solve import solve
    from engine.writer import result_to_dict

    if explain_workers is None:
        try:
            explain_workers = workers_from_environment()
        except ValueError as error:
            log.warning("TAPESTRY_EXPLAIN_WORKERS %s: explaining in one process", error)
            explain_workers = 1

    def progress(phase: str, done: int = 0, total: int = 0) -> None:
        # Progress is for people watching; a busy database must not stop the work.
        percent, message = phase_percent(phase, done, total), phase_words(phase, done, total)
        try:
            _set_run(session_factory, run_id, attempts=1, progress=percent, message=message)
            if report is not None:
                report(percent, message)
        except OperationalError:
            log.warning("run %s: could not record progress %s%%", run_id, percent)

    with session_factory() as session:
        run = session.get(SolverRun, run_id)
        if run is None:
            raise LookupError(f"solver run {run_id} does not exist")
        if run.status not in ACTIVE_RUN_STATUSES:
            return run
        text = run.instance_json or ""
        round_id = run.round_id
    _set_run(session_factory, run_id, status=RunStatus.running, started_at=utcnow(), error=None)
    try:
        progress("reading")
        instance = read_instance(text)
        limit = instance.policy.time_limit_s
        stop = threading.Event()

        def tick() -> None:
            started = time.monotonic()
            while not stop.wait(min(HEARTBEAT_EVERY_S, max(0.5, limit / 20))):
                progress("solving", int(time.monotonic() - started), int(limit))

        ticker = threading.Thread(target=tick, name=f"run-{run_id}-progress", daemon=True)
        ticker.start()
        try:
            result = solve(instance)
        finally:
            stop.set()
            ticker.join()
        analysis: dict[str, Any] | None = None
        if result.status in PLACED_STATUSES:
            last: dict[str, Any] = {"phase": None, "at": 0.0}

            def explaining(phase: str, done: int, total: int) -> None:
                # One write a second at most, and one at each new phase.
                now = time.monotonic()
                if phase == "done":
                    return
                if phase == last["phase"] and now - last["at"] < PROGRESS_EVERY_S:
                    return
                last.update(phase=phase, at=now)
                progress(phase, done, total)

            progress("persons", 0, len(instance.persons))
            doc = explain(
                instance,
                result,
                time_limit_s=explain_time_limit_s,
                workers=explain_workers,
                progress=explaining,
            )
            if not doc.complete:
                raise ExplanationsIncomplete(
                    "The engine stopped before it had explained every person, rule and place, "
                    "so the run cannot finish. Run it again; if this happens again, ask for help."
                )
            analysis = explanations_to_dict(doc)
        progress("storing")
        _store_finished(
            session_factory,
            run_id,
            round_id,
            {
                "result_json": canonical_json(result_to_dict(result)),
                "status_of_result": result.status,
                "objective": result.objective,
                "bound": result.bound,
                "solve_seconds": result.solve_seconds,
                "analysis": analysis,
                "status": RunStatus.succeeded,
                "progress": 100,
                "message": "Finished",
                "finished_at": utcnow(),
            },
        )
    except Exception as error:
        _set_run(
            session_factory,
            run_id,
            status=RunStatus.failed,
            message="The run failed",
            error=f"{type(error).__name__}: {error}"[:4000],
            finished_at=utcnow(),
        )
        raise
    with session_factory() as session:
        run = session.get(SolverRun, run_id)
        assert run is not None
        return run


# -- the stored explanations ------------------------------------------------------------------


def explanations(run: SolverRun) -> dict[str, Any] | None:
    """The run's explanations document (``explanations-format.md``), or None when the run has
    none: not finished, no allocation, or finished by an older version that kept another shape."""
    from engine.explain import EXPLANATIONS_FORMAT

    document = run.analysis
    if isinstance(document, Mapping) and document.get("format") == EXPLANATIONS_FORMAT:
        return dict(document)
    return None


def person_explanations(run: SolverRun) -> dict[str, dict[str, Any]]:
    """Person id (``"p-12"``) -> that person's entry of the run's document."""
    document = explanations(run) or {}
    return {entry["id"]: entry for entry in document.get("persons") or []}


@register(JOB_KIND)
def _allocate_round_job(
    session_factory: Callable[[], Session],
    job_id: int,
    payload: dict[str, Any],
    report: ProgressReporter,
) -> dict[str, Any]:
    run = execute_run(session_factory, int(payload["run_id"]), report)
    return {"run_id": run.id, "status": str(run.status), "result": run.status_of_result}


@register(OLD_EXPLAIN_JOB_KIND)
def _old_explain_run_job(
    session_factory: Callable[[], Session],
    job_id: int,
    payload: dict[str, Any],
    report: ProgressReporter,
) -> dict[str, Any]:
    # Queued by an earlier version: the run it names already stores what there is to store.
    return {"run_id": payload.get("run_id"), "skipped": "Runs now keep every explanation."}
