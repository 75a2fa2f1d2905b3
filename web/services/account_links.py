"""Emailed one-time links: setting a new password when it is forgotten, confirming an email.

The rules:

- Asking for a password link gives the same answer whether or not an account has that email
  (the page says "if there is an account, we have sent a link"), and takes the same path
  through the code either way, up to writing the message.
- Asking is slowed twice over: :data:`RESET_POLICY` per email address (a quiet limit: past it,
  no more links are sent, and the answer is still the same) and per network address (past it,
  the asker is told to wait, which says nothing about any account).
- A link holds a random token of 256 bits; only its SHA-256 is stored. It works once, for
  :data:`RESET_VALID` (password) or :data:`CONFIRM_VALID` (email), and only while the account
  still has the address it was sent to. Using a password link ends every other link of that
  account, every signed-in session, and confirms the address (the link proved it).
- The token is in the outbox row only until the message is sent
  (:data:`web.services.notifications.SECRET_DATA_KEYS`).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.accounts import User
from models.base import utcnow
from models.notifications import AccountToken, AccountTokenPurpose
from web.services.accounts import (
    ThrottlePolicy,
    can_sign_in,
    claim_try,
    find_user_by_email,
    normalise_email,
    set_password,
)
from web.services.errors import InvalidInput, TooManyRequests
from web.services.notifications import EMAIL_CONFIRM, PASSWORD_RESET, notify
from web.services.passwords import password_problem
from web.services.words import N_, _, count

RESET_VALID = timedelta(hours=1)
CONFIRM_VALID = timedelta(days=7)
#: 3 links an hour for one email address; 10 asks an hour from one network address.
RESET_POLICY = ThrottlePolicy(
    per_account=3,
    per_address=10,
    window=timedelta(hours=1),
    first_delay=timedelta(minutes=20),
    max_delay=timedelta(hours=1),
)
RESET_EMAIL_KEY = "reset:email:"
RESET_ADDRESS_KEY = "reset:ip:"
CONFIRM_KEY = "confirm:user:"

BAD_LINK = N_("This link does not work. It may be old, or it may have been used already.")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token(
    session: Session, user: User, purpose: AccountTokenPurpose, valid: timedelta, now: datetime
) -> tuple[AccountToken, str]:
    token = secrets.token_urlsafe(32)
    row = AccountToken(
        user_id=user.id,
        purpose=purpose,
        token_hash=_hash(token),
        email=user.email,
        expires_at=now + valid,
    )
    session.add(row)
    session.flush()
    return row, token


def request_password_reset(
    session: Session, email: str, *, address: str | None, now: datetime | None = None
) -> None:
    """Send a link to set a new password to ``email``'s account, if there is one.

    Raises :class:`TooManyRequests` only for too many asks from one network address. Flushes;
    the caller commits (the message is in the outbox with the link).
    """
    now = now or utcnow()
    wanted = normalise_email(email)
    if not wanted or "@" not in wanted or len(wanted) > 320:
        raise InvalidInput({"email": _("Enter your email address, like name@example.org")})
    wait = claim_try(
        session, f"{RESET_ADDRESS_KEY}{address or 'unknown'}", RESET_POLICY.per_address, now,
        RESET_POLICY,
    )  # fmt: skip
    if wait is not None:
        minutes = max(1, -(-int(wait.total_seconds()) // 60))
        raise TooManyRequests(
            _(
                "You have asked for too many links. Wait %(wait)s, then try again.",
                wait=count(minutes, "minute"),
            )
        )
    if claim_try(session, f"{RESET_EMAIL_KEY}{wanted}", RESET_POLICY.per_account, now,
                 RESET_POLICY) is not None:  # fmt: skip
        return  # enough links to this address for now; the answer is the same
    user = find_user_by_email(session, wanted)
    if user is None or not can_sign_in(user):
        return
    row, token = _new_token(session, user, AccountTokenPurpose.password_reset, RESET_VALID, now)
    notify(
        session,
        user_id=user.id,
        event=PASSWORD_RESET,
        data={
            "token": token,
            "email": user.email,
            "valid_minutes": int(RESET_VALID.total_seconds() // 60),
        },
        key=f"password_reset:{row.id}",
    )


def _live_token(
    session: Session, token: str, purpose: AccountTokenPurpose, now: datetime
) -> tuple[AccountToken, User] | None:
    if not token or len(token) > 200:
        return None
    row = session.scalars(
        select(AccountToken).where(
            AccountToken.token_hash == _hash(token), AccountToken.purpose == purpose
        )
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.email != row.email or user.erased_at is not None:
        return None
    return row, user


def reset_link_user(session: Session, token: str, *, now: datetime | None = None) -> User | None:
    """The account a password link is for, while the link still works; else None."""
    found = _live_token(session, token, AccountTokenPurpose.password_reset, now or utcnow())
    return found[1] if found is not None else None


def _use(session: Session, row: AccountToken, now: datetime) -> bool:
    """Mark the link used; False when another request used it first."""
    done = session.execute(
        update(AccountToken)
        .where(AccountToken.id == row.id, AccountToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    return done == 1


def reset_password(
    session: Session, token: str, new: str, confirm: str, *, now: datetime | None = None
) -> User:
    """Set a new password with an emailed link. Raises :class:`InvalidInput` (``token``,
    ``new_password``, ``confirm_password``); nothing changes then."""
    now = now or utcnow()
    found = _live_token(session, token, AccountTokenPurpose.password_reset, now)
    if found is None or not can_sign_in(found[1]):
        raise InvalidInput({"token": _(BAD_LINK)})
    row, user = found
    problem = password_problem(new, email=user.email)
    if problem:
        raise InvalidInput({"new_password": problem})
    if new != confirm:
        raise InvalidInput({"confirm_password": _("The two new passwords must be the same")})
    if not _use(session, row, now):
        raise InvalidInput({"token": _(BAD_LINK)})
    # Every other password link of this account stops working too.
    session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == AccountTokenPurpose.password_reset,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    set_password(session, user, new, now=now)
    if user.email_confirmed_at is None:
        user.email_confirmed_at = now
    session.flush()
    return user


#: Confirmation links: 3 an hour for one account.
CONFIRM_POLICY = ThrottlePolicy(
    per_account=3,
    per_address=3,
    window=timedelta(hours=1),
    first_delay=timedelta(minutes=20),
    max_delay=timedelta(hours=1),
)


def send_email_confirmation(session: Session, user: User, *, now: datetime | None = None) -> None:
    """Email ``user`` a link that confirms their address. Raises :class:`TooManyRequests`
    after 3 in an hour. Flushes; the caller commits."""
    now = now or utcnow()
    if claim_try(session, f"{CONFIRM_KEY}{user.id}", CONFIRM_POLICY.per_account, now,
                 CONFIRM_POLICY) is not None:  # fmt: skip
        raise TooManyRequests(_("We have sent you 3 links in the last hour. Look for them first."))
    row, token = _new_token(session, user, AccountTokenPurpose.email_confirm, CONFIRM_VALID, now)
    notify(
        session,
        user_id=user.id,
        event=EMAIL_CONFIRM,
        data={"token": token, "email": user.email, "valid_days": CONFIRM_VALID.days},
        key=f"email_confirm:{row.id}",
    )


def confirm_email(session: Session, token: str, *, now: datetime | None = None) -> User:
    """Confirm the address a link was sent to. Raises :class:`InvalidInput` (``token``)."""
    now = now or utcnow()
    found = _live_token(session, token, AccountTokenPurpose.email_confirm, now)
    if found is None:
        raise InvalidInput({"token": _(BAD_LINK)})
    row, user = found
    if not _use(session, row, now):
        raise InvalidInput({"token": _(BAD_LINK)})
    user.email_confirmed_at = now
    session.flush()
    return user
