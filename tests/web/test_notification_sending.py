"""Sending the outbox for real: an SMTP server on 127.0.0.1 (aiosmtpd), GOV.UK Notify's client
against a fake Notify on 127.0.0.1, and a worker stopped dead at every step of a send."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.base import utcnow
from models.notifications import Notification, NotificationStatus
from tests import factories
from web.notifying import FolderSender, NotifySender, SmtpSender, deliver_due
from web.services.notifications import CONSENT_ASKED, LEASE, PLACE_OFFERED, notify, set_preferences


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """What arrived at the SMTP server: every delivery, in order."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[list[str], Any]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.deliveries.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"

    def message_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(str(mail["Message-ID"]) for _, mail in self.deliveries)


class SmtpServer:
    def __init__(self) -> None:
        self.port = _free_port()
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _sender(smtp: SmtpServer) -> SmtpSender:
    return SmtpSender("127.0.0.1", smtp.port, timeout_s=5)


def _rows(session: Session) -> list[Notification]:
    session.expire_all()
    return list(session.scalars(select(Notification).order_by(Notification.id)))


def test_a_message_arrives_by_smtp_in_plain_words(
    db_session: Session, session_factory: Callable[[], Session], smtp: SmtpServer
) -> None:
    user = factories.UserFactory(email="ann@example.org", display_name="Ann")
    notify(
        db_session,
        user_id=user.id,
        event=PLACE_OFFERED,
        data={"offer_name": "Gardening club", "answer_by": "2026-12-11T17:00:00+00:00"},
        key="offer:1",
    )
    db_session.commit()

    sent = deliver_due(session_factory, _sender(smtp), "w", public_url="http://127.0.0.1:5000")

    assert sent == 1
    [(to, mail)] = smtp.mailbox.deliveries
    assert to == ["ann@example.org"]
    assert mail["Subject"] == "You have been offered a place: Gardening club"
    body = mail.get_payload()
    assert "Hello Ann," in body and "by Friday 11 December 2026" in body
    assert "http://127.0.0.1:5000/person/place" in body
    [row] = _rows(db_session)
    assert row.status == NotificationStatus.sent
    assert mail["Message-ID"].startswith(f"<tapestry-notification-{row.id}-")


def test_the_mail_server_down_for_an_hour_loses_nothing(
    db_session: Session, session_factory: Callable[[], Session], smtp: SmtpServer
) -> None:
    users = [factories.UserFactory() for _ in range(3)]
    for n, user in enumerate(users):
        notify(db_session, user_id=user.id, event=CONSENT_ASKED, data={}, key=f"ask:{n}")
    db_session.commit()
    smtp.stop()
    start = utcnow()
    now = start
    tries = 0
    while now < start + timedelta(hours=1):
        deliver_due(session_factory, _sender(smtp), "w", now=now)
        tries += 1
        now += timedelta(minutes=1)
    rows = _rows(db_session)
    assert {row.status for row in rows} == {NotificationStatus.pending}
    assert all("could not reach the mail server" in (row.last_error or "") for row in rows)
    # Backoff: far fewer tries of each message than looks at the outbox, each at most 10
    # minutes apart.
    assert all(row.attempts < 15 for row in rows) and tries == 60
    assert all(row.next_attempt_at - now <= timedelta(minutes=10) for row in rows)

    smtp.start()
    deliver_due(session_factory, _sender(smtp), "w", now=now + timedelta(minutes=10))

    assert {row.status for row in _rows(db_session)} == {NotificationStatus.sent}
    assert sorted(smtp.mailbox.message_ids().values()) == [1, 1, 1]


class Killed(BaseException):
    """The worker dies here: nothing after this line of the send runs (like kill -9)."""


STEPS = ("claimed", "sending", "handed_over", "sent", "marked")


class CountingSmtp(SmtpSender):
    """The real SMTP sender, noting each time a redo had to treat a message as maybe sent."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.unknown_outcomes = 0

    def sent_before(self, message: Any) -> str | None:
        self.unknown_outcomes += 1
        return super().sent_before(message)


def test_a_worker_killed_100_times_mid_send_loses_nothing_and_doubles_nothing(
    db_session: Session, session_factory: Callable[[], Session], smtp: SmtpServer
) -> None:
    users = [factories.UserFactory() for _ in range(25)]
    for n, user in enumerate(users):
        notify(db_session, user_id=user.id, event=CONSENT_ASKED, data={}, key=f"ask:{n}")
    db_session.commit()
    now = utcnow()
    kills: Counter[str] = Counter()
    plan = iter([STEPS[n % len(STEPS)] for n in range(100)])
    sender = CountingSmtp("127.0.0.1", smtp.port)
    target = next(plan, None)

    def step(name: str, _item: object) -> None:
        if name == target:
            kills[name] += 1
            raise Killed

    while True:
        try:
            deliver_due(session_factory, sender, f"w{sum(kills.values())}", now=now,
                        limit=3, step=step)  # fmt: skip
        except Killed:
            # A new worker starts; the dead one's rows are free once their lease runs out.
            now += LEASE + timedelta(seconds=1)
            target = next(plan, None)
            continue
        if target is None and all(r.status == NotificationStatus.sent for r in _rows(db_session)):
            break
        now += timedelta(seconds=1)

    assert sum(kills.values()) == 100 and set(kills) == set(STEPS)
    rows = _rows(db_session)
    ids = smtp.mailbox.message_ids()
    # Nothing lost: every row sent, each message in the mailbox.
    assert all(row.status == NotificationStatus.sent for row in rows)
    assert len(ids) == len(rows) == 25
    # Counted honestly: the mailbox's distinct messages (what a reader sees, as a mailbox
    # that drops a Message-ID it has) and every transmission the server took.
    transmissions = sum(ids.values())
    assert all(mid.startswith("<tapestry-notification-") for mid in ids)
    # A worker killed before the hand-over was recorded ("claimed", "sending") leaves a
    # message that certainly did not go: the next worker sends it as new, nothing doubles.
    # Killed after it ("handed_over", "sent"), the next worker cannot know and sends again
    # with the same Message-ID; only a kill after the server took it ("sent") makes a second
    # transmission. That gap is the one SMTP cannot close (see web.services.notifications).
    assert sender.unknown_outcomes == kills["handed_over"] + kills["sent"]
    assert transmissions - len(ids) == kills["sent"]
    assert sorted(set(ids.values())) <= [1, 2]


class FakeNotify(BaseHTTPRequestHandler):
    """GOV.UK Notify's API, as far as the tests need: it keeps what it was sent."""

    sent: list[tuple[str, dict[str, Any]]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.headers["Authorization"].startswith("Bearer ")
        self.sent.append((self.path, body))
        self._answer(201, {"id": f"notify-{len(self.sent)}", "reference": body.get("reference")})

    def do_GET(self) -> None:  # noqa: N802
        asked = parse_qs(urlparse(self.path).query).get("reference", [None])[0]
        found = [
            {"id": f"notify-{n}", "reference": body.get("reference")}
            for n, (_, body) in enumerate(self.sent, 1)
            if body.get("reference") == asked
        ]
        self._answer(200, {"notifications": found, "links": {}})

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def fake_notify() -> Iterator[str]:
    FakeNotify.sent = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeNotify)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


API_KEY = (
    "test-" + "26785a09-ab16-4eb0-8407-a37497a57506" + "-" + "3d844edf-8d35-48ac-975b-e847b4f122b0"
)
TEMPLATES = {"email": "tmpl-email", "text": "tmpl-text", "letter": "tmpl-letter"}


def test_gov_uk_notify_gets_email_text_and_letter_with_references(
    db_session: Session, session_factory: Callable[[], Session], fake_notify: str
) -> None:
    mailer = factories.UserFactory(email="e@example.org")
    texter = factories.UserFactory()
    writer = factories.UserFactory(display_name="Wyn Jones")
    set_preferences(db_session, texter, channel="text", phone="07700 900123")
    set_preferences(
        db_session, writer, channel="letter", postal_address="1 High St\nWestmere\nWM1 1AA"
    )
    for user in (mailer, texter, writer):
        notify(db_session, user_id=user.id, event=CONSENT_ASKED, data={}, key=f"ask:{user.id}")
    db_session.commit()
    sender = NotifySender(API_KEY, TEMPLATES, base_url=fake_notify)  # type: ignore[arg-type]

    assert deliver_due(session_factory, sender, "w") == 3

    by_path = {path: body for path, body in FakeNotify.sent}
    email = by_path["/v2/notifications/email"]
    assert email["email_address"] == "e@example.org" and email["template_id"] == "tmpl-email"
    assert email["personalisation"]["subject"] == "Someone has asked to help you"
    text = by_path["/v2/notifications/sms"]
    assert text["phone_number"] == "+447700900123" and text["template_id"] == "tmpl-text"
    letter = by_path["/v2/notifications/letter"]["personalisation"]
    assert [letter[f"address_line_{n}"] for n in range(1, 5)] == [
        "Wyn Jones", "1 High St", "Westmere", "WM1 1AA"
    ]  # fmt: skip
    rows = _rows(db_session)
    assert {row.status for row in rows} == {NotificationStatus.sent}
    assert {body["reference"] for _, body in FakeNotify.sent} == {
        f"tapestry-notification-{row.id}" for row in rows
    }
    assert all((row.sender_reference or "").startswith("notify-") for row in rows)


def test_a_notify_redo_after_a_crash_asks_first_and_sends_nothing_again(
    db_session: Session, session_factory: Callable[[], Session], fake_notify: str
) -> None:
    user = factories.UserFactory()
    notify(db_session, user_id=user.id, event=CONSENT_ASKED, data={}, key="ask:redo")
    db_session.commit()
    sender = NotifySender(API_KEY, TEMPLATES, base_url=fake_notify)  # type: ignore[arg-type]
    now = utcnow()

    def die_after_send(name: str, _item: object) -> None:
        if name == "sent":
            raise Killed

    with pytest.raises(Killed):
        deliver_due(session_factory, sender, "dead", now=now, step=die_after_send)
    assert deliver_due(session_factory, sender, "alive", now=now + LEASE * 2) == 1

    assert len(FakeNotify.sent) == 1
    [row] = _rows(db_session)
    assert row.status == NotificationStatus.sent and row.sender_reference == "notify-1"


def test_the_folder_sender_writes_one_file_per_message(
    db_session: Session, session_factory: Callable[[], Session], tmp_path: Path
) -> None:
    user = factories.UserFactory(email="f@example.org")
    notify(db_session, user_id=user.id, event=CONSENT_ASKED, data={}, key="ask:f")
    db_session.commit()

    deliver_due(session_factory, FolderSender(tmp_path / "mail"), "w")

    [path] = (tmp_path / "mail").iterdir()
    mail = message_from_bytes(path.read_bytes())
    assert path.suffix == ".eml" and mail["To"] == "f@example.org"
    assert mail["Subject"] == "Someone has asked to help you"
