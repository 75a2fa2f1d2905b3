"""Background jobs behind a small interface, with an embedded runner on the ``jobs`` table.

Services that start slow work (an allocation run) talk to a :class:`JobRunner`:

* ``enqueue(kind, payload, unique_key=None) -> job id``: ask for ``kind`` to run with
  ``payload`` (JSON). ``unique_key`` (e.g. ``"round:42"``) refuses a second job with the same key
  while one is queued or running, by raising :class:`~web.services.errors.Conflict`.
* ``status(job_id) -> JobState``: where it is (queued, running, done, failed) and its progress.

:class:`DatabaseJobRunner` is the embedded default: a job is a row in ``jobs``, inserted in the
caller's transaction (so a job exists exactly when the work that asked for it was committed).
Workers (``tapestry worker``, or the process ``tapestry demo`` starts beside the web server)
call :func:`claim_next_job` and :func:`run_job`. A distributed queue (workers on other
machines) can replace it by implementing the same two methods; the services never look at the
``jobs`` table themselves.

Claiming is a guarded update: ``UPDATE jobs SET status='running', locked_by=:me ... WHERE
id=:id AND (status='queued' OR <stale heartbeat>)``, and a worker owns the job only when the row
count is 1, so several workers never take the same job. A running worker refreshes
``heartbeat_at`` every few seconds; a job whose heartbeat is older than ``stale_after`` (its
worker died) may be claimed again, up to ``max_attempts`` times, after which it fails.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.base import utcnow
from models.jobs import Job, JobStatus
from web.services.errors import Conflict, NotFound

log = logging.getLogger(__name__)

#: A running job whose heartbeat is older than this is taken to be abandoned.
STALE_AFTER = timedelta(seconds=60)
HEARTBEAT_EVERY_S = 5.0


@dataclass(frozen=True, slots=True)
class JobState:
    """What a runner can say about a job."""

    id: int
    kind: str
    status: str
    progress: int
    message: str | None
    error: str | None


class JobRunner(Protocol):
    """Where services send slow work. See the module's documentation."""

    def enqueue(
        self, kind: str, payload: Mapping[str, Any], *, unique_key: str | None = None
    ) -> int: ...

    def status(self, job_id: int) -> JobState: ...


class DatabaseJobRunner:
    """The embedded runner: jobs are rows in the ``jobs`` table of the caller's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def enqueue(
        self, kind: str, payload: Mapping[str, Any], *, unique_key: str | None = None
    ) -> int:
        job = Job(kind=kind, payload=dict(payload), unique_key=unique_key, status=JobStatus.queued)
        try:
            with self.session.begin_nested():
                self.session.add(job)
                self.session.flush()
        except IntegrityError as error:
            raise Conflict("That is already running. Wait for it to finish.") from error
        return job.id

    def status(self, job_id: int) -> JobState:
        job = self.session.get(Job, job_id)
        if job is None:
            raise NotFound("There is no such job.")
        return JobState(job.id, job.kind, str(job.status), job.progress, job.message, job.error)


# -- workers ----------------------------------------------------------------------------------

#: kind -> handler(session_factory, job_id, payload, report). Handlers commit their own work.
Handler = Callable[[Callable[[], Session], int, dict[str, Any], "ProgressReporter"], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}


def register(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of ``kind``."""

    def decorate(handler: Handler) -> Handler:
        HANDLERS[kind] = handler
        return handler

    return decorate


#: name -> task(session_factory): regular work every worker does at each poll, such as expiring
#: offers past their deadline. Tasks commit their own work and must be safe to run in several
#: workers at once (guarded updates).
PeriodicTask = Callable[[Callable[[], Session]], int]
PERIODIC: dict[str, PeriodicTask] = {}


def register_periodic(name: str) -> Callable[[PeriodicTask], PeriodicTask]:
    """Register a task every worker runs at each poll."""

    def decorate(task: PeriodicTask) -> PeriodicTask:
        PERIODIC[name] = task
        return task

    return decorate


def run_periodic(session_factory: Callable[[], Session]) -> dict[str, int]:
    """Run every registered periodic task once; a task that fails is logged and skipped (it
    runs again at the next poll). What each task did."""
    done: dict[str, int] = {}
    for name, task in PERIODIC.items():
        try:
            done[name] = task(session_factory)
        except Exception:  # noqa: BLE001 - one failing task must not stop the worker
            log.exception("periodic task %s failed", name)
    return done


def claim_next_job(
    session: Session, worker_id: str, *, stale_after: timedelta = STALE_AFTER
) -> Job | None:
    """Claim the oldest job that is due (or abandoned) for ``worker_id``; commit; return it.

    Returns None when there is nothing to do. Jobs that used up their attempts are failed.
    """
    now = utcnow()
    stale = now - stale_after
    claimable = or_(
        Job.status == JobStatus.queued,
        and_(Job.status == JobStatus.running, Job.heartbeat_at < stale),
    )
    _fail_exhausted(session, stale)
    candidates = session.scalars(
        select(Job.id)
        .where(claimable, Job.run_after <= now, Job.attempts < Job.max_attempts)
        .order_by(Job.run_after, Job.id)
        .limit(5)
    ).all()
    for job_id in candidates:
        claimed = session.execute(
            update(Job)
            .where(Job.id == job_id, claimable, Job.attempts < Job.max_attempts)
            .values(
                status=JobStatus.running,
                locked_by=worker_id,
                locked_at=now,
                heartbeat_at=now,
                attempts=Job.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed == 1:
            session.commit()
            job = session.get(Job, job_id)
            if job is not None:
                session.refresh(job)
            # End the read's transaction: on SQLite it holds the write lock the job will need.
            session.commit()
            return job
    session.commit()
    return None


def _fail_exhausted(session: Session, stale: Any) -> None:
    session.execute(
        update(Job)
        .where(
            Job.status == JobStatus.running,
            Job.heartbeat_at < stale,
            Job.attempts >= Job.max_attempts,
        )
        .values(
            status=JobStatus.failed,
            error="The worker stopped answering too many times.",
            finished_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


class ProgressReporter:
    """Lets a handler report progress and keeps the job's heartbeat fresh.

    Every write is a guarded update on ``locked_by``: a worker that lost its job (declared
    stale and claimed by another) can no longer touch it.
    """

    def __init__(self, session_factory: Callable[[], Session], job_id: int, worker_id: str):
        self.session_factory = session_factory
        self.job_id = job_id
        self.worker_id = worker_id

    def __call__(self, progress: int, message: str | None = None) -> bool:
        """Record ``progress`` (0-100) and ``message``; False when the job is no longer ours."""
        values: dict[str, Any] = {"heartbeat_at": utcnow(), "progress": max(0, min(100, progress))}
        if message is not None:
            values["message"] = message[:500]
        return self._update(values)

    def beat(self) -> bool:
        return self._update({"heartbeat_at": utcnow()})

    def _update(self, values: dict[str, Any]) -> bool:
        with self.session_factory() as session:
            done = session.execute(
                update(Job)
                .where(
                    Job.id == self.job_id,
                    Job.locked_by == self.worker_id,
                    Job.status == JobStatus.running,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            ).rowcount
            session.commit()
            return done == 1


def run_job(
    session_factory: Callable[[], Session],
    job: Job,
    worker_id: str,
    *,
    heartbeat_every_s: float | None = HEARTBEAT_EVERY_S,
) -> bool:
    """Run a claimed job with its handler and record the outcome. True when it succeeded.

    While the handler runs, a thread refreshes the job's heartbeat every ``heartbeat_every_s``
    seconds (None: no thread, for tests that share one connection).
    """
    report = ProgressReporter(session_factory, job.id, worker_id)
    handler = HANDLERS.get(job.kind)
    stop = threading.Event()
    beating: threading.Thread | None = None
    if heartbeat_every_s is not None:

        def beat() -> None:
            while not stop.wait(heartbeat_every_s):
                try:
                    report.beat()
                except Exception:  # noqa: BLE001 - a missed beat is retried on the next one
                    log.warning("job %s: heartbeat failed", job.id, exc_info=True)

        beating = threading.Thread(target=beat, name=f"job-{job.id}-heartbeat", daemon=True)
        beating.start()
    try:
        if handler is None:
            raise LookupError(f"no handler for jobs of kind {job.kind!r}")
        result = handler(session_factory, job.id, dict(job.payload or {}), report)
    except Exception as error:  # noqa: BLE001 - any failure of the work is the job's outcome
        log.exception("job %s (%s) failed", job.id, job.kind)
        _finish(
            session_factory,
            job.id,
            worker_id,
            status=JobStatus.failed,
            error=f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=5)}"[:4000],
        )
        return False
    finally:
        stop.set()
        if beating is not None:
            beating.join()
    _finish(session_factory, job.id, worker_id, status=JobStatus.done, result=result)
    return True


def _finish(
    session_factory: Callable[[], Session],
    job_id: int,
    worker_id: str,
    *,
    status: JobStatus,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    with session_factory() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.locked_by == worker_id)
            .values(
                status=status,
                progress=100 if status == JobStatus.done else Job.progress,
                result=result,
                error=error,
                finished_at=utcnow(),
                heartbeat_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
