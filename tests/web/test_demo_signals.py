"""Stopping ``tapestry demo`` stops its worker too: SIGTERM or SIGINT to the demo leaves no
process behind, and a worker whose demo was killed outright stops by itself. SIGINT stops the
demo even when it was started with SIGINT ignored (a script's background job, as in CI) or
blocked."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.serving import free_port

ROOT = Path(__file__).resolve().parents[2]
#: Deadlines for the demo to come up and for processes to go; never asserted as timings.
START_DEADLINE_S = 120.0
STOP_DEADLINE_S = 30.0


def _children(pid: int) -> set[int]:
    """Every living descendant of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) is in brackets and may hold spaces.
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {p for p in found if _running(p)}


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def _start_demo(
    tmp_path: Path, *, preexec: Callable[[], object] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        "TAPESTRY_INSTANCE_PATH": str(tmp_path / "instance"),
        "PYTHONUNBUFFERED": "1",
    }
    demo = subprocess.Popen(
        [sys.executable, "-c", "from web.cli import main; main()", "demo",
         "--host", "127.0.0.1", "--port", str(port), "--persons", "12"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=preexec,
    )  # fmt: skip
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        assert demo.poll() is None, "the demo stopped before serving"
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/")
            up = connection.getresponse().status == 200
            connection.close()
        except OSError:
            up = False
        if up and any("spawn_main" in _command(p) for p in _children(demo.pid)):
            return demo, port
        time.sleep(0.2)
    demo.kill()
    demo.wait()
    pytest.fail("the demo did not start serving with its worker in time")


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _wait_gone(pids: set[int]) -> set[int]:
    deadline = time.monotonic() + STOP_DEADLINE_S
    while time.monotonic() < deadline:
        left = {p for p in pids if _running(p)}
        if not left:
            return left
        time.sleep(0.2)
    return {p for p in pids if _running(p)}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_the_demo_stops_its_worker(tmp_path: Path, sig: signal.Signals) -> None:
    demo, _port = _start_demo(tmp_path)
    _assert_signal_stops_all(demo, sig)


def _assert_signal_stops_all(demo: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """``sig`` ends the demo cleanly (status 0), and every process it started goes too."""
    children = _children(demo.pid)
    try:
        demo.send_signal(sig)
        assert demo.wait(timeout=STOP_DEADLINE_S) == 0
        assert _wait_gone(children) == set()
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        for pid in {p for p in children if _running(p)}:
            os.kill(pid, signal.SIGKILL)


def _ignore_sigint() -> None:
    # What a shell does to a background job when job control is off (`./scripts/test &`).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _block_stop_signals() -> None:
    # What a process started from a thread that blocks signals inherits.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(
    "preexec", [_ignore_sigint, _block_stop_signals], ids=["ignored", "blocked"]
)
def test_sigint_stops_a_demo_started_with_sigint_ignored_or_blocked(
    tmp_path: Path, preexec: Callable[[], None]
) -> None:
    demo, _port = _start_demo(tmp_path, preexec=preexec)
    _assert_signal_stops_all(demo, signal.SIGINT)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_worker_whose_demo_was_killed_stops_by_itself(tmp_path: Path) -> None:
    demo, _port = _start_demo(tmp_path)
    children = _children(demo.pid)
    try:
        demo.kill()  # SIGKILL: the demo cannot stop anything itself
        demo.wait(timeout=STOP_DEADLINE_S)
        assert _wait_gone(children) == set()
    finally:
        for pid in {p for p in children if _running(p)}:
            os.kill(pid, signal.SIGKILL)
