"""The embedded job worker: ``tapestry worker``, or a process started beside the demo server.

A worker polls the ``jobs`` table (:mod:`web.services.jobs`), claims one job at a time with a
guarded update, runs it with a heartbeat, and goes back to waiting. At each poll it also runs
the periodic tasks (offers past their deadline expire and their places are offered on), so a
place that comes free is offered again within one poll. Several workers, in one machine or
many, can share a database: a job is only ever claimed by one of them.

Beside the jobs, a thread sends the notifications outbox (:mod:`web.notifying`) when a sender
is set up (``TAPESTRY_MAIL_BACKEND``).

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
import time
from collections.abc import Callable, Iterable
from importlib import import_module
from multiprocessing.process import BaseProcess
from types import FrameType

from sqlalchemy.exc import OperationalError

from models.db import make_engine, make_session_factory
from models.keys import Keys, active_keys, use_keys
from web.notifying import Sender, start_sender_thread
from web.services.jobs import claim_next_job, run_job, run_periodic

log = logging.getLogger(__name__)

#: Modules whose import registers job handlers (and periodic tasks).
JOB_MODULES = ("web.services.allocation_runs", "web.services.places_cycle")
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
    sender: Sender | None = None,
) -> int:
    """Run jobs until ``stop`` is set (or ``max_jobs`` have run). Returns how many ran."""
    for module in JOB_MODULES:
        import_module(module)
    stop = stop or threading.Event()
    worker_id = worker_id or worker_name()
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    sending = threading.Event()
    sender_thread = start_sender_thread(
        factory, worker_id, sending, poll_interval_s=poll_interval_s, sender=sender
    )
    done = 0
    log.info("worker %s waiting for jobs", worker_id)
    try:
        while not stop.is_set() and (max_jobs is None or done < max_jobs):
            try:
                run_periodic(factory)
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
        sending.set()
        if sender_thread is not None:
            sender_thread.join()
        engine.dispose()
    return done


def take_stop_signals(
    handler: Callable[[int, FrameType | None], object],
    signals: Iterable[signal.Signals] = (signal.SIGINT, signal.SIGTERM),
) -> dict[signal.Signals, object]:
    """Handle ``signals`` with ``handler`` and unblock them; returns the handlers they had.

    A process does not always start with the usual handlers: one started as a script's
    background job (``cmd &`` with no job control, as in CI) begins with SIGINT ignored, and one
    started from a thread that blocks signals begins with them blocked. Either way Ctrl+C (or
    ``kill -INT``) would do nothing and the process would run on, so a long-running command
    takes its stop signals back at start.
    """
    wanted = tuple(signals)
    previous: dict[signal.Signals, object] = {sig: signal.signal(sig, handler) for sig in wanted}
    signal.pthread_sigmask(signal.SIG_UNBLOCK, wanted)
    return previous


#: How long an embedded worker may take to finish once told to stop (or orphaned), before it
#: is killed; a job cut short is taken up again when its heartbeat goes stale.
STOP_GRACE_S = 5.0


def _worker_main(database_url: str, poll_interval_s: float, keys: Keys, parent_pid: int) -> None:
    # A process group of its own: the server signals the whole group (the worker and anything
    # it starts) when it stops, and a Ctrl+C meant for the server reaches it only that way.
    os.setpgrp()
    use_keys(keys)
    stop = threading.Event()
    take_stop_signals(lambda *_: stop.set())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")
    threading.Thread(
        target=_exit_with_parent, args=(parent_pid, stop), name="parent-watch", daemon=True
    ).start()
    run_worker(database_url, stop=stop, poll_interval_s=poll_interval_s)


def _exit_with_parent(parent_pid: int, stop: threading.Event) -> None:
    """Stop when the server that started this worker is gone (even killed with SIGKILL,
    which gives it no chance to stop the worker), and end the process if a job holds it."""
    while os.getppid() == parent_pid:
        if stop.wait(0.5):
            break
    stop.set()
    time.sleep(STOP_GRACE_S)
    os._exit(0)


def start_embedded_worker(
    database_url: str, *, poll_interval_s: float = DEFAULT_POLL_S, keys: Keys | None = None
) -> BaseProcess:
    """Start a worker process beside the web server (the embedded default); returns it.

    It uses this process's keys (or ``keys``) for the audit trail and TOTP secrets, runs in a
    process group of its own, and stops by itself when this process ends. Stop it with
    :func:`stop_embedded_worker`.
    """
    context = multiprocessing.get_context("spawn")
    process = context.Process(
        target=_worker_main,
        args=(database_url, poll_interval_s, keys or active_keys(), os.getpid()),
        name="tapestry-worker",
        daemon=True,
    )
    process.start()
    return process


def stop_embedded_worker(process: BaseProcess, *, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM to the worker's process group; SIGKILL to it if still running after
    ``grace_s`` (a job in hand is cut short and taken up again later)."""
    if process.pid is None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not process.is_alive():
            break
        _signal_group(process.pid, sig)
        process.join(timeout=grace_s)


def _signal_group(pid: int, sig: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:  # not yet in its own group (still starting): the process alone
            os.kill(pid, sig)
    except ProcessLookupError:
        pass  # gone already
