"""Person profiles, the shared outcome-tag taxonomy and advocate consents.

``availability`` (here) and ``Offer.schedule`` share one shape: a mapping from day to the parts
of the day, e.g. ``{"mon": ["morning"], "wed": ["morning", "afternoon"]}``, with days from
:data:`DAYS` and parts from :data:`TIMES_OF_DAY`. An empty mapping means "not said".
"""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, CreatedAtMixin, TimestampMixin, str_enum, utcnow

if TYPE_CHECKING:
    from models.accounts import User

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIMES_OF_DAY: tuple[str, ...] = ("morning", "afternoon", "evening")
NEED_LEVEL_MAX = 10


class AgeBand(enum.StrEnum):
    """Age bands, youngest first; compare with :func:`age_band_index`."""

    age_16_17 = "16-17"
    age_18_24 = "18-24"
    age_25_34 = "25-34"
    age_35_49 = "35-49"
    age_50_64 = "50-64"
    age_65_plus = "65+"


AGE_BANDS: tuple[AgeBand, ...] = tuple(AgeBand)


def age_band_index(band: AgeBand | str) -> int:
    """Position of ``band`` in :data:`AGE_BANDS` (0 = youngest), for eligibility ranges."""
    return AGE_BANDS.index(AgeBand(band))


class OutcomeTag(Base):
    """One outcome from the shared taxonomy, e.g. ``paid-work`` / "Getting a paid job"."""

    __tablename__ = "outcome_tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)


person_outcome_tags = Table(
    "person_outcome_tags",
    Base.metadata,
    Column("person_id", ForeignKey("person_profiles.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("outcome_tags.id", ondelete="CASCADE"), primary_key=True),
)
Index("ix_person_outcome_tags_tag_id", person_outcome_tags.c.tag_id)


#: Crockford's base 32: no I, L, O or U, so a reference read aloud or copied by hand survives.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Crockford's check symbols: the value mod 37, with five more symbols after the alphabet.
REFERENCE_CHECK_SYMBOLS = REFERENCE_ALPHABET + "*~$=U"
REFERENCE_RANDOM_CHARS = 8  # 40 random bits: a trillion references for every one in use


def reference_check_symbol(body: str) -> str:
    """The check character of a reference's random part (Crockford's mod-37 check)."""
    value = 0
    for char in body:
        value = value * 32 + REFERENCE_ALPHABET.index(char)
    return REFERENCE_CHECK_SYMBOLS[value % 37]


def new_person_reference() -> str:
    """A random reference a person can give an advocate, e.g. ``P7K3M9QHXC``: ``P``, eight
    random Crockford base-32 characters and a check character that catches any one mistyped
    character and any two swapped ones. References are not guessable (unlike ids)."""
    body = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_RANDOM_CHARS))
    return f"P{body}{reference_check_symbol(body)}"


class PersonProfile(TimestampMixin, Base):
    """What a person tells the service about themselves, and what professionals assessed.

    Equity-monitoring ``equity_attributes`` (string to string, e.g. ``{"ethnicity": ...}``)
    are kept only with consent: ``equity_consent_at`` is set whenever they are not empty.
    """

    __tablename__ = "person_profiles"
    __table_args__ = (
        CheckConstraint(
            f"need_level >= 0 AND need_level <= {NEED_LEVEL_MAX}", name="need_level_range"
        ),
        CheckConstraint("max_travel_km IS NULL OR max_travel_km >= 0", name="max_travel_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # Random for new people; people made before references were random keep P000042 (their id).
    reference: Mapped[str] = mapped_column(String(16), unique=True, default=new_person_reference)
    area: Mapped[str | None] = mapped_column(String(100), index=True)
    age_band: Mapped[AgeBand | None] = mapped_column(str_enum(AgeBand, "age_band"))
    # Special-category data: read only through services that write an audit event.
    equity_attributes: Mapped[dict[str, str] | None] = mapped_column(JSON)
    equity_consent_at: Mapped[datetime | None]
    assessed_needs: Mapped[str | None] = mapped_column(Text)
    need_level: Mapped[int] = mapped_column(default=0)
    need_set_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    need_set_at: Mapped[datetime | None]
    aspirations_text: Mapped[str | None] = mapped_column(Text)
    max_travel_km: Mapped[int | None]
    availability: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Where the person is: the UK postcode they gave ("EX1 1AA"), and the point it stands for
    # when Tapestry knows it (matching measures the distance to each offer from it).
    postcode: Mapped[str | None] = mapped_column(String(10))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    # Easy Read (issue 13): short lines, a picture beside each, larger type, on the person's
    # pages (for them and for anyone acting for them) and in the messages sent to them.
    easy_read: Mapped[bool] = mapped_column(default=False, server_default=false())

    user: Mapped[User] = relationship(back_populates="person_profile", foreign_keys=[user_id])
    need_set_by: Mapped[User | None] = relationship(foreign_keys=[need_set_by_user_id])
    outcome_tags: Mapped[list[OutcomeTag]] = relationship(
        secondary=person_outcome_tags, order_by=OutcomeTag.slug
    )
    consents: Mapped[list[Consent]] = relationship(back_populates="person")


class ConsentStatus(enum.StrEnum):
    requested = "requested"
    granted = "granted"
    revoked = "revoked"
    declined = "declined"


class Consent(CreatedAtMixin, Base):
    """A person's permission for an advocate to act for them, within scopes.

    ``can_view``: see the person's profile, choices and places; ``can_draft``: prepare
    choices and profile changes; ``can_submit``: submit choices and accept or decline places.
    At most one consent per person and advocate is live (requested or granted) at a time.
    """

    __tablename__ = "consents"
    __table_args__ = (
        Index(
            "uq_consents_live_person_advocate",
            "person_id",
            "advocate_id",
            unique=True,
            sqlite_where=text("status IN ('requested', 'granted')"),
            postgresql_where=text("status IN ('requested', 'granted')"),
        ),
        CheckConstraint("status != 'granted' OR granted_at IS NOT NULL", name="granted_has_time"),
        CheckConstraint("status != 'revoked' OR revoked_at IS NOT NULL", name="revoked_has_time"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person_profiles.id", ondelete="CASCADE"), index=True
    )
    advocate_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    can_view: Mapped[bool] = mapped_column(default=True)
    can_draft: Mapped[bool] = mapped_column(default=False)
    can_submit: Mapped[bool] = mapped_column(default=False)
    status: Mapped[ConsentStatus] = mapped_column(
        str_enum(ConsentStatus, "consent_status"), default=ConsentStatus.requested
    )
    note: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    granted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    person: Mapped[PersonProfile] = relationship(back_populates="consents")
    advocate: Mapped[User] = relationship()

    @property
    def scopes(self) -> frozenset[str]:
        """The granted scopes as names: a subset of ``{"view", "draft", "submit"}``."""
        names = {"view": self.can_view, "draft": self.can_draft, "submit": self.can_submit}
        return frozenset(name for name, on in names.items() if on)

    @property
    def is_active(self) -> bool:
        return self.status == ConsentStatus.granted


class Postcode(Base):
    """A UK postcode and where it is, from the ONS Postcode Directory (``tapestry postcodes
    import``). ``terminated`` is the month it stopped being used (ONSPD's ``doterm``), if it
    has: its point still says where an old address is."""

    __tablename__ = "postcodes"

    # In capitals with one space, as ONSPD's ``pcds`` and web.services.postcodes give it.
    postcode: Mapped[str] = mapped_column(String(8), primary_key=True)
    latitude: Mapped[float]
    longitude: Mapped[float]
    terminated: Mapped[str | None] = mapped_column(String(7))  # "2011-06"
