"""The real app served by gunicorn on 127.0.0.1 in a subprocess, for tests that need real
processes and sockets (concurrent replays, killed workers, a restarted database).

Not a conftest: tests call :func:`serve` as a context manager::

    with serve(database_url, tmp_path, workers=2) as server:
        status, body = server.request("GET", "/api/v1/offers")

and :func:`signed_in_cookie` makes a session for a user straight in the database (the sign-in
form is tested elsewhere; here it would only spend time hashing passwords).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from models.accounts import User
from models.base import utcnow
from web.services.accounts import SessionPolicy, start_session

ROOT = Path(__file__).resolve().parents[1]
COOKIE_NAME = "tapestry_session"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def signed_in_cookie(session: Session, user: User) -> str:
    """A live session for ``user`` (the caller commits); returns the ``Cookie`` header value."""
    token, _row = start_session(session, user, now=utcnow(), policy=SessionPolicy())
    return f"{COOKIE_NAME}={token}"


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    timeout_s: float = 30.0
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        """One request on a new connection: status, body and headers (lower-case names)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout_s)
        try:
            sent = {**self.headers, **(headers or {})}
            if body is not None:
                sent.setdefault("Content-Type", "application/json")
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            return (
                response.status,
                response.read(),
                {k.lower(): v for k, v in response.getheaders()},
            )
        finally:
            connection.close()

    def worker_pids(self) -> list[int]:
        """The gunicorn workers' process ids (children of the master)."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # "pid (name) state ppid ...": the name may hold spaces, so split after it.
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue  # the process ended meanwhile
            if int(fields[1]) == self.process.pid:
                pids.append(int(stat.parent.name))
        return sorted(pids)

    def wait_for_workers(self, count: int, within_s: float = 30.0) -> list[int]:
        """The workers' process ids once there are ``count`` of them (the master forks a
        replacement for a killed worker a moment after it notices), or the last ones seen."""
        end = time.monotonic() + within_s
        pids = self.worker_pids()
        while len(pids) != count and time.monotonic() < end:
            time.sleep(0.1)
            pids = self.worker_pids()
        return pids

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _wait_until_up(server: Server, deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn stopped at start-up:\n{server.log()[-3000:]}")
        try:
            status, _, _ = server.request("GET", "/api/v1/openapi.json")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {deadline_s} s:\n{server.log()[-3000:]}")


@contextmanager
def serve(
    database_url: str,
    folder: Path,
    *,
    workers: int = 2,
    threads: int = 4,
    extra_env: dict[str, str] | None = None,
    start_timeout_s: float = 90.0,
) -> Iterator[Server]:
    """gunicorn ``web.wsgi:app`` on 127.0.0.1:<free port> (gthread workers), stopped after."""
    port = free_port()
    log_path = folder / "gunicorn.log"
    env = {
        **os.environ,
        "TAPESTRY_DATABASE_URL": database_url,
        "TAPESTRY_INSTANCE_PATH": str(folder / "instance"),
        "TAPESTRY_SECRET_KEY": "serving tests secret key",
        "TAPESTRY_SESSION_COOKIE_SECURE": "false",
        "TAPESTRY_AUTO_UPGRADE_DB": "false",
        "PYTHONPATH": str(ROOT),
        **(extra_env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--graceful-timeout",
        "5",
        "--timeout",
        "60",
        "--no-control-socket",  # several servers at once must not share one control socket
        "web.wsgi:app",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(process, port, log_path)
    try:
        _wait_until_up(server, start_timeout_s)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
