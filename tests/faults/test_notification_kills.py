"""A real worker process sending by SMTP, killed with SIGKILL mid-send again and again: every
message arrives, none is lost, and a message delivered twice (killed between the server taking
it and "sent" being recorded) carries the same Message-ID both times."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from models.accounts import Role
from models.db import make_engine, make_session_factory, upgrade
from models.notifications import Notification, NotificationStatus
from tests.web.test_notification_sending import Mailbox, SmtpServer
from web.services.accounts import create_user
from web.services.notifications import CONSENT_ASKED, notify

MESSAGES = 20
KILLS = 4


class SlowMailbox(Mailbox):
    """Takes a moment over each message, so a kill often lands in the middle of a send."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


def _worker(url: str, smtp: SmtpServer) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TAPESTRY_MAIL_BACKEND": "smtp",
        "TAPESTRY_SMTP_HOST": "127.0.0.1",
        "TAPESTRY_SMTP_PORT": str(smtp.port),
        # A short lease, so the next worker takes over a dead one's message within the test.
        "TAPESTRY_NOTIFICATION_LEASE_S": "2",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from web.cli import main; main()",
            "worker",
            "--url",
            url,
            "--poll",
            "0.1",
        ],  # fmt: skip
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _sent(factory: Any) -> int:
    with factory() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.status == NotificationStatus.sent)
            )
            or 0
        )


@pytest.mark.slow
def test_a_worker_killed_with_sigkill_mid_send_loses_and_doubles_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kills.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as session:
        for n in range(MESSAGES):
            user = create_user(
                session, email=f"p{n}@example.org", display_name=f"P {n}", role=Role.person,
                password="not used here at all",
            )  # fmt: skip
            notify(session, user_id=user.id, event=CONSENT_ASKED, data={}, key=f"ask:{n}")
        session.commit()
    smtp = SmtpServer()
    smtp.mailbox = SlowMailbox()
    smtp.start()
    try:
        kills = 0
        deadline = time.monotonic() + 60
        while kills < KILLS and time.monotonic() < deadline:
            before = len(smtp.mailbox.deliveries)
            worker = _worker(url, smtp)
            # Kill it once it has started sending: right after a message arrived.
            while len(smtp.mailbox.deliveries) == before and worker.poll() is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            time.sleep(0.03 * (kills % 3))
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            kills += 1
        assert kills == KILLS, "the worker never started sending"
        # The mail server goes away and comes back while a worker is running.
        smtp.stop()
        worker = _worker(url, smtp)
        time.sleep(1.0)
        smtp.start()
        while _sent(factory) < MESSAGES and time.monotonic() < deadline + 30:
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    finally:
        smtp.stop()
        engine.dispose()

    ids = smtp.mailbox.message_ids()
    assert _sent(make_session_factory(make_engine(url))) == MESSAGES  # nothing lost
    assert len(ids) == MESSAGES  # every message arrived, each with its own Message-ID
    # A message arrives twice only when a worker died between the server taking it and the
    # outbox saying so: at most one per kill, and then with the same Message-ID.
    assert sum(ids.values()) - len(ids) <= KILLS
