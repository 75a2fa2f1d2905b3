"""Sending the notifications outbox: templates, the three ways to send, and the sending loop.

The rules for claiming, retrying and exactly-once are in :mod:`web.services.notifications`;
this module renders each claimed message from its plain-English template
(``web/templates/notifications/<event>.txt``: a ``Subject:`` line, a blank line, the body) and
hands it to one sender, chosen by configuration (environment variables, since the worker runs
without the web app):

``TAPESTRY_MAIL_BACKEND``
    ``smtp`` (email by an SMTP server), ``notify`` (email, text and letter by GOV.UK Notify) or
    ``folder`` (every message written as a file, as ``tapestry demo`` does). Unset: nothing is
    sent and messages wait in the outbox until a sender is set up; nothing is lost.
``TAPESTRY_SMTP_HOST``, ``TAPESTRY_SMTP_PORT`` (25), ``TAPESTRY_SMTP_USERNAME``,
``TAPESTRY_SMTP_PASSWORD``, ``TAPESTRY_SMTP_STARTTLS`` (``1`` to use it)
    The SMTP server.
``TAPESTRY_NOTIFY_API_KEY``, ``TAPESTRY_NOTIFY_BASE_URL`` (optional),
``TAPESTRY_NOTIFY_EMAIL_TEMPLATE``, ``TAPESTRY_NOTIFY_TEXT_TEMPLATE``,
``TAPESTRY_NOTIFY_LETTER_TEMPLATE``
    GOV.UK Notify: the key and one template id per channel. Each template is ``((subject))``
    (emails and letters) and ``((body))``; a channel without a template is not offered, and
    messages for it go by email.
``TAPESTRY_MAIL_FOLDER``
    Where the ``folder`` sender writes (default ``<instance folder>/mail``).
``TAPESTRY_MAIL_FROM``, ``TAPESTRY_PUBLIC_URL``
    The From address of emails, and the site's address for links in messages.
``TAPESTRY_NOTIFICATION_LEASE_S``
    How long a worker owns a message it took (default 300 seconds). Keep it far above the
    send time-out (30 seconds): a worker that is slow, not dead, must not lose its message.
"""

from __future__ import annotations

import email.utils
import gettext
import logging
import os
import smtplib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from babel.dates import format_date
from babel.support import Translations
from jinja2 import ChainableUndefined, Environment, FileSystemLoader, select_autoescape
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models.notifications import Channel
from web.services import languages
from web.services.notifications import (
    LEASE,
    SEND_TIMEOUT_S,
    ClaimedNotification,
    claim_due,
    mark_failed_try,
    mark_sent,
    record_handover,
)
from web.services.words import N_

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates" / "notifications"
TRANSLATIONS = Path(__file__).parent / "translations"
DEFAULT_FROM = "Tapestry <no-reply@tapestry.localhost>"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:5000"


# -- messages ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """One rendered message, ready for a sender."""

    channel: Channel
    address: str
    subject: str
    body: str
    message_id: str
    reference: str
    sent_from: str = DEFAULT_FROM


class TryLater(Exception):
    """The sender could not take the message now (server down, busy, timed out)."""


class Refused(Exception):
    """The sender will never take this message (a bad address, a bad template)."""


class Sender(Protocol):
    """Sends messages by the channels it names."""

    channels: frozenset[Channel]

    def send(self, message: Message) -> str | None:
        """Send; return the sender's own id for it, if any. Raises TryLater or Refused."""
        ...

    def sent_before(self, message: Message) -> str | None:
        """After a crash: the sender's id if this message (by its reference) went already,
        "" if it went but has no id, None if it did not or the sender cannot tell."""
        ...


def _nice_date(value: object, language: str = "en") -> str:
    """``Friday 5 March 2027`` (``Dydd Gwener 5 Mawrth 2027`` in Welsh)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, date):  # a datetime is a date too
        return str(format_date(value, "EEEE d MMMM y", locale=language))
    return str(value)


def _pounds(pence: object) -> str:
    if not isinstance(pence, int):
        return str(pence)
    return f"£{pence // 100:,}" if pence % 100 == 0 else f"£{pence / 100:,.2f}"


@cache
def _translations(language: str) -> gettext.NullTranslations:
    """The site's catalogue for ``language`` (``web/translations``): the pages' own words, so a
    message reads as the site does. English, and a language without a catalogue, as written."""
    if languages.known(language) in (None, languages.DEFAULT):
        return gettext.NullTranslations()
    return Translations.load(str(TRANSLATIONS), [language])


@cache
def _environment(language: str = "en") -> Environment:
    """The templates' environment for one language (built once each; the worker's threads
    share them, and nothing in them changes after they are built)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=(), default_for_string=False),
        undefined=ChainableUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # jinja2.ext.i18n adds install_gettext_translations; newstyle: _("..", name=x) fills %(name)s
    env.install_gettext_translations(_translations(language), newstyle=True)
    env.filters["nice_date"] = lambda value: _nice_date(value, language)
    env.filters["pounds"] = _pounds
    return env


def _say(language: str, message: str, **values: object) -> str:
    return _translations(language).gettext(message) % values


def render(item: ClaimedNotification, *, public_url: str, sent_from: str = DEFAULT_FROM) -> Message:
    """The message for ``item`` from its event's template (and the copy note for advocates).

    A reader who chose Easy Read gets the event's Easy Read template
    (``notifications/easy_read/<event>.txt``: one idea a line, short words), where it has one.
    """
    names = [f"easy_read/{item.event}.txt", f"{item.event}.txt"] if item.easy_read else []
    language = languages.known(item.language) or languages.DEFAULT
    template = _environment(language).select_template(names or [f"{item.event}.txt"])
    text = template.render(
        data=item.data,
        name=item.user_name,
        site=public_url.rstrip("/"),
        link=lambda path: public_url.rstrip("/") + str(path),
    ).strip()
    first, _, rest = text.partition("\n")
    if not first.startswith("Subject:"):
        raise Refused(f"template {item.event}.txt has no Subject: line")
    subject = first.removeprefix("Subject:").strip()
    body = rest.strip()
    if item.about_name:
        subject = _say(
            language, N_("For %(name)s: %(subject)s"), name=item.about_name, subject=subject
        )
        copy = _say(
            language,
            N_("You help %(name)s, so we are sending you a copy of this message to them."),
            name=item.about_name,
        )
        body = f"{copy}\n\n{body}"
    change = public_url.rstrip("/") + "/account/notifications"
    if item.easy_read:
        body += "\n\n" + _say(
            language, N_("Want us to tell you in another way? Go to %(link)s"), link=change
        )
    else:
        body += "\n\n" + _say(
            language, N_("To change how we tell you things, go to %(link)s"), link=change
        )
    domain = email.utils.parseaddr(sent_from)[1].partition("@")[2] or "tapestry.localhost"
    return Message(
        channel=item.channel,
        address=item.address,
        subject=subject,
        body=body,
        message_id=item.message_id(domain),
        reference=item.reference,
        sent_from=sent_from,
    )


def as_email(message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = message.sent_from
    mail["To"] = message.address
    mail["Subject"] = message.subject
    mail["Message-ID"] = message.message_id
    mail["Date"] = email.utils.formatdate(localtime=False)
    mail["X-Tapestry-Reference"] = message.reference
    mail.set_content(message.body)
    return mail


# -- senders ----------------------------------------------------------------------------------


class SmtpSender:
    """Email by an SMTP server. It cannot be asked what it has had, so a redo after a crash
    sends again with the same ``Message-ID`` (see :mod:`web.services.notifications`)."""

    channels = frozenset({Channel.email})

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout_s: float = SEND_TIMEOUT_S,
    ) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.starttls, self.timeout_s = starttls, timeout_s

    def send(self, message: Message) -> str | None:
        if message.channel != Channel.email:
            raise Refused(f"SMTP sends email only, not {message.channel}")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as server:
                if self.starttls:
                    server.starttls()
                if self.username:
                    server.login(self.username, self.password or "")
                server.send_message(as_email(message))
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            if all(500 <= code < 600 for code in codes):
                raise Refused(f"the mail server refused {message.address}: {codes}") from error
            raise TryLater(f"the mail server put off {message.address}: {codes}") from error
        except smtplib.SMTPResponseException as error:
            if 500 <= error.smtp_code < 600 and error.smtp_code not in (554,):
                raise Refused(f"the mail server said {error.smtp_code}") from error
            raise TryLater(f"the mail server said {error.smtp_code}") from error
        except (smtplib.SMTPException, OSError) as error:
            raise TryLater(f"could not reach the mail server: {error}") from error
        return None

    def sent_before(self, message: Message) -> str | None:
        return None


class NotifySender:
    """GOV.UK Notify through its official client, by email, text and letter.

    Each send carries the row's ``reference``; after a crash :meth:`sent_before` asks Notify
    for a message with that reference, so a message Notify already has is never sent again.
    """

    def __init__(
        self,
        api_key: str,
        templates: Mapping[Channel, str],
        *,
        base_url: str | None = None,
        client: Any | None = None,
    ) -> None:
        from notifications_python_client.notifications import NotificationsAPIClient

        if client is None:
            kwargs: dict[str, Any] = {"timeout": SEND_TIMEOUT_S}
            if base_url:
                kwargs["base_url"] = base_url
            client = NotificationsAPIClient(api_key, **kwargs)
        self.client = client
        self.templates = {channel: tid for channel, tid in templates.items() if tid}
        self.channels = frozenset(self.templates)

    def send(self, message: Message) -> str | None:
        template = self.templates.get(message.channel)
        if template is None:
            raise Refused(f"no GOV.UK Notify template for {message.channel}")
        with _notify_errors():
            if message.channel == Channel.email:
                answer = self.client.send_email_notification(
                    email_address=message.address,
                    template_id=template,
                    personalisation={"subject": message.subject, "body": message.body},
                    reference=message.reference,
                )
            elif message.channel == Channel.text:
                answer = self.client.send_sms_notification(
                    phone_number=message.address,
                    template_id=template,
                    personalisation={"body": f"{message.subject}\n\n{message.body}"},
                    reference=message.reference,
                )
            else:
                lines = message.address.split("\n")
                personalisation = {f"address_line_{n}": line for n, line in enumerate(lines, 1)}
                personalisation |= {"subject": message.subject, "body": message.body}
                answer = self.client.send_letter_notification(
                    template_id=template,
                    personalisation=personalisation,
                    reference=message.reference,
                )
        return str(answer.get("id")) if isinstance(answer, dict) and answer.get("id") else None

    def sent_before(self, message: Message) -> str | None:
        with _notify_errors():
            found = self.client.get_all_notifications(reference=message.reference)
        for notification in (found or {}).get("notifications", []):
            if notification.get("reference") == message.reference:
                return str(notification.get("id") or "")
        return None


class _notify_errors:
    """Turns the Notify client's errors into TryLater (5xx, 429, no answer) or Refused."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: Any):
        if error is None or not isinstance(error, Exception):
            return False
        from notifications_python_client.errors import HTTPError

        status = getattr(error, "status_code", None)
        if isinstance(error, HTTPError) and isinstance(status, int):
            if status == 429 or status >= 500:
                raise TryLater(f"GOV.UK Notify said {status}: {error}") from error
            raise Refused(f"GOV.UK Notify said {status}: {error}") from error
        raise TryLater(f"could not reach GOV.UK Notify: {error}") from error


class FolderSender:
    """Writes each message as a file in ``folder``: emails as ``.eml`` (open them in any mail
    program), texts and letters as ``.txt``. The name comes from the row, so a redo after a
    crash writes the same file again: never two copies."""

    channels = frozenset({Channel.email, Channel.text, Channel.letter})

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, message: Message) -> Path:
        suffix = "eml" if message.channel == Channel.email else "txt"
        return self.folder / f"{message.reference}-{message.channel}.{suffix}"

    def send(self, message: Message) -> str | None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.path_for(message)
            if message.channel == Channel.email:
                content = as_email(message).as_bytes()
            else:
                kind = "Text message" if message.channel == Channel.text else "Letter"
                content = (
                    f"{kind} to:\n{message.address}\n\n{message.subject}\n\n{message.body}\n"
                ).encode()
            partial = path.with_suffix(".partial")
            partial.write_bytes(content)
            partial.replace(path)
        except OSError as error:
            raise TryLater(f"could not write {self.folder}: {error}") from error
        return None

    def sent_before(self, message: Message) -> str | None:
        return "" if self.path_for(message).exists() else None


def sender_from_environment(
    environ: Mapping[str, str] | None = None, *, instance_folder: Path | None = None
) -> Sender | None:
    """The sender ``TAPESTRY_MAIL_BACKEND`` names, or None when none is set up."""
    env = os.environ if environ is None else environ
    backend = env.get("TAPESTRY_MAIL_BACKEND", "").strip().lower()
    if backend == "smtp":
        return SmtpSender(
            env.get("TAPESTRY_SMTP_HOST", "127.0.0.1"),
            int(env.get("TAPESTRY_SMTP_PORT", "25")),
            username=env.get("TAPESTRY_SMTP_USERNAME") or None,
            password=env.get("TAPESTRY_SMTP_PASSWORD") or None,
            starttls=env.get("TAPESTRY_SMTP_STARTTLS", "") in ("1", "true", "yes"),
        )
    if backend == "notify":
        templates = {
            Channel.email: env.get("TAPESTRY_NOTIFY_EMAIL_TEMPLATE", ""),
            Channel.text: env.get("TAPESTRY_NOTIFY_TEXT_TEMPLATE", ""),
            Channel.letter: env.get("TAPESTRY_NOTIFY_LETTER_TEMPLATE", ""),
        }
        return NotifySender(
            env["TAPESTRY_NOTIFY_API_KEY"],
            templates,
            base_url=env.get("TAPESTRY_NOTIFY_BASE_URL") or None,
        )
    if backend == "folder":
        default = (instance_folder or Path("instance")) / "mail"
        return FolderSender(Path(env.get("TAPESTRY_MAIL_FOLDER") or default))
    if backend:
        raise ValueError(f"TAPESTRY_MAIL_BACKEND must be smtp, notify or folder, not {backend!r}")
    return None


# -- the sending loop -------------------------------------------------------------------------

#: Called at each step of a send with the step's name; the tests use it to stop a worker dead
#: between any two steps.
StepHook = Callable[[str, ClaimedNotification], None]


def deliver_due(
    session_factory: Callable[[], Session],
    sender: Sender,
    worker_id: str,
    *,
    public_url: str | None = None,
    sent_from: str | None = None,
    now: datetime | None = None,
    limit: int = 20,
    step: StepHook | None = None,
) -> int:
    """Claim and send the messages that are due; returns how many were sent."""
    public_url = public_url or os.environ.get("TAPESTRY_PUBLIC_URL") or DEFAULT_PUBLIC_URL
    sent_from = sent_from or os.environ.get("TAPESTRY_MAIL_FROM") or DEFAULT_FROM
    lease = timedelta(seconds=float(os.environ.get("TAPESTRY_NOTIFICATION_LEASE_S") or 0)) or LEASE
    with session_factory() as session:
        claimed = claim_due(
            session, worker_id, available=sender.channels, now=now, limit=limit, lease=lease
        )
    sent = 0
    for item in claimed:
        if step:
            step("claimed", item)
        with session_factory() as session:
            try:
                message = render(item, public_url=public_url, sent_from=sent_from)
                if item.outcome_unknown:
                    earlier = sender.sent_before(message)
                    if earlier is not None:
                        log.info("notification %s had gone before a worker stopped", item.id)
                        mark_sent(session, item.id, worker_id, sender_reference=earlier or None)
                        sent += 1
                        continue
                if step:
                    step("sending", item)
                if not record_handover(session, item.id, worker_id, now=now):
                    continue  # another worker took it over: it is theirs to send
                if step:
                    step("handed_over", item)
                reference = sender.send(message)
            except Refused as error:
                log.warning("notification %s refused: %s", item.id, error)
                mark_failed_try(session, item.id, worker_id, str(error), permanent=True, now=now)
                continue
            except TryLater as error:
                log.info("notification %s will be tried again: %s", item.id, error)
                mark_failed_try(session, item.id, worker_id, str(error), now=now)
                continue
            except Exception as error:  # noqa: BLE001 - a bug in one message must not stop others
                log.exception("notification %s could not be sent", item.id)
                mark_failed_try(session, item.id, worker_id, f"{type(error).__name__}: {error}")
                continue
            if step:
                step("sent", item)
            mark_sent(session, item.id, worker_id, sender_reference=reference, now=now)
            sent += 1
        if step:
            step("marked", item)
    return sent


def run_sender(
    session_factory: Callable[[], Session],
    sender: Sender,
    worker_id: str,
    stop: threading.Event,
    *,
    poll_interval_s: float = 1.0,
) -> None:
    """Send due messages until ``stop`` is set, looking again every ``poll_interval_s``."""
    log.info("worker %s sending notifications by %s", worker_id, type(sender).__name__)
    while not stop.is_set():
        try:
            busy = deliver_due(session_factory, sender, worker_id)
        except OperationalError:
            log.warning("worker %s could not look for notifications; trying again", worker_id)
            busy = 0
        except Exception:  # noqa: BLE001 - keep sending; the error is logged
            log.exception("worker %s: sending notifications failed", worker_id)
            busy = 0
        if not busy:
            stop.wait(poll_interval_s)


def start_sender_thread(
    session_factory: Callable[[], Session],
    worker_id: str,
    stop: threading.Event,
    *,
    poll_interval_s: float = 1.0,
    sender: Sender | None = None,
) -> threading.Thread | None:
    """Start :func:`run_sender` in a thread when a sender is set up; None when none is."""
    sender = sender or sender_from_environment(instance_folder=_instance_folder())
    if sender is None:
        log.warning(
            "no TAPESTRY_MAIL_BACKEND is set: notifications wait in the outbox until one is"
        )
        return None
    thread = threading.Thread(
        target=run_sender,
        args=(session_factory, sender, worker_id, stop),
        kwargs={"poll_interval_s": poll_interval_s},
        name="notifications",
        daemon=True,
    )
    thread.start()
    return thread


def _instance_folder() -> Path:
    configured = os.environ.get("TAPESTRY_INSTANCE_PATH")
    return Path(configured) if configured else Path("instance")
