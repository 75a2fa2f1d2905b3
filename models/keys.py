"""Keys kept outside the database: the audit trail's HMAC key and the TOTP encryption key.

Someone who can write the database (a copy of it, or its owner) must not be able to recompute
the audit chain or read the one-time code secrets, so neither key is ever stored in it. Each
key is, in this order:

1. a setting: ``TAPESTRY_AUDIT_KEY`` / ``TAPESTRY_TOTP_KEY`` (the web app's ``AUDIT_KEY`` /
   ``TOTP_KEY``), any text of at least 32 characters, such as ``openssl rand -hex 32``;
2. else a file in the instance folder, ``audit_key`` / ``totp_key``, made on first use with 32
   random bytes (hex) and mode 0600, so the demo and the tests need no set-up.

The text is turned into the key with HMAC-SHA256 under a label per use, so one text given for
both settings still gives two different keys.

**Retired audit keys** verify the events made before a rotation (``tapestry audit rotate-key``)
and never sign a new one: the setting ``TAPESTRY_AUDIT_RETIRED_KEYS`` (the web app's
``AUDIT_RETIRED_KEYS``: one key text, or a JSON list of them) and the lines of the
``audit_keys_retired`` file in the instance folder (mode 0600), which ``rotate_audit_key_file``
fills when it makes a new ``audit_key``. ``use_keys`` makes a pair of keys the one this
process uses (``create_app``, the worker and the command line call it); ``active_keys`` is that
pair, loaded from the settings and ``TAPESTRY_INSTANCE_PATH`` when nothing was set (one
``create_app`` per process: the last one's keys are the process's).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import secrets
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

AUDIT_KEY_FILE = "audit_key"
TOTP_KEY_FILE = "totp_key"
AUDIT_RETIRED_FILE = "audit_keys_retired"
AUDIT_KEY_ENV = "TAPESTRY_AUDIT_KEY"
AUDIT_RETIRED_ENV = "TAPESTRY_AUDIT_RETIRED_KEYS"
TOTP_KEY_ENV = "TAPESTRY_TOTP_KEY"
INSTANCE_PATH_ENV = "TAPESTRY_INSTANCE_PATH"
MIN_KEY_TEXT = 32


class KeyProblem(Exception):
    """A key is missing, too short or unreadable; the message says which and what to do."""


class SealedValueUnreadable(KeyProblem):
    """A sealed value (a one-time code secret) does not open with this process's TOTP key: the
    key was changed or lost, or the stored value was never sealed."""


def audit_key_id_of(key: bytes) -> str:
    """A short public name of an audit key, stored with each event and anchor: a changed key
    shows as a changed id, without revealing anything about the key."""
    return hmac.new(key, b"tapestry audit key id", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class Keys:
    """The process's keys (raw 32-byte values, never shown): the audit key that signs new
    events, the retired audit keys that only verify older ones, and the TOTP key.

    ``source`` loads the keys again from where these came from (their settings and folder),
    so a process can take up a key that ``tapestry audit rotate-key`` made while it ran.
    """

    audit: bytes
    totp: bytes
    retired_audit: tuple[bytes, ...] = ()
    source: Callable[[], Keys] | None = field(default=None, compare=False, repr=False)

    @property
    def audit_key_id(self) -> str:
        """The public name of the audit key that signs new events."""
        return audit_key_id_of(self.audit)

    @functools.cached_property
    def _audit_keys_by_id(self) -> dict[str, bytes]:
        return {audit_key_id_of(key): key for key in (*self.retired_audit, self.audit)}

    @property
    def retired_audit_key_ids(self) -> frozenset[str]:
        return frozenset(self._audit_keys_by_id) - {self.audit_key_id}

    def audit_key_for(self, key_id: str | None) -> bytes | None:
        """The audit key (configured or retired) whose id is ``key_id``; None if neither."""
        return None if key_id is None else self._audit_keys_by_id.get(key_id)

    def reloaded(self) -> Keys:
        """The keys as their source gives them now (themselves when they have no source)."""
        return self if self.source is None else self.source()

    def __repr__(self) -> str:
        return f"Keys(audit_key_id={self.audit_key_id!r})"


def _derive(text: str, label: bytes) -> bytes:
    return hmac.new(text.encode("utf-8"), label, hashlib.sha256).digest()


def _key_text(
    configured: str | None, folder: Path, file_name: str, setting: str, *, make: bool = True
) -> str:
    if configured:
        text = configured.strip()
        if len(text) < MIN_KEY_TEXT:
            raise KeyProblem(f"{setting} must be at least {MIN_KEY_TEXT} characters long")
        return text
    path = folder / file_name
    if not path.exists() and not make:
        raise KeyProblem(f"there is no key: set {setting}, or put the site's key file at {path}")
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


def _derive_audit(text: str) -> bytes:
    return _derive(text, b"tapestry audit chain")


def _setting_texts(configured: str | Sequence[str] | None) -> list[str]:
    """The key texts of a setting: one text, or a list of them (also written as JSON)."""
    if configured is None:
        return []
    if isinstance(configured, str):
        text = configured.strip()
        if not text.startswith("["):
            return [text] if text else []
        try:
            configured = json.loads(text)
        except ValueError:
            raise KeyProblem(f"{AUDIT_RETIRED_ENV} is not a JSON list of key texts") from None
    if not isinstance(configured, list | tuple) or not all(
        isinstance(text, str) for text in configured
    ):
        raise KeyProblem(f"{AUDIT_RETIRED_ENV} must be a key text or a list of key texts")
    return [text.strip() for text in configured if text.strip()]


def _retired_texts(configured: str | Sequence[str] | None, folder: Path) -> list[str]:
    """The retired audit key texts: those of the setting, then the file's lines."""
    texts = _setting_texts(configured)
    for text in texts:
        if len(text) < MIN_KEY_TEXT:
            raise KeyProblem(
                f"each key in {AUDIT_RETIRED_ENV} must be at least {MIN_KEY_TEXT} characters long"
            )
    path = folder / AUDIT_RETIRED_FILE
    if path.exists():
        try:
            lines = path.read_text().splitlines()
        except OSError as error:
            raise KeyProblem(f"cannot read the key file {path}: {error.strerror}") from None
        for number, line in enumerate(lines, start=1):
            text = line.strip()
            if not text:
                continue
            if len(text) < MIN_KEY_TEXT:
                raise KeyProblem(
                    f"the key file {path}, line {number}, must hold at least {MIN_KEY_TEXT} "
                    "characters"
                )
            texts.append(text)
    return texts


def load_keys(
    folder: str | os.PathLike[str],
    *,
    audit: str | None = None,
    totp: str | None = None,
    retired_audit: str | Sequence[str] | None = None,
    make: bool = True,
) -> Keys:
    """The keys given as settings, else those in ``folder`` (made there on first use, unless
    ``make`` is false: then a missing file is a :class:`KeyProblem`), with the retired audit
    keys of the setting ``retired_audit`` and of the folder's file."""
    place = Path(folder)
    audit_text = _key_text(audit, place, AUDIT_KEY_FILE, AUDIT_KEY_ENV, make=make)
    totp_text = _key_text(totp, place, TOTP_KEY_FILE, TOTP_KEY_ENV, make=make)
    current = _derive_audit(audit_text)
    retired: list[bytes] = []
    for text in _retired_texts(retired_audit, place):
        key = _derive_audit(text)
        if key != current and key not in retired:
            retired.append(key)
    return Keys(
        audit=current,
        totp=_derive(totp_text, b"tapestry totp secrets"),
        retired_audit=tuple(retired),
        source=functools.partial(
            load_keys,
            place,
            audit=audit,
            totp=totp,
            retired_audit=None if retired_audit is None else list(_setting_texts(retired_audit)),
            make=make,
        ),
    )


def _write_private(path: Path, text: str, *, append: bool) -> None:
    """Write ``text`` to ``path`` (mode 0600) and make sure it is on disk before returning."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "a" if append else "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def rotate_audit_key_file(folder: str | os.PathLike[str]) -> tuple[str, str]:
    """Retire the audit key of ``folder``'s ``audit_key`` file and put a new random one there.

    The old key text is first added to the ``audit_keys_retired`` file, and only then is the
    new key moved into place (a rename), so at every moment each key is in one of the files.
    Returns ``(old key id, new key id)``. The settings are not looked at: the caller refuses
    when the audit key is a setting, which this cannot change.
    """
    place = Path(folder)
    old_text = _key_text(None, place, AUDIT_KEY_FILE, AUDIT_KEY_ENV)
    new_text = secrets.token_hex(32)
    _write_private(place / AUDIT_RETIRED_FILE, old_text + "\n", append=True)
    fresh = place / (AUDIT_KEY_FILE + ".new")
    fresh.unlink(missing_ok=True)
    _write_private(fresh, new_text + "\n", append=False)
    os.replace(fresh, place / AUDIT_KEY_FILE)
    return audit_key_id_of(_derive_audit(old_text)), audit_key_id_of(_derive_audit(new_text))


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
        _active = load_keys(
            folder or ".", audit=audit, totp=totp, retired_audit=os.environ.get(AUDIT_RETIRED_ENV)
        )
    return _active


# Sealed values: a prefix, then base64 of a 12-byte nonce and the AES-256-GCM ciphertext and
# tag. "gcm2:" values are bound to their owner: the associated data names what the value is for
# and whose it is ("users.totp_secret:42"), so a value copied to another row, or to another
# column, does not open there. "gcm1:" values (migration 0003, before binding) are bound to
# nothing; migration 0010 binds them, and a bound read refuses them.
SEALED_PREFIX = "gcm1:"
BOUND_PREFIX = "gcm2:"
_SEAL_CONTEXT = b"tapestry sealed column"
#: What a user's one-time code secret is bound to, with the user's id.
TOTP_SECRET_PURPOSE = "users.totp_secret"


def binding(purpose: str, owner_id: int) -> str:
    """What a sealed value of ``purpose`` belonging to row ``owner_id`` is bound to."""
    return f"{purpose}:{owner_id}"


def _associated_data(bound_to: str | None) -> bytes:
    if bound_to is None:
        return _SEAL_CONTEXT
    return _SEAL_CONTEXT + b"\x00" + bound_to.encode("utf-8")


def seal(plain: str, keys: Keys | None = None, *, bound_to: str | None = None) -> str:
    """Encrypt ``plain`` with the TOTP key (AES-256-GCM, a new random nonce each time), bound
    to ``bound_to`` (:func:`binding`); unbound only for migration 0003, which came before."""
    key = (keys or active_keys()).totp
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(nonce, plain.encode("utf-8"), _associated_data(bound_to))
    prefix = SEALED_PREFIX if bound_to is None else BOUND_PREFIX
    return prefix + urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(stored: str, keys: Keys | None = None, *, bound_to: str | None = None) -> str:
    """Decrypt a value made by :func:`seal` with the same ``bound_to``;
    :class:`SealedValueUnreadable` when the key does not fit or the value belongs elsewhere."""
    prefix = SEALED_PREFIX if bound_to is None else BOUND_PREFIX
    if bound_to is not None and stored.startswith(SEALED_PREFIX):
        raise SealedValueUnreadable(
            "a one-time code secret is not bound to its account (run tapestry db upgrade)"
        )
    if not stored.startswith(prefix):
        raise SealedValueUnreadable("the stored value is not encrypted (run tapestry db upgrade)")
    key = (keys or active_keys()).totp
    try:
        raw = urlsafe_b64decode(stored[len(prefix) :])
        plain = AESGCM(key).decrypt(raw[:12], raw[12:], _associated_data(bound_to))
    except (InvalidTag, ValueError):  # ValueError: not base64, or too short to hold a nonce
        raise SealedValueUnreadable(
            "a one-time code secret cannot be decrypted with this TOTP key "
            f"({TOTP_KEY_ENV} or the {TOTP_KEY_FILE} file was changed), or it was sealed for "
            "another account"
        ) from None
    return plain.decode("utf-8")


def is_sealed(stored: str | None) -> bool:
    return stored is not None and stored.startswith((SEALED_PREFIX, BOUND_PREFIX))
