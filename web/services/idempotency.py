"""Stored answers for requests sent with an ``Idempotency-Key`` header.

A client that is not sure a POST arrived (the connection dropped) sends it again with the same
key; it must not be done twice. The first request inserts an :class:`IdempotencyRecord` in the
same transaction as its work and keeps its answer there; a replay with the same key and user
gets that answer again. A replay whose request differs (method, path or body) is refused, and
one that arrives while the first is still working is told to wait.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.accounts import IdempotencyRecord
from web.services.errors import Conflict, InvalidInput

KEY_MAX_CHARS = 255


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


@dataclass(frozen=True, slots=True)
class Replay:
    status: int
    body: str


def check_key(key: str) -> None:
    if not key or len(key) > KEY_MAX_CHARS or not key.isprintable():
        raise InvalidInput({"Idempotency-Key": "Use a key of 1 to 255 printable characters"})


def find_replay(
    session: Session, user_id: int, key: str, method: str, path: str, hash_: str
) -> Replay | None:
    """The stored answer for ``key``, or None when the key is new."""
    record = session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
        )
    ).first()
    if record is None:
        return None
    if record.request_hash != hash_ or record.method != method or record.path != path:
        raise InvalidInput({"Idempotency-Key": "This key was used for a different request"})
    if record.response_status is None or record.response_body is None:
        raise Conflict("The first request with this key is still being handled. Try again soon.")
    return Replay(record.response_status, record.response_body)


def claim(
    session: Session, user_id: int, key: str, method: str, path: str, hash_: str
) -> IdempotencyRecord:
    """Insert the record for a new key (in the caller's transaction)."""
    record = IdempotencyRecord(
        key=key, user_id=user_id, method=method, path=path, request_hash=hash_
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError as error:
        raise Conflict(
            "The first request with this key is still being handled. Try again soon."
        ) from error
    return record


def claim_or_replay(
    session: Session, user_id: int, key: str, method: str, path: str, hash_: str
) -> IdempotencyRecord | Replay:
    """Claim a new key, or give the stored answer when the key was used already.

    Two requests with one key can both find it new; the second one's insert then waits for the
    first to commit (PostgreSQL's unique index) and fails, and the first one's answer, committed
    by then, is returned to it too. So concurrent replays all get the same answer.
    """
    replay = find_replay(session, user_id, key, method, path, hash_)
    if replay is not None:
        return replay
    try:
        return claim(session, user_id, key, method, path, hash_)
    except Conflict:
        replay = find_replay(session, user_id, key, method, path, hash_)
        if replay is None:
            raise
        return replay


def remember(record: IdempotencyRecord, status: int, body: str) -> None:
    record.response_status = status
    record.response_body = body
