"""Councils, user accounts, server-side sessions and login throttling."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Connection,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    update,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship, validates
from sqlalchemy.orm.attributes import set_committed_value

from models.base import Base, CreatedAtMixin, TimestampMixin, str_enum, utcnow
from models.keys import TOTP_SECRET_PURPOSE, binding, seal, unseal

if TYPE_CHECKING:
    from models.people import PersonProfile
    from models.providers import Provider, ProviderMember
    from models.rounds import Round


class Role(enum.StrEnum):
    """What a user is in the service; decides which pages and API operations they may use."""

    person = "person"
    advocate = "advocate"
    provider = "provider"
    commissioner = "commissioner"
    admin = "admin"


class Council(TimestampMixin, Base):
    """A local authority running commissioning rounds. ``areas`` lists its area names."""

    __tablename__ = "councils"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    areas: Mapped[list[str]] = mapped_column(JSON, default=list)

    users: Mapped[list[User]] = relationship(back_populates="council")
    providers: Mapped[list[Provider]] = relationship(back_populates="council")
    rounds: Mapped[list[Round]] = relationship(back_populates="council")


class User(TimestampMixin, Base):
    """Anyone who signs in. The email is stored lower-cased so it is unique however typed."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lower"),
        CheckConstraint("failed_login_count >= 0", name="failed_login_count_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(str_enum(Role, "user_role"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Base32 TOTP secret (the ``totp_secret`` property); required for commissioners and admins
    # once enrolled. Stored encrypted with the TOTP key, which is kept outside the database,
    # and bound to this user's id (models.keys), so a sealed secret copied to another account
    # does not open there. Deferred, so loading the account never opens it: a changed or lost
    # key then only stops the code check.
    sealed_totp_secret: Mapped[str | None] = mapped_column(
        "totp_secret", String(255), deferred=True
    )
    # The last TOTP time step accepted, so a code cannot be replayed within its window.
    totp_last_step: Mapped[int | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    failed_login_count: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    council_id: Mapped[int | None] = mapped_column(
        ForeignKey("councils.id", ondelete="RESTRICT"), index=True
    )
    # Set when the account was erased under a privacy request (see models.privacy).
    erased_at: Mapped[datetime | None]
    # When the owner last proved the email address is theirs (a link sent to it was opened).
    email_confirmed_at: Mapped[datetime | None]
    # A one-off password (set by an administrator, or on creation) must be changed before
    # anything else is done.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    # The language the owner chose for the site and their messages ("en", "cy"); None until
    # they choose, when the language chosen on the signed-out pages (or English) is used.
    language: Mapped[str | None] = mapped_column(String(8))

    council: Mapped[Council | None] = relationship(back_populates="users")
    sessions: Mapped[list[UserSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    person_profile: Mapped[PersonProfile | None] = relationship(
        back_populates="user", foreign_keys="PersonProfile.user_id", uselist=False
    )
    provider_memberships: Mapped[list[ProviderMember]] = relationship(back_populates="user")

    @validates("email")
    def _lower_email(self, _key: str, value: str) -> str:
        return value.strip().lower()

    @property
    def totp_secret(self) -> str | None:
        """The plain TOTP secret (``SealedValueUnreadable`` when it cannot be opened here)."""
        if _PENDING_TOTP in self.__dict__:
            return self.__dict__[_PENDING_TOTP]  # type: ignore[no-any-return]
        sealed = self.sealed_totp_secret
        if sealed is None:
            return None
        return unseal(sealed, bound_to=binding(TOTP_SECRET_PURPOSE, self.id))

    @totp_secret.setter
    def totp_secret(self, plain: str | None) -> None:
        self.__dict__.pop(_PENDING_TOTP, None)
        if plain is None:
            self.sealed_totp_secret = None
        elif self.id is None:
            # Bound to the id, which a new account has only once inserted (see _seal_pending).
            self.__dict__[_PENDING_TOTP] = plain
        else:
            self.sealed_totp_secret = seal(plain, bound_to=binding(TOTP_SECRET_PURPOSE, self.id))


_PENDING_TOTP = "_pending_totp_secret"


@event.listens_for(User, "after_insert")
def _seal_pending(_mapper: Mapper[User], connection: Connection, user: User) -> None:
    """Seal the secret given to a new account, now that the account has its id."""
    plain = user.__dict__.pop(_PENDING_TOTP, None)
    if plain is None:
        return
    sealed = seal(plain, bound_to=binding(TOTP_SECRET_PURPOSE, user.id))
    table = cast(Table, User.__table__)
    connection.execute(update(table).where(table.c.id == user.id).values(totp_secret=sealed))
    set_committed_value(user, "sealed_totp_secret", sealed)


class UserSession(CreatedAtMixin, Base):
    """A server-side login session. The cookie holds a random token; only its hash is kept.

    A session is valid while ``revoked_at`` is null, ``expires_at`` (absolute) is in the future
    and ``last_seen_at`` is recent enough for the idle timeout. Logging out, changing the
    password or locking the account sets ``revoked_at``.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # Whether the second factor (TOTP) was passed in this session.
    second_factor_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))

    user: Mapped[User] = relationship(back_populates="sessions")


class LoginThrottle(Base):
    """A counter of sign-in tries, shared by every worker through the database.

    ``key`` names what is counted, e.g. ``"account:ann@example.org"``, ``"ip:127.0.0.1"`` or
    ``"device:..."``. ``window_start`` is when the last try was counted (a key idle for the
    throttle's window starts again), and ``next_try_at`` when the next try will be checked
    (null: at once); the delay grows with every try past the free ones.
    """

    __tablename__ = "login_throttles"
    __table_args__ = (CheckConstraint("attempts >= 0", name="attempts_nonneg"),)

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    next_try_at: Mapped[datetime | None]


class IdempotencyRecord(CreatedAtMixin, Base):
    """The stored answer to a POST sent with an ``Idempotency-Key`` header.

    A replay with the same key and user gets the same status and body; a replay whose request
    differs (another ``request_hash``) is refused. ``response_status`` is null while the first
    request is still being processed.
    """

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("key", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(JSON)


Index("ix_idempotency_records_created_at", IdempotencyRecord.created_at)
