"""Allocation runs: the round as an engine instance, the job, the worker, reproducibility."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.reader import read_instance
from engine.solve import solve
from engine.writer import result_to_dict
from models import Job, JobStatus, RoundStatus, RunStatus, SolverRun
from models.providers import OfferStatus
from tests.services.commissioning_world import make_round
from web.services import allocation_runs as runs
from web.services.errors import Conflict
from web.services.jobs import DatabaseJobRunner, claim_next_job, run_job


def test_utilities_follow_rank_and_are_nudged_by_match_score() -> None:
    assert runs.utilities_for([100, 100, 100]) == [1000, 800, 640]
    assert runs.utilities_for([0, 0]) == [900, 720]
    # A poor first choice is still worth more than a perfect second one.
    low_first = runs.utilities_for([0, 100])
    assert low_first[0] > low_first[1]
    # Deep ranks share a default utility; each choice still beats the next one.
    deep = runs.utilities_for([0] * 19 + [100, 100])
    assert all(a > b for a, b in zip(deep, deep[1:], strict=False))


def test_the_instance_is_the_round(db_session: Session) -> None:
    world = make_round(db_session, pot_pence=50_000)
    built = runs.build_instance(db_session, world.round)
    instance = built.instance
    ada = world.people["Ada"]
    person = next(p for p in instance.persons if p.id == f"p-{ada.id}")
    assert person.budget == 30_000
    assert person.need == 8
    assert person.attributes == {"area": "north", "age_band": "25-34", "need_band": "high"}
    assert [p.offer for p in person.preferences] == [
        f"o-{world.offers['cafe'].id}",
        f"o-{world.offers['art'].id}",
    ]
    assert person.preferences[0].utility > person.preferences[1].utility
    assert instance.pot == 50_000
    assert {o.id: o.capacity for o in instance.offers} == {
        f"o-{world.offers[n].id}": c for n, c in (("art", 2), ("cafe", 1), ("garden", 2))
    }
    # The stored text is the spec's JSON; its hash is the SHA-256 of that text.
    assert built.input_hash == hashlib.sha256(built.json.encode()).hexdigest()
    again = read_instance(built.json)
    assert again == instance


def test_ineligible_choices_are_left_out(db_session: Session) -> None:
    world = make_round(db_session)
    world.offers["cafe"].min_need_level = 9  # Ada (8) and Ben (2) no longer qualify
    db_session.flush()
    built = runs.build_instance(db_session, world.round)
    cafe = f"o-{world.offers['cafe'].id}"
    assert not any(pref.offer == cafe for p in built.instance.persons for pref in p.preferences)
    assert built.left_out == 3  # Ada, Ben and Dee ranked it


def test_withdrawn_services_give_no_places(db_session: Session) -> None:
    world = make_round(db_session)
    world.offers["cafe"].status = OfferStatus.withdrawn
    db_session.flush()
    built = runs.build_instance(db_session, world.round)
    cafe = f"o-{world.offers['cafe'].id}"
    assert cafe not in {o.id for o in built.instance.offers}
    assert not any(pref.offer == cafe for p in built.instance.persons for pref in p.preferences)


def test_run_is_queued_then_solved_by_a_worker_and_reproducible(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world = make_round(db_session)
    run = runs.start_run(
        db_session, DatabaseJobRunner(db_session), world.commissioner, world.round, label="First"
    )
    assert run.status == RunStatus.queued
    assert run.job_id is not None
    assert run.ortools_version and run.ortools_version != "unknown"
    with pytest.raises(Conflict):
        runs.start_run(db_session, DatabaseJobRunner(db_session), world.commissioner, world.round)
    db_session.commit()

    job = claim_next_job(db_session, "worker-a")
    assert job is not None and job.id == run.job_id and job.status == JobStatus.running
    assert claim_next_job(db_session, "worker-b") is None  # nobody else takes it
    assert run_job(session_factory, job, "worker-a", heartbeat_every_s=None) is True
    db_session.expire_all()
    assert db_session.get(Job, job.id).status == JobStatus.done
    stored = db_session.get(type(run), run.id)
    assert stored.status == RunStatus.succeeded
    assert stored.progress == 100
    assert stored.status_of_result == "stable"
    assert world.round.status in (RoundStatus.closed, RoundStatus.allocated)

    # Anyone can rerun the downloaded instance and get the same result.
    rerun = result_to_dict(solve(read_instance(stored.instance_json)))
    kept = json.loads(stored.result_json)
    rerun.pop("solve_seconds")
    kept.pop("solve_seconds")
    assert rerun == kept
    # Stable, by need: Ada (8) gets the cafe; Cal (5) and Dee the art; Eve (6) and Fay garden.
    placed = {world.by_person_id(int(a["person"][2:])): a["offer"] for a in kept["assignments"]}
    offer = {f"o-{o.id}": name for name, o in world.offers.items()}
    assert {name: offer[o] for name, o in placed.items()} == {
        "Ada": "cafe", "Cal": "art", "Dee": "art", "Eve": "garden", "Fay": "garden",
    }  # fmt: skip

    # The next run may start now the first has finished.
    second = runs.start_run(
        db_session, DatabaseJobRunner(db_session), world.commissioner, world.round
    )
    assert second.input_hash == stored.input_hash


def test_a_round_must_be_closed_to_run(db_session: Session) -> None:
    world = make_round(db_session, status=RoundStatus.open)
    with pytest.raises(Conflict):
        runs.start_run(db_session, DatabaseJobRunner(db_session), world.commissioner, world.round)


def test_an_abandoned_job_is_claimed_again(db_session: Session) -> None:
    from datetime import timedelta

    from models.base import utcnow

    runner = DatabaseJobRunner(db_session)
    job_id = runner.enqueue("noop", {"x": 1})
    db_session.commit()
    job = claim_next_job(db_session, "worker-a")
    assert job is not None and job.id == job_id
    job.heartbeat_at = utcnow() - timedelta(minutes=5)
    db_session.commit()
    again = claim_next_job(db_session, "worker-b")
    assert again is not None and again.id == job_id
    assert again.locked_by == "worker-b" and again.attempts == 2
    assert runner.status(job_id).status == "running"


def test_one_active_job_per_key(db_session: Session) -> None:
    runner = DatabaseJobRunner(db_session)
    runner.enqueue("noop", {}, unique_key="round:1")
    with pytest.raises(Conflict):
        runner.enqueue("noop", {}, unique_key="round:1")
    assert db_session.scalar(select(Job.id).where(Job.unique_key == "round:1")) is not None


def test_a_run_whose_job_failed_is_failed_too(db_session: Session) -> None:
    from models import JobStatus as JS

    world = make_round(db_session)
    runner = DatabaseJobRunner(db_session)
    run = runs.start_run(db_session, runner, world.commissioner, world.round)
    job = db_session.get(Job, run.job_id)
    job.status = JS.failed
    job.error = "The worker stopped answering too many times."
    db_session.flush()
    runs.sync_with_job(db_session, runner, run)
    assert run.status == RunStatus.failed
    assert run.error == "The worker stopped answering too many times."
    # The round is free for another run.
    assert runs.active_run(db_session, world.round) is None


def _queued_run(db_session: Session, **kwargs: object) -> tuple[object, int]:
    world = make_round(db_session, **kwargs)  # type: ignore[arg-type]
    run = runs.start_run(db_session, DatabaseJobRunner(db_session), world.commissioner, world.round)
    db_session.commit()
    return world, run.id


def test_a_finished_run_stores_the_whole_explanations_document(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    from engine.explain import EXPLANATIONS_FORMAT

    world, run_id = _queued_run(
        db_session,
        mechanism="welfare",
        rules=[{"type": "coverage_floor", "attribute": "area", "min_share": 0.5}],
    )
    said: list[tuple[int, str | None]] = []
    run = runs.execute_run(session_factory, run_id, lambda p, m: said.append((p, m)) or True)
    assert (run.status, run.progress, run.message) == (RunStatus.succeeded, 100, "Finished")
    document = runs.explanations(run)
    assert document is not None and document["format"] == EXPLANATIONS_FORMAT
    assert document["complete"] is True
    assert len(document["persons"]) == len(world.people)
    assert [r["rule"] for r in document["rules"]] == [0]
    assert len(document["places"]) == len(world.offers)
    # Progress names each phase, in plain words and in order.
    words = [m or "" for _, m in said]
    firsts = [
        next(i for i, w in enumerate(words) if w.startswith(start))
        for start in (
            "Reading the round",
            "Explaining each person's place",
            "Working out what each fairness rule costs",
            "Working out what one more place would be worth",
            "Saving the places and every explanation",
        )
    ]
    assert firsts == sorted(firsts)
    assert [p for p, _ in said] == sorted(p for p, _ in said)
    db_session.expire_all()
    assert world.round.status == RoundStatus.allocated


def test_a_stable_run_has_no_welfare_figures(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world, run_id = _queued_run(db_session)
    run = runs.execute_run(session_factory, run_id)
    document = runs.explanations(run)
    assert document["mechanism"] == "stable"
    assert (document["rules"], document["places"]) == ([], [])
    assert len(document["persons"]) == len(world.people)


def test_a_run_the_engine_could_not_fully_explain_fails_and_keeps_nothing(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world, run_id = _queued_run(
        db_session,
        mechanism="welfare",
        rules=[{"type": "coverage_floor", "attribute": "area", "min_share": 0.5}],
    )
    with pytest.raises(runs.ExplanationsIncomplete):
        runs.execute_run(session_factory, run_id, explain_time_limit_s=0.0)
    db_session.expire_all()
    run = db_session.get(SolverRun, run_id)
    assert run.status == RunStatus.failed
    assert "explained every person" in run.error
    assert (run.result_json, run.analysis, run.status_of_result) == (None, None, None)
    assert world.round.status == RoundStatus.closed  # nothing to publish


def test_an_old_explain_job_is_a_harmless_no_op(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    world, run_id = _queued_run(db_session)
    runner = DatabaseJobRunner(db_session)
    job_id = runner.enqueue(runs.OLD_EXPLAIN_JOB_KIND, {"run_id": run_id}, unique_key="explain:1:0")
    db_session.commit()
    old = db_session.get(Job, job_id)
    job = claim_next_job(db_session, "worker-a")
    while job is not None and job.id != old.id:  # the run's own job is older
        job = claim_next_job(db_session, "worker-a")
    assert job is not None
    assert run_job(session_factory, job, "worker-a", heartbeat_every_s=None) is True
    db_session.expire_all()
    assert db_session.get(Job, job_id).status == JobStatus.done
    assert db_session.get(Job, job_id).result["skipped"]


@pytest.mark.slow
def test_a_run_on_the_demo_council_stores_everything_and_finishes(
    db_session: Session, session_factory: Callable[[], Session]
) -> None:
    from models import Round, User
    from models.accounts import Role
    from web.services import rounds
    from web.services.demo import build_demo

    build_demo(db_session)
    spring = db_session.scalars(select(Round).where(Round.status == RoundStatus.open)).one()
    commissioner = db_session.scalars(select(User).where(User.role == Role.commissioner)).first()
    rounds.close_round(db_session, commissioner, spring)
    run = runs.start_run(db_session, DatabaseJobRunner(db_session), commissioner, spring)
    db_session.commit()
    run = runs.execute_run(session_factory, run.id)
    assert run.status == RunStatus.succeeded and run.message == "Finished"
    document = runs.explanations(db_session.get(SolverRun, run.id))
    instance = json.loads(run.instance_json)
    assert document["complete"] is True
    assert [p["id"] for p in document["persons"]] == sorted(p["id"] for p in instance["persons"])
    assert len(document["rules"]) == len(instance["policy"]["rules"]) == 1
    assert [p["offer"] for p in document["places"]] == sorted(o["id"] for o in instance["offers"])
