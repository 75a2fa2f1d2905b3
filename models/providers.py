"""Providers (organisation fields after Open Referral), their members and their offers."""

from __future__ import annotations

import enum
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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, CreatedAtMixin, TimestampMixin, str_enum
from models.people import NEED_LEVEL_MAX, AgeBand, OutcomeTag

if TYPE_CHECKING:
    from models.accounts import Council, User
    from models.openreferral import CouncilTaxonomyTerm


class Provider(TimestampMixin, Base):
    """An organisation that offers services. ``areas_served`` lists council area names."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(
        ForeignKey("councils.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(50))
    # Charity, company or CQC number, as the provider gives it.
    registered_identifier: Mapped[str | None] = mapped_column(String(100))
    areas_served: Mapped[list[str]] = mapped_column(JSON, default=list)

    council: Mapped[Council] = relationship(back_populates="providers")
    members: Mapped[list[ProviderMember]] = relationship(
        back_populates="provider", cascade="all, delete-orphan", passive_deletes=True
    )
    offers: Mapped[list[Offer]] = relationship(back_populates="provider")


class ProviderMember(CreatedAtMixin, Base):
    """A user who may act for a provider."""

    __tablename__ = "provider_members"
    __table_args__ = (UniqueConstraint("provider_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    provider: Mapped[Provider] = relationship(back_populates="members")
    user: Mapped[User] = relationship(back_populates="provider_memberships")


class OfferCategory(enum.StrEnum):
    employment = "employment"
    training = "training"
    day_opportunity = "day_opportunity"
    home_support = "home_support"
    social = "social"
    creative = "creative"


class OfferStatus(enum.StrEnum):
    draft = "draft"
    published = "published"
    withdrawn = "withdrawn"


offer_outcome_tags = Table(
    "offer_outcome_tags",
    Base.metadata,
    Column("offer_id", ForeignKey("offers.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("outcome_tags.id", ondelete="CASCADE"), primary_key=True),
)
Index("ix_offer_outcome_tags_tag_id", offer_outcome_tags.c.tag_id)


class Offer(TimestampMixin, Base):
    """A service a provider offers: price per place in pence and standing capacity.

    Eligibility: an age range (``min_age_band`` .. ``max_age_band``, either end open), an
    optional need-level range and free-text ``eligibility_text``. ``schedule`` has the shape
    described in :mod:`models.people`. A round takes its own number of places in
    ``RoundOffer``; ``capacity`` is the provider's standing figure.
    """

    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint("price_pence >= 0", name="price_nonneg"),
        CheckConstraint("capacity >= 0", name="capacity_nonneg"),
        CheckConstraint(
            f"min_need_level IS NULL OR (min_need_level >= 0 AND min_need_level <= "
            f"{NEED_LEVEL_MAX})",
            name="min_need_range",
        ),
        CheckConstraint(
            f"max_need_level IS NULL OR (max_need_level >= 0 AND max_need_level <= "
            f"{NEED_LEVEL_MAX})",
            name="max_need_range",
        ),
        Index("ix_offers_status_category", "status", "category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[OfferCategory] = mapped_column(str_enum(OfferCategory, "offer_category"))
    min_age_band: Mapped[AgeBand | None] = mapped_column(str_enum(AgeBand, "offer_min_age_band"))
    max_age_band: Mapped[AgeBand | None] = mapped_column(str_enum(AgeBand, "offer_max_age_band"))
    min_need_level: Mapped[int | None]
    max_need_level: Mapped[int | None]
    eligibility_text: Mapped[str | None] = mapped_column(Text)
    price_pence: Mapped[int]
    capacity: Mapped[int]
    # The main area it serves; ``other_areas`` are the further areas, in the order given
    # (Open Referral's ``service_areas`` are all of them, the main one first).
    area: Mapped[str | None] = mapped_column(String(100), index=True)
    other_areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    location: Mapped[str | None] = mapped_column(String(300))
    # The place's postal address: street (and number), town, UK postcode ("EX1 1AA").
    address_line: Mapped[str | None] = mapped_column(String(300))
    town: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str | None] = mapped_column(String(10), index=True)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    schedule: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # When it runs, as RFC 5545 rules: each {"rrule", "dtstart", "opens_at", "closes_at",
    # "exdates"} (see web.services.recurrence); ``schedule`` is the days and parts they fall on.
    schedule_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    accessibility: Mapped[str | None] = mapped_column(Text)
    # Languages the service is given in besides English, by name ("Polish", "BSL").
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Who to ask about the service: a name or a role ("Sam, the group's leader").
    contact_name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[OfferStatus] = mapped_column(
        str_enum(OfferStatus, "offer_status"), default=OfferStatus.draft
    )
    published_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]

    provider: Mapped[Provider] = relationship(back_populates="offers")
    outcome_tags: Mapped[list[OutcomeTag]] = relationship(
        secondary=offer_outcome_tags, order_by=OutcomeTag.slug
    )
    # Terms of its council's own taxonomies (models.openreferral), beside the national tags.
    council_terms: Mapped[list[CouncilTaxonomyTerm]] = relationship(
        secondary="offer_council_terms",
        order_by="[CouncilTaxonomyTerm.taxonomy_id, CouncilTaxonomyTerm.position]",
    )

    @property
    def service_areas(self) -> list[str]:
        """Every area it serves, the main one first; empty when it has none (online)."""
        return ([self.area] if self.area else []) + [
            a for a in self.other_areas or [] if a != self.area
        ]


class OfferDraft(TimestampMixin, Base):
    """A new offer's answers while its provider goes through the form a question at a time.

    ``answers`` holds each question's fields as the pages send them (text as typed, lists for
    checkboxes), already checked one page at a time; the offer itself is made from them on the
    check-your-answers page, and the draft is then deleted. Kept on the server, so the pages
    carry no hidden copies of earlier answers.
    """

    __tablename__ = "offer_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
