"""Keys kept outside the database: the audit trail's HMAC key and the TOTP encryption key.

Someone who can write the database (a copy of it, or its owner) must not be able to recompute
the audit chain or read the one-time code secrets, so neither key is ever stored in it. Each
key is, in this order:

1. a setting: ``TAPESTRY_AUDIT_KEY`` / ``TAPESTRY_TOTP_KEY`` (the web app's ``AUDIT_KEY`` /
   ``TOTP_KEY``), any text of at least 32 characters, such as ``openssl rand -hex 32``;
2. else a file in the instance folder, ``audit_key`` / ``totp_key``, made on first use with 32
   random bytes (hex) and mode 0600, so the demo and the tests need no set-up.

The text is turned into the key with HMAC-SHA256 under a label per use, so one text given for
both settings still gives two different keys. ``use_keys`` makes a pair of keys the one this
process uses (``create_app``, the worker and the command line call it); ``active_keys`` is that
pair, loaded from the settings and ``TAPESTRY_INSTANCE_PATH`` when nothing was set (one
``create_app`` per process: the last one's keys are the process's).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

AUDIT_KEY_FILE = "audit_key"
TOTP_KEY_FILE = "totp_key"
AUDIT_KEY_ENV = "TAPESTRY_AUDIT_KEY"
TOTP_KEY_ENV = "TAPESTRY_TOTP_KEY"
INSTANCE_PATH_ENV = "TAPESTRY_INSTANCE_PATH"
MIN_KEY_TEXT = 32


class KeyProblem(Exception):
    """A key is missing, too short or unreadable; the message says which and what to do."""


class SealedValueUnreadable(KeyProblem):
    """A sealed value (a one-time code secret) does not open with this process's TOTP key: the
    key was changed or lost, or the stored value was never sealed."""


@dataclass(frozen=True)
class Keys:
    """The process's keys (raw 32-byte values, never shown)."""

    audit: bytes
    totp: bytes

    @property
    def audit_key_id(self) -> str:
        """A short public name of the audit key, stored with each event and anchor: a changed
        key shows as a changed id, without revealing anything about the key."""
        return hmac.new(self.audit, b"tapestry audit key id", hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"Keys(audit_key_id={self.audit_key_id!r})"


def _derive(text: str, label: bytes) -> bytes:
    return hmac.new(text.encode("utf-8"), label, hashlib.sha256).digest()


def _key_text(configured: str | None, folder: Path, file_name: str, setting: str) -> str:
    if configured:
        text = configured.strip()
        if len(text) < MIN_KEY_TEXT:
            raise KeyProblem(f"{setting} must be at least {MIN_KEY_TEXT} characters long")
        return text
    path = folder / file_name
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
    try:
        text = path.read_text().strip()
    except OSError as error:
        raise KeyProblem(f"cannot read the key file {path}: {error.strerror}") from None
    if len(text) < MIN_KEY_TEXT:
        raise KeyProblem(f"the key file {path} must hold at least {MIN_KEY_TEXT} characters")
    return text


def load_keys(
    folder: str | os.PathLike[str], *, audit: str | None = None, totp: str | None = None
) -> Keys:
    """The keys given as settings, else those in ``folder`` (made there on first use)."""
    place = Path(folder)
    audit_text = _key_text(audit, place, AUDIT_KEY_FILE, AUDIT_KEY_ENV)
    totp_text = _key_text(totp, place, TOTP_KEY_FILE, TOTP_KEY_ENV)
    return Keys(
        audit=_derive(audit_text, b"tapestry audit chain"),
        totp=_derive(totp_text, b"tapestry totp secrets"),
    )


_active: Keys | None = None


def use_keys(keys: Keys | None) -> None:
    """Make ``keys`` the ones this process uses (None: load them again on next use)."""
    global _active
    _active = keys


def active_keys() -> Keys:
    """The keys this process uses: those given to :func:`use_keys`, else the settings in the
    environment and the files in ``TAPESTRY_INSTANCE_PATH``.

    With neither, :class:`KeyProblem`: guessing a folder (the working one, say) could make new
    keys beside the site's, and then events and secrets that the site cannot check or read.
    """
    global _active
    if _active is None:
        audit, totp = os.environ.get(AUDIT_KEY_ENV), os.environ.get(TOTP_KEY_ENV)
        folder = os.environ.get(INSTANCE_PATH_ENV)
        if folder is None and not (audit and totp):
            raise KeyProblem(
                "no keys are configured: call models.keys.use_keys (create_app does), or set "
                f"{AUDIT_KEY_ENV} and {TOTP_KEY_ENV}, or {INSTANCE_PATH_ENV}"
            )
        _active = load_keys(folder or ".", audit=audit, totp=totp)
    return _active


# Sealed values: "gcm1:" then base64 of a 12-byte nonce and the AES-256-GCM ciphertext and tag.
SEALED_PREFIX = "gcm1:"
_SEAL_CONTEXT = b"tapestry sealed column"


def seal(plain: str, keys: Keys | None = None) -> str:
    """Encrypt ``plain`` with the TOTP key (AES-256-GCM, a new random nonce each time)."""
    key = (keys or active_keys()).totp
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(nonce, plain.encode("utf-8"), _SEAL_CONTEXT)
    return SEALED_PREFIX + urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(stored: str, keys: Keys | None = None) -> str:
    """Decrypt a value made by :func:`seal`; :class:`KeyProblem` when the key does not fit."""
    if not stored.startswith(SEALED_PREFIX):
        raise SealedValueUnreadable("the stored value is not encrypted (run tapestry db upgrade)")
    key = (keys or active_keys()).totp
    try:
        raw = urlsafe_b64decode(stored[len(SEALED_PREFIX) :])
        plain = AESGCM(key).decrypt(raw[:12], raw[12:], _SEAL_CONTEXT)
    except (InvalidTag, ValueError):  # ValueError: not base64, or too short to hold a nonce
        raise SealedValueUnreadable(
            "a one-time code secret cannot be decrypted with this TOTP key "
            f"({TOTP_KEY_ENV} or the {TOTP_KEY_FILE} file was changed)"
        ) from None
    return plain.decode("utf-8")


def is_sealed(stored: str | None) -> bool:
    return stored is not None and stored.startswith(SEALED_PREFIX)


class SealedText(TypeDecorator[str]):
    """A text column kept encrypted with the TOTP key: Python sees the plain text, the
    database only ever the sealed form."""

    impl = String(255)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return seal(str(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return unseal(str(value))
