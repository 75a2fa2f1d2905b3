"""The exact sub-programs of an explanation, shared out over worker processes.

Each question or place value that no bound settles is one small HiGHS program, independent
of the others, so ``workers`` processes can solve them side by side. The processes start
with the model and its side prices (sent once, when the pool starts), take one task at a
time and send back a few integers. At most ``workers`` tasks are out at once, so that an
answer that comes back (an allocation found for one question holds the pairs of others) can
still spare the tasks not yet sent. With ``workers <= 1`` the tasks run here, in order.

Processes are started with ``spawn``, never ``fork``: HiGHS and OR-Tools keep threads of
their own, and a forked copy of a process with threads can deadlock.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: What a worker holds: set once by :func:`_start` (or directly, when there is no pool).
_state: dict[str, Any] = {}


def _start(state: dict[str, Any]) -> None:
    _state.clear()
    _state.update(state)


def _call(task: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    return task(_state, *args)


class TaskPool:
    """Up to ``workers`` processes sharing ``state``; started on first use and shut down by
    :meth:`close`."""

    def __init__(self, workers: int, state: dict[str, Any]) -> None:
        self.workers = max(1, int(workers))
        self.state = state
        self._pool: ProcessPoolExecutor | None = None

    def run(
        self,
        task: Callable[..., R],
        items: Iterable[tuple[T, tuple[Any, ...]]],
        done: Callable[[T, R], None],
        skip: Callable[[T], bool] = lambda _: False,
    ) -> None:
        """``task(state, *args)`` for each ``(key, args)`` of ``items`` whose key ``skip``
        does not refuse when its turn comes; ``done(key, result)`` for each, in the order they
        finish. ``task`` must be a module-level function (it is sent by name)."""
        todo = [(key, args) for key, args in items]
        if self.workers == 1 or len(todo) < 2:
            _start(self.state)
            for key, args in todo:
                if not skip(key):
                    done(key, task(self.state, *args))
            return
        pool = self._started()
        out: dict[Future[R], T] = {}
        queue = iter(todo)

        def send() -> bool:
            for key, args in queue:
                if not skip(key):
                    out[pool.submit(_call, task, args)] = key
                    return True
            return False

        while len(out) < self.workers and send():
            pass
        while out:
            finished, _ = wait(list(out), return_when=FIRST_COMPLETED)
            for future in finished:
                key = out.pop(future)
                done(key, future.result())
            while len(out) < self.workers and send():
                pass

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(self.state,),
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


__all__ = ["TaskPool"]
