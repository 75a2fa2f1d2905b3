"""The embedded job worker: ``tapestry worker``, or a process started beside the demo server.

A worker polls the ``jobs`` table (:mod:`web.services.jobs`), claims one job at a time with a
guarded update, runs it with a heartbeat, and goes back to waiting. Several workers, in one
machine or many, can share a database: a job is only ever claimed by one of them.

Handlers register themselves when their service module is imported; :data:`JOB_MODULES`
lists those modules so a worker knows every kind of job.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
from importlib import import_module
from multiprocessing.process import BaseProcess

from sqlalchemy.exc import OperationalError

from models.db import make_engine, make_session_factory
from models.keys import Keys, active_keys, use_keys
from web.services.jobs import claim_next_job, run_job

log = logging.getLogger(__name__)

#: Modules whose import registers job handlers.
JOB_MODULES = ("web.services.allocation_runs",)
DEFAULT_POLL_S = 1.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def run_worker(
    database_url: str,
    *,
    stop: threading.Event | None = None,
    poll_interval_s: float = DEFAULT_POLL_S,
    max_jobs: int | None = None,
    worker_id: str | None = None,
) -> int:
    """Run jobs until ``stop`` is set (or ``max_jobs`` have run). Returns how many ran."""
    for module in JOB_MODULES:
        import_module(module)
    stop = stop or threading.Event()
    worker_id = worker_id or worker_name()
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    done = 0
    log.info("worker %s waiting for jobs", worker_id)
    try:
        while not stop.is_set() and (max_jobs is None or done < max_jobs):
            try:
                with factory() as session:
                    job = claim_next_job(session, worker_id)
            except OperationalError:
                # The database is busy (SQLite's lock) or restarting: wait and look again.
                log.warning("worker %s could not look for jobs; trying again", worker_id)
                stop.wait(poll_interval_s)
                continue
            if job is None:
                stop.wait(poll_interval_s)
                continue
            log.info("worker %s running job %s (%s)", worker_id, job.id, job.kind)
            run_job(factory, job, worker_id)
            done += 1
    finally:
        engine.dispose()
    return done


def _worker_main(database_url: str, poll_interval_s: float, keys: Keys) -> None:
    use_keys(keys)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")
    run_worker(database_url, stop=stop, poll_interval_s=poll_interval_s)


def start_embedded_worker(
    database_url: str, *, poll_interval_s: float = DEFAULT_POLL_S, keys: Keys | None = None
) -> BaseProcess:
    """Start a worker process beside the web server (the embedded default); returns it.

    It uses this process's keys (or ``keys``) for the audit trail and TOTP secrets. Stop it
    with ``process.terminate()`` (SIGTERM: it finishes the job in hand first).
    """
    context = multiprocessing.get_context("spawn")
    process = context.Process(
        target=_worker_main,
        args=(database_url, poll_interval_s, keys or active_keys()),
        name="tapestry-worker",
        daemon=True,
    )
    process.start()
    return process
