"""Faults under load: gunicorn workers killed and PostgreSQL restarted while people write.

The real app runs under gunicorn (three gthread workers) on 127.0.0.1, on a PostgreSQL cluster
of this test's own: a throwaway cluster (``initdb`` in a temporary folder, a free port) made
with the binaries of the test server (``TAPESTRY_PG_BINDIR``, exported by ``scripts/postgres``,
or Debian's newest). Restarting the shared test cluster would cut off every other test using
it, so this test never touches it.

Client threads act as people, each owning a few of them so that one person's writes come one
after another: they set their choices in an open round (``PUT /api/v1/me/choices``) and accept
or decline their offered places in a published round (``POST .../accept`` or ``.../decline``
with an ``Idempotency-Key``). A request that gets no answer (its worker was killed) or a 503
(the database is down) is sent again, with the same key, until it is answered. Meanwhile a
chaos thread kills gunicorn workers with SIGKILL (the master starts new ones) and restarts
PostgreSQL with a fast shutdown, checking that the app answers 503 JSON while it is down.

Afterwards: no answer was a 500 (or any 5xx but 503), every acknowledged write is in the
database, and the books balance (see :mod:`tests.integrity.worlds`). The load is bounded in
count and time.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from models import Allocation, Choice, PersonProfile
from models.audit import verify_chain
from models.db import make_engine, make_session_factory, upgrade
from tests import factories
from tests.integrity.worlds import (
    check_choices,
    check_money,
    check_places,
    open_world,
    publish_world,
)
from tests.serving import Server, free_port, serve, signed_in_cookie

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
log = logging.getLogger(__name__)

CLIENT_THREADS = 6
ACTIONS_PER_THREAD = 60
LOAD_SECONDS = 75.0
#: How long a client keeps sending one request again before the test fails.
ANSWER_WITHIN_S = 45.0
WORKERS = 3


# -- a PostgreSQL cluster of the test's own -------------------------------------------------


def _bindir() -> Path | None:
    given = os.environ.get("TAPESTRY_PG_BINDIR")
    candidates = [Path(given)] if given else sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    found = [c for c in candidates if (c / "initdb").exists() and (c / "pg_ctl").exists()]
    return found[-1] if found else None


@dataclass
class Cluster:
    bindir: Path
    folder: Path
    port: int
    run_as: list[str] = field(default_factory=list)

    @property
    def server_url(self) -> str:
        return f"postgresql+psycopg://tapestry@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.folder), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=120,
        )

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} "
            "-c max_connections=100 -c fsync=off"
        )
        self._pg_ctl("-w", "-l", str(self.folder / "server.log"), "-o", options, "start")

    def stop(self) -> None:
        """A fast shutdown: sessions are cut off, open transactions rolled back."""
        self._pg_ctl("-w", "-m", "fast", "stop")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if not os.environ.get("TAPESTRY_TEST_DATABASE_URL"):
        pytest.skip("needs PostgreSQL (set TAPESTRY_TEST_DATABASE_URL; ./scripts/test does)")
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL's initdb and pg_ctl are not installed")
    folder = Path(tempfile.mkdtemp(prefix="tapestry-faults-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(folder, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(folder), "-U", "tapestry", "--auth=trust"],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=180,
    )
    found = Cluster(bindir, folder, free_port(), run_as)
    found.start()
    try:
        yield found
    finally:
        try:
            found.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def database_on_cluster(cluster: Cluster) -> str:
    admin = create_engine(cluster.server_url, isolation_level="AUTOCOMMIT")
    name = f"faults_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    url = cluster.server_url.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    return url


# -- the people ---------------------------------------------------------------------------


@dataclass
class Person:
    person_id: int
    cookie: str
    kind: str  # "choose" (open round) or "decide" (published round)


@dataclass
class Seen:
    """What the clients saw, and the writes the server acknowledged."""

    statuses: Counter[int] = field(default_factory=Counter)
    no_answer: int = 0
    problems: list[str] = field(default_factory=list)
    decided: dict[int, str] = field(default_factory=dict)  # allocation id -> status
    chosen: dict[int, list[int]] = field(default_factory=dict)  # person id -> offer ids
    lock: threading.Lock = field(default_factory=threading.Lock)


def _ask(
    server: Server,
    seen: Seen,
    method: str,
    path: str,
    cookie: str,
    body: bytes | None = None,
    key: str | None = None,
) -> tuple[int, bytes] | None:
    """Send one request until it is answered (not 503, not cut off); None when it never is."""
    headers = {"Cookie": cookie, "X-Requested-With": "fault-test"}
    if key is not None:
        headers["Idempotency-Key"] = key
    give_up = time.monotonic() + ANSWER_WITHIN_S
    while time.monotonic() < give_up:
        try:
            status, answer, response_headers = server.request(
                method, path, body=body, headers=headers
            )
        except OSError:  # the worker was killed mid-request: no answer, so ask again
            with seen.lock:
                seen.no_answer += 1
            time.sleep(0.2)
            continue
        with seen.lock:
            seen.statuses[status] += 1
        if status >= 500:
            _check_unavailable(seen, method, path, status, answer, response_headers)
            time.sleep(0.3)
            continue
        return status, answer
    with seen.lock:
        seen.problems.append(f"{method} {path}: no answer within {ANSWER_WITHIN_S} s")
    return None


def _check_unavailable(
    seen: Seen, method: str, path: str, status: int, answer: bytes, headers: dict[str, str]
) -> None:
    with seen.lock:
        if status != 503:
            seen.problems.append(f"{method} {path} answered {status}: {answer[:300]!r}")
            return
        try:
            payload = json.loads(answer)
        except ValueError:
            seen.problems.append(f"{method} {path}: a 503 that is not JSON: {answer[:200]!r}")
            return
        if payload.get("code") != 503 or "retry-after" not in headers:
            seen.problems.append(f"{method} {path}: 503 without its shape: {payload}")


def _choose(server: Server, seen: Seen, rng: random.Random, who: Person, offers: list[int]) -> None:
    wanted = rng.sample(offers, k=rng.randint(1, 3))
    answered = _ask(
        server,
        seen,
        "PUT",
        "/api/v1/me/choices",
        who.cookie,
        json.dumps({"offer_ids": wanted}).encode(),
    )
    if answered is not None and answered[0] == 200:
        with seen.lock:
            seen.chosen[who.person_id] = wanted


def _decide(server: Server, seen: Seen, rng: random.Random, who: Person) -> None:
    answered = _ask(server, seen, "GET", "/api/v1/allocations/mine", who.cookie)
    if answered is None or answered[0] != 200:
        return
    offered = [a["id"] for a in json.loads(answered[1])["allocations"] if a["status"] == "offered"]
    if not offered:
        return
    allocation_id = rng.choice(offered)
    action = "accept" if rng.random() < 0.55 else "decline"
    answered = _ask(
        server,
        seen,
        "POST",
        f"/api/v1/allocations/{allocation_id}/{action}",
        who.cookie,
        b"",
        key=uuid.uuid4().hex,
    )
    if answered is not None and answered[0] == 200:
        with seen.lock:
            seen.decided[allocation_id] = json.loads(answered[1])["status"]


def _client(
    server: Server, seen: Seen, seed: int, mine: list[Person], offers: list[int], end: float
) -> None:
    rng = random.Random(seed)
    for _ in range(ACTIONS_PER_THREAD):
        if time.monotonic() > end:
            return
        who = rng.choice(mine)
        if who.kind == "choose":
            _choose(server, seen, rng, who, offers)
        else:
            _decide(server, seen, rng, who)


# -- the faults ---------------------------------------------------------------------------


def _kill_a_worker(server: Server, seen: Seen) -> None:
    workers = server.worker_pids()
    if workers:
        os.kill(random.choice(workers), signal.SIGKILL)
    else:
        with seen.lock:
            seen.problems.append("gunicorn had no workers to kill")


def _restart_database(server: Server, seen: Seen, cluster: Cluster, probe: Person) -> None:
    cluster.stop()
    try:
        # While the database is down, the app says so: 503 JSON with Retry-After, never 500.
        for _ in range(3):
            try:
                status, answer, headers = server.request(
                    "GET", "/api/v1/allocations/mine", headers={"Cookie": probe.cookie}
                )
            except OSError:
                continue  # a worker killed a moment ago is still being replaced
            with seen.lock:
                seen.statuses[status] += 1
            if status != 503:
                with seen.lock:
                    seen.problems.append(f"with the database down the app answered {status}")
            else:
                _check_unavailable(seen, "GET", "(database down)", status, answer, headers)
        time.sleep(1.0)
    finally:
        cluster.start()


def _chaos(server: Server, seen: Seen, cluster: Cluster, probe: Person, end: float) -> None:
    plan = [
        (4.0, "kill"),
        (9.0, "restart"),
        (15.0, "kill"),
        (17.0, "kill"),
        (22.0, "restart"),
        (27.0, "kill"),
    ]
    started = time.monotonic()
    for at, fault in plan:
        time.sleep(max(0.0, started + at - time.monotonic()))
        if time.monotonic() > end:
            return
        log.info("fault at %.0f s: %s", time.monotonic() - started, fault)
        if fault == "kill":
            _kill_a_worker(server, seen)
        else:
            _restart_database(server, seen, cluster, probe)


# -- the test -----------------------------------------------------------------------------


def _people_with_cookies(session: Session, ids: list[int], kind: str) -> list[Person]:
    out = []
    for person_id in ids:
        person = session.get(PersonProfile, person_id)
        assert person is not None
        out.append(Person(person_id, signed_in_cookie(session, person.user), kind))
    return out


def test_killed_workers_and_a_restarted_database_lose_no_acknowledged_write(
    cluster: Cluster, database_on_cluster: str, tmp_path: Path
) -> None:
    url = database_on_cluster
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        factories.use_session(session)
        try:
            published_round_id, deciders = publish_world(session)
            open_round_id, choosers, offers = open_world(session)
        finally:
            factories.use_session(None)
        people = _people_with_cookies(session, deciders, "decide") + _people_with_cookies(
            session, choosers, "choose"
        )
        session.commit()
    engine.dispose()

    log.info("worlds ready; starting gunicorn")
    seen = Seen()
    random.Random(5).shuffle(people)
    shares = [people[i::CLIENT_THREADS] for i in range(CLIENT_THREADS)]
    with serve(url, tmp_path, workers=WORKERS, threads=4) as server:
        end = time.monotonic() + LOAD_SECONDS
        threads = [
            threading.Thread(
                target=_client, args=(server, seen, seed, share, offers, end), daemon=True
            )
            for seed, share in enumerate(shares)
        ]
        probe = next(p for p in people if p.kind == "decide")
        chaos = threading.Thread(
            target=_chaos, args=(server, seen, cluster, probe, end), daemon=True
        )
        log.info("gunicorn is up; %d clients start", len(threads))
        for thread in [*threads, chaos]:
            thread.start()
        for thread in [*threads, chaos]:
            thread.join(timeout=LOAD_SECONDS + 2 * ANSWER_WITHIN_S + 60)
            assert not thread.is_alive(), "a client did not finish"
        # The master replaced every killed worker (the last one may have been killed a moment
        # ago), and the app works again.
        assert len(server.wait_for_workers(WORKERS)) == WORKERS, server.log()[-3000:]
        status, _, _ = server.request(
            "GET", "/api/v1/allocations/mine", headers={"Cookie": probe.cookie}
        )
        assert status == 200
        server_log = server.log()

    log.info("answers %s, %d without an answer", dict(seen.statuses), seen.no_answer)
    assert seen.problems == [], "\n".join(seen.problems[:20]) + "\n" + server_log[-3000:]
    assert seen.statuses[500] == 0
    assert seen.statuses[503] > 0  # the database was down for a while, and the app said so
    assert seen.decided and seen.chosen, f"too little was acknowledged: {seen.statuses}"

    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            for allocation_id, status in seen.decided.items():
                got = session.get(Allocation, allocation_id)
                assert got is not None
                assert got.status == status, f"allocation {allocation_id}: {status} acknowledged"
            for person_id, wanted in seen.chosen.items():
                got = list(
                    session.scalars(
                        select(Choice.offer_id)
                        .where(Choice.round_id == open_round_id, Choice.person_id == person_id)
                        .order_by(Choice.rank)
                    )
                )
                assert got == wanted, f"person {person_id}: choices {wanted} were acknowledged"
            check_places(session, published_round_id)
            check_money(session, published_round_id)
            check_choices(session, open_round_id)
            assert verify_chain(session) == []
    finally:
        engine.dispose()
