"""Accounts: passwords, sign-in throttling, server-side sessions and the second factor.

Use cases only: every function takes the SQLAlchemy ``session`` first, may ``flush()``, never
commits and never imports Flask. The web layer (``web/auth.py``, ``web/pages/account.py``)
decides when to commit and how tokens travel in cookies.

Rules kept here:

- Passwords are hashed with argon2id (argon2-cffi's defaults); a hash made with older
  parameters is replaced at the next successful sign-in.
- A session is a random token held by the browser; the database keeps only its SHA-256 hash.
  A session ends when it is revoked (sign-out, password change), when it has not been used for
  ``SessionPolicy.idle``, or ``SessionPolicy.absolute`` after it began, whichever is first.
- Sign-in tries are slowed, never stopped for good: each key (the account, the address, or a
  browser the account has signed in from before) lets a few tries through at once, then makes
  each next try wait, twice as long after every failure, up to ``ThrottlePolicy.max_delay``.
  Keys live in the ``login_throttles`` table, shared by every worker. A try is counted *before*
  the password is checked, with a compare-and-set, so parallel guesses cannot slip past.
  Someone guessing an account's password therefore slows only strangers: the owner's own
  browser (its device cookie) and places the owner has signed in from are not held back by the
  account's count, so the owner who types the right password is let in (OWASP's "device
  cookies"). A successful sign-in clears the account's and the browser's count and hands back
  its try to the address.
- Commissioners and admins must pass a time-based one-time code (TOTP, RFC 6238) in each
  session; a code is accepted once only.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from models.accounts import LoginThrottle, Role, User, UserSession
from web.services.errors import InvalidInput
from web.services.passwords import password_problem
from web.services.words import _

PASSWORD_HASHER = PasswordHasher()  # argon2id, RFC 9106 "low memory" parameters
# Checked against when no account has the email given, so a wrong email costs the same time as
# a wrong password and reveals nothing about which accounts exist.
_DUMMY_HASH = PASSWORD_HASHER.hash("not a real password, only used to spend the same time")

TOTP_ROLES = frozenset({Role.commissioner, Role.admin})
TOTP_ISSUER = "Tapestry"
# A session that has passed the password but not yet the one-time code lasts this long.
SECOND_FACTOR_GRACE = timedelta(minutes=10)


@dataclass(frozen=True)
class SessionPolicy:
    """How long a session lasts: ``idle`` since last use, ``absolute`` since it began."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    # last_seen_at is written at most this often, so busy pages do not write on every request.
    touch_every: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class ThrottlePolicy:
    """``per_account`` tries for one email (or one known browser) and ``per_address`` from one
    address go through at once; after that the next try waits ``first_delay``, doubling with
    each failure up to ``max_delay``. A key idle for ``window`` starts again."""

    window: timedelta = timedelta(minutes=15)
    per_account: int = 5
    per_address: int = 30
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(minutes=15)

    def delay_after(self, tries: int, free: int) -> timedelta | None:
        """How long the next try waits after ``tries`` counted tries, or None (no wait)."""
        if tries < free:
            return None
        return min(self.max_delay, self.first_delay * 2 ** min(tries - free, 30))


class SignInStatus(enum.Enum):
    """The outcome of a sign-in attempt."""

    ok = "ok"
    wrong = "wrong"  # no such account, wrong password or account closed: one answer for all
    throttled = "throttled"


@dataclass(frozen=True)
class SignInOutcome:
    status: SignInStatus
    user: User | None = None
    wait: timedelta | None = None  # when throttled: how long until the next try is checked


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (PHC string format)."""
    return PASSWORD_HASHER.hash(password)


def _password_matches(stored_hash: str, password: str) -> bool:
    try:
        return PASSWORD_HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def account_key(email: str) -> str:
    return f"account:{normalise_email(email)}"


def address_key(address: str | None) -> str:
    return f"ip:{address or 'unknown'}"


def device_key(device_id: str) -> str:
    return f"device:{device_id}"


# A try that loses this many races in a row to parallel tries on the same key waits.
_CLAIM_ROUNDS = 5


def claim_try(
    session: Session, key: str, free: int, now: datetime, policy: ThrottlePolicy
) -> timedelta | None:
    """Count one try on ``key`` if it may be checked now: None, or how long to wait.

    A compare-and-set on the row's count, so concurrent workers never both take the last free
    try; a try that is waiting is not counted (it does not lengthen the wait).
    """
    for _attempt in range(_CLAIM_ROUNDS):
        row = session.execute(
            select(
                LoginThrottle.attempts, LoginThrottle.window_start, LoginThrottle.next_try_at
            ).where(LoginThrottle.key == key)
        ).one_or_none()
        if row is None:
            try:
                with session.begin_nested():
                    session.execute(
                        insert(LoginThrottle).values(
                            key=key,
                            window_start=now,
                            attempts=1,
                            next_try_at=_next_try(1, free, now, policy),
                        )
                    )
                return None
            except IntegrityError:
                continue  # another worker made the row first: count on it
        seen, last, next_try = row
        if next_try is not None and now < next_try:
            return next_try - now  # type: ignore[no-any-return]
        tries = 1 if last <= now - policy.window else seen + 1
        claimed = session.execute(
            update(LoginThrottle)
            .where(
                LoginThrottle.key == key,
                LoginThrottle.attempts == seen,
                LoginThrottle.window_start == last,
            )
            .values(
                attempts=tries, window_start=now, next_try_at=_next_try(tries, free, now, policy)
            )
        )
        if claimed.rowcount:  # type: ignore[attr-defined]
            return None
    return policy.first_delay


def _next_try(tries: int, free: int, now: datetime, policy: ThrottlePolicy) -> datetime | None:
    delay = policy.delay_after(tries, free)
    return None if delay is None else now + delay


def _give_back_attempt(session: Session, key: str) -> None:
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key, LoginThrottle.attempts > 0)
        .values(attempts=LoginThrottle.attempts - 1)
    )


def _clear_attempts(session: Session, key: str) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def _claim_tries(
    session: Session, keys: list[tuple[str, int]], now: datetime, policy: ThrottlePolicy
) -> timedelta | None:
    """Count one try on every key (key, free tries); the longest wait if any must wait."""
    waits = [wait for key, free in keys if (wait := claim_try(session, key, free, now, policy))]
    return max(waits) if waits else None


def count_sign_in_attempt(
    session: Session, email: str, address: str | None, now: datetime, policy: ThrottlePolicy
) -> bool:
    """Count one try for this account and address; False when it must wait."""
    keys = [(account_key(email), policy.per_account), (address_key(address), policy.per_address)]
    return _claim_tries(session, keys, now, policy) is None


def sign_in_succeeded(
    session: Session, email: str, address: str | None, device_id: str | None = None
) -> None:
    """Forget the account's and this browser's tries and hand back this try to the address."""
    _clear_attempts(session, account_key(email))
    if device_id:
        _clear_attempts(session, device_key(device_id))
    _give_back_attempt(session, address_key(address))


def second_factor_key(user: User) -> str:
    return f"code:{user.id}"


def count_second_factor_try(
    session: Session, user: User, now: datetime, policy: ThrottlePolicy
) -> timedelta | None:
    """Count one one-time code try for ``user``: None, or how long it must wait.

    Only someone who has just typed the right password gets here, so the count is the user's
    own: a stranger guessing the password does not hold back the owner's code.
    """
    return claim_try(session, second_factor_key(user), policy.per_account, now, policy)


def second_factor_passed(session: Session, user: User) -> None:
    _clear_attempts(session, second_factor_key(user))


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == normalise_email(email))).first()


def can_sign_in(user: User) -> bool:
    return bool(user.is_active) and user.erased_at is None


@dataclass(frozen=True)
class SignInAttempt:
    """A counted try: how long it must wait (None: it is checked now), the account the email
    names, and the browser's device id when the browser is one the account signed in from."""

    wait: timedelta | None
    user: User | None
    device_id: str | None = None

    @property
    def allowed(self) -> bool:
        return self.wait is None


def _signed_in_from(session: Session, user: User, address: str | None) -> bool:
    """Whether the account has a session (live or kept) begun from ``address``."""
    if not address:
        return False
    found = session.scalar(
        select(UserSession.id)
        .where(UserSession.user_id == user.id, UserSession.ip == address)
        .limit(1)
    )
    return found is not None


def begin_sign_in(
    session: Session,
    email: str,
    *,
    address: str | None,
    now: datetime,
    policy: ThrottlePolicy,
    device: tuple[int, str] | None = None,
) -> SignInAttempt:
    """Count a try against the limits and find the account (step 1 of 2).

    ``device`` is the browser's device cookie (the user id it was given for, and its id), if
    any. Which counts apply:

    - a browser the account signed in from before: that browser's own count only;
    - an address the account signed in from before: the address's count only;
    - anything else (and any email with no account): the account's and the address's.

    The caller commits before step 2 (:func:`finish_sign_in`), so the try counts even if the
    request dies, and no database lock is held during the deliberately slow hash check.
    """
    user = find_user_by_email(session, email)
    device_id = device[1] if device and user is not None and device[0] == user.id else None
    keys: list[tuple[str, int]]
    if device_id:
        keys = [(device_key(device_id), policy.per_account)]
    elif user is not None and _signed_in_from(session, user, address):
        keys = [(address_key(address), policy.per_address)]
    else:
        keys = [
            (account_key(email), policy.per_account),
            (address_key(address), policy.per_address),
        ]
    wait = _claim_tries(session, keys, now, policy)
    return SignInAttempt(wait, user, device_id)


def finish_sign_in(
    session: Session,
    attempt: SignInAttempt,
    password: str,
    *,
    email: str,
    address: str | None,
    now: datetime,
) -> SignInOutcome:
    """Check the password of a counted attempt and record the result (step 2 of 2).

    The hash is checked (and, when argon2's parameters have changed, remade) before any SQL,
    so it runs outside a transaction. On success the account's failed tries are cleared and
    ``last_login_at`` set; a failure is added to the user's ``failed_login_count``.
    """
    if not attempt.allowed:
        return SignInOutcome(SignInStatus.throttled, attempt.user, attempt.wait)
    user = attempt.user
    if user is None:
        _password_matches(_DUMMY_HASH, password)  # the same time as a real check
        return SignInOutcome(SignInStatus.wrong)
    if not _password_matches(user.password_hash, password) or not can_sign_in(user):
        user.failed_login_count = (user.failed_login_count or 0) + 1
        return SignInOutcome(SignInStatus.wrong, user)
    if PASSWORD_HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_login_count = 0
    user.last_login_at = now
    sign_in_succeeded(session, email, address, attempt.device_id)
    return SignInOutcome(SignInStatus.ok, user)


def token_hash(token: str) -> str:
    """The SHA-256 hex digest kept in the database in place of a session token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(
    session: Session,
    user: User,
    *,
    now: datetime,
    policy: SessionPolicy,
    address: str | None = None,
    user_agent: str | None = None,
) -> tuple[str, UserSession]:
    """Begin a session for ``user``: returns the token for the cookie, and the new row."""
    token = secrets.token_urlsafe(32)
    row = UserSession(
        user=user,
        token_hash=token_hash(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute,
        ip=(address or "")[:64] or None,
        user_agent=(user_agent or "")[:400] or None,
    )
    session.add(row)
    session.flush()
    return token, row


def needs_second_factor(user: User) -> bool:
    """Commissioners and admins must give a one-time code in every session."""
    return user.role in TOTP_ROLES


def find_live_session(
    session: Session, token: str, *, now: datetime, policy: SessionPolicy
) -> UserSession | None:
    """The session for ``token`` if it is still live, touching ``last_seen_at``; else None.

    "Live" means: not revoked, before its absolute end, used within the idle limit, begun
    after the user's last password change, and the user may still sign in. A session still
    waiting for its second factor lives only ``SECOND_FACTOR_GRACE``.
    """
    if not token or len(token) > 200:
        return None
    row = session.scalars(
        select(UserSession)
        .where(UserSession.token_hash == token_hash(token))
        .options(joinedload(UserSession.user))  # one query per request for session and user
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    user = row.user
    if (
        now >= row.expires_at
        or now >= row.last_seen_at + policy.idle
        or user.password_changed_at > row.created_at
        or not can_sign_in(user)
    ):
        return None
    if (
        needs_second_factor(user)
        and row.second_factor_at is None
        and now >= row.created_at + SECOND_FACTOR_GRACE
    ):
        return None
    if now - row.last_seen_at >= policy.touch_every:
        row.last_seen_at = now
    return row


def end_session(session: Session, row: UserSession, *, now: datetime) -> None:
    """Revoke one session (sign-out): its token is refused from now on."""
    if row.revoked_at is None:
        row.revoked_at = now


def live_sessions(
    session: Session, user: User, *, now: datetime, policy: SessionPolicy
) -> list[UserSession]:
    """The user's signed-in sessions that still work, newest use first."""
    rows = session.scalars(
        select(UserSession)
        .where(
            UserSession.user_id == user.id,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
            UserSession.last_seen_at > now - policy.idle,
            UserSession.created_at >= user.password_changed_at,
        )
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    )
    return list(rows)


def end_own_session(session: Session, user: User, session_id: int, *, now: datetime) -> bool:
    """Sign ``user`` out of one of their sessions. False when it is not theirs, or already
    over (the same answer, so nobody learns about other people's sessions)."""
    done = session.execute(
        update(UserSession)
        .where(
            UserSession.id == session_id,
            UserSession.user_id == user.id,
            UserSession.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    return done == 1


def end_all_sessions(
    session: Session, user: User, *, now: datetime, keep: UserSession | None = None
) -> int:
    """Revoke every live session of ``user`` except ``keep``; returns how many were ended."""
    stmt = (
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep.id)
    return session.execute(stmt).rowcount


def change_password(session: Session, user: User, current: str, new: str, *, now: datetime) -> None:
    """Set a new password after checking the current one; ends every session of the user.

    Raises :class:`InvalidInput` naming the field that is wrong (``current_password`` or
    ``new_password``); nothing is changed then. The caller starts a fresh session for the
    device that made the change.
    """
    if not _password_matches(user.password_hash, current):
        raise InvalidInput({"current_password": _("Your current password is not right")})
    if current == new:
        raise InvalidInput(
            {"new_password": "Your new password must be different from your current password"}
        )
    problem = password_problem(new, email=user.email)
    if problem:
        raise InvalidInput({"new_password": problem})
    set_password(session, user, new, now=now)


def set_password(session: Session, user: User, new: str, *, now: datetime) -> None:
    """Give ``user`` the password ``new`` (already checked), clear a one-off password's "must
    change" and end every session of the user."""
    user.password_hash = hash_password(new)
    user.password_changed_at = now
    user.must_change_password = False
    user.failed_login_count = 0
    end_all_sessions(session, user, now=now)
    _clear_attempts(session, account_key(user.email))
    session.flush()


def new_totp_secret_for(session_row: UserSession, secret_key: str | bytes) -> str:
    """The TOTP secret offered while setting up the second factor in this session.

    It is derived from the server's secret key and the session, so nothing needs storing until
    the person proves they have saved it by typing a code.
    """
    key = secret_key.encode() if isinstance(secret_key, str) else secret_key
    message = f"totp-setup:{session_row.user_id}:{session_row.token_hash}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.b32encode(digest[:20]).decode("ascii")


def totp_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` address an authenticator app reads (shown as text, no QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def _accepted_step(secret: str, code: str, now: datetime) -> int | None:
    code = "".join(code.split())
    # ASCII digits only: "١٢٣٤٥٦" passes isdigit, and compare_digest refuses non-ASCII text.
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    # One step either side allows for a slow typist or a phone clock a little out.
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def verify_second_factor(
    session: Session,
    row: UserSession,
    code: str,
    *,
    now: datetime,
    setup_secret: str | None = None,
) -> bool:
    """Check a one-time code for the session's user and mark the session as having passed.

    With ``setup_secret`` the code proves the person saved that new secret, which becomes the
    user's. A code (time step) already used is refused, so an overheard code cannot be replayed.
    """
    user = row.user
    secret = setup_secret or user.totp_secret
    if not secret:
        return False
    step = _accepted_step(secret, code, now)
    if step is None:
        return False
    if setup_secret is None and user.totp_last_step is not None and step <= user.totp_last_step:
        return False
    if setup_secret is not None:
        user.totp_secret = setup_secret
    user.totp_last_step = step
    row.second_factor_at = now
    session.flush()
    return True


def create_user(
    session: Session,
    *,
    email: str,
    display_name: str,
    role: Role,
    password: str,
    council_id: int | None = None,
    totp_secret: str | None = None,
    one_off: bool = False,
) -> User:
    """Add a user with a hashed password (the demo, the CLI and tests use this). A ``one_off``
    password (made up for the user and handed over) must be changed at the first sign-in."""
    user = User(
        must_change_password=one_off,
        email=normalise_email(email),
        display_name=display_name,
        role=role,
        password_hash=hash_password(password),
        council_id=council_id,
        totp_secret=totp_secret,
    )
    session.add(user)
    session.flush()
    return user


def purge_stale_records(
    session: Session,
    *,
    now: datetime,
    session_policy: SessionPolicy,
    throttle_policy: ThrottlePolicy,
    other_throttles: Mapping[str, ThrottlePolicy] | None = None,
    keep_ended_sessions: timedelta = timedelta(days=30),
) -> tuple[int, int]:
    """Delete sessions ended more than ``keep_ended_sessions`` ago and finished throttle windows.

    A session has ended when it was revoked, passed its absolute end, or went unused for the
    idle limit. A throttle row is finished when its key has been idle for its own policy's
    window and it holds no one back: ``other_throttles`` maps a key prefix (``consent-ask:``)
    to the policy that counts those keys; every other key is a sign-in key counted under
    ``throttle_policy``. Returns ``(sessions deleted, throttle rows deleted)``.
    """
    cutoff = now - keep_ended_sessions
    sessions = session.execute(
        delete(UserSession).where(
            (UserSession.revoked_at < cutoff)
            | (UserSession.expires_at < cutoff)
            | (UserSession.last_seen_at < cutoff - session_policy.idle)
        )
    ).rowcount
    others = dict(other_throttles or {})
    finished = or_(LoginThrottle.next_try_at.is_(None), LoginThrottle.next_try_at <= now)
    throttles = 0
    for prefix, policy in others.items():
        throttles += session.execute(
            delete(LoginThrottle).where(
                LoginThrottle.key.startswith(prefix, autoescape=True),
                LoginThrottle.window_start < now - policy.window,
                finished,
            )
        ).rowcount
    throttles += session.execute(
        delete(LoginThrottle).where(
            *(~LoginThrottle.key.startswith(prefix, autoescape=True) for prefix in others),
            LoginThrottle.window_start < now - throttle_policy.window,
            finished,
        )
    ).rowcount
    return sessions, throttles


def one_off_password() -> str:
    """A random password to hand over once (about 96 bits), for the user to change."""
    return secrets.token_urlsafe(12)


def reset_account(
    session: Session, user: User, *, now: datetime, clear_second_factor: bool = False
) -> str:
    """Give ``user`` a new one-off password and end all their sessions; returns the password.

    With ``clear_second_factor`` their authenticator app is forgotten too, so a commissioner or
    admin who lost their phone sets up a new one at their next sign-in.
    """
    password = one_off_password()
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    user.failed_login_count = 0
    user.must_change_password = True
    if clear_second_factor:
        user.totp_secret = None
        user.totp_last_step = None
    end_all_sessions(session, user, now=now)
    _clear_attempts(session, account_key(user.email))
    session.flush()
    return password
