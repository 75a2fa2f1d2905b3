"""``Idempotency-Key``: 50 concurrent replays of one accept make one commitment and one answer.

The real app runs under gunicorn (two workers, several threads each) on 127.0.0.1, on a
database of the test's own (SQLite file, or PostgreSQL when ``TAPESTRY_TEST_DATABASE_URL`` is
set). Fifty threads send the same ``POST /api/v1/allocations/{id}/accept`` with the same key at
the same moment. Accepting is the one POST that creates a commitment (money moving from a
budget to a provider), so it must happen once: one commitment, one idempotency record, the
money counted once, and every one of the fifty gets the same status and body.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from models import (
    Allocation,
    AllocationStatus,
    AuditEvent,
    Budget,
    Commitment,
    IdempotencyRecord,
    RoundStatus,
)
from models.db import make_session_factory
from tests import factories
from tests.serving import serve, signed_in_cookie

REPLAYS = 50
PRICE_PENCE = 12_500


@pytest.fixture
def offered_place(fresh_engine: Engine) -> tuple[int, int, str]:
    """A person's offered, paid place in a published round: (allocation id, budget id,
    the person's session cookie)."""
    with make_session_factory(fresh_engine)() as session:
        factories.use_session(session)
        try:
            allocation = factories.AllocationFactory(
                run__round__status=RoundStatus.published, offer__price_pence=PRICE_PENCE
            )
            budget = factories.BudgetFactory(
                round=allocation.round, person=allocation.person, amount_pence=30_000
            )
            cookie = signed_in_cookie(session, allocation.person.user)
            session.commit()
            return allocation.id, budget.id, cookie
        finally:
            factories.use_session(None)


@pytest.mark.slow
def test_fifty_concurrent_replays_make_one_commitment_and_one_answer(
    offered_place: tuple[int, int, str],
    fresh_database_url: str,
    fresh_engine: Engine,
    tmp_path: Path,
) -> None:
    allocation_id, budget_id, cookie = offered_place
    path = f"/api/v1/allocations/{allocation_id}/accept"
    headers = {
        "Cookie": cookie,
        "X-Requested-With": "fetch",
        "Idempotency-Key": "accept-once-7f3a",
    }
    fresh_engine.dispose()
    with serve(fresh_database_url, tmp_path, workers=2, threads=8) as server:
        start = threading.Barrier(REPLAYS)

        def replay(_: int) -> tuple[int, bytes]:
            start.wait(timeout=60)
            status, body, _headers = server.request("POST", path, body=b"", headers=headers)
            return status, body

        with ThreadPoolExecutor(REPLAYS) as pool:
            answers = list(pool.map(replay, range(REPLAYS)))
        # A new key for the same place: it is accepted already, and says so.
        again = server.request(
            "POST", path, body=b"", headers={**headers, "Idempotency-Key": "another-key"}
        )

    assert len(answers) == REPLAYS
    assert {status for status, _ in answers} == {200}, server.log()[-2000:]
    assert len({body for _, body in answers}) == 1
    answer = json.loads(answers[0][1])
    assert answer["id"] == allocation_id and answer["status"] == "accepted"
    assert again[0] == 409

    with make_session_factory(fresh_engine)() as session:
        assert (
            session.scalar(select(func.count()).where(Commitment.allocation_id == allocation_id))
            == 1
        )
        assert (
            session.scalar(select(func.count()).where(IdempotencyRecord.key == "accept-once-7f3a"))
            == 1
        )
        assert session.scalar(select(Budget.committed_pence).where(Budget.id == budget_id)) == (
            PRICE_PENCE
        )
        assert (
            session.scalar(select(Allocation.status).where(Allocation.id == allocation_id))
            == AllocationStatus.accepted
        )
        assert (
            session.scalar(select(func.count()).where(AuditEvent.action == "allocation.accept"))
            == 1
        )
