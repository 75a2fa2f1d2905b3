"""Where imported providers and offers came from: the Open Referral ids of another directory.

An import keys each organisation and service it reads on the feed's own id, within the council
it is imported into, so that a second import of the same feed updates the records it made
rather than making new ones. A council's own taxonomies (and their terms) are published in
its feed beside the national ones, and its providers can tag offers with their terms.
"""

from __future__ import annotations

import enum

from sqlalchemy import (
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

from models.base import Base, TimestampMixin, str_enum


class SourceKind(enum.StrEnum):
    organization = "organization"
    service = "service"


class SourceRecord(TimestampMixin, Base):
    """One organisation (a provider) or service (an offer) read from an Open Referral feed."""

    __tablename__ = "openreferral_sources"
    __table_args__ = (
        UniqueConstraint("council_id", "kind", "source_id"),
        CheckConstraint(
            "(kind = 'organization' AND provider_id IS NOT NULL AND offer_id IS NULL)"
            " OR (kind = 'service' AND offer_id IS NOT NULL)",
            name="kind_has_record",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(ForeignKey("councils.id", ondelete="CASCADE"))
    kind: Mapped[SourceKind] = mapped_column(str_enum(SourceKind, "openreferral_source_kind"))
    # The feed's id of the record, as the feed wrote it (the profile asks for a UUID).
    source_id: Mapped[str] = mapped_column(String(200))
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    offer_id: Mapped[int | None] = mapped_column(
        ForeignKey("offers.id", ondelete="CASCADE"), index=True
    )


class CouncilTaxonomy(TimestampMixin, Base):
    """A taxonomy a council publishes beside Tapestry's national ones (service types, outcomes
    and need levels): its own list of terms that its providers can tag their services with.

    ``source_id`` is the id the council's document gave it (the profile asks for a UUID), so
    loading the same document again updates the taxonomy rather than adding a second one.
    """

    __tablename__ = "council_taxonomies"
    __table_args__ = (
        UniqueConstraint("council_id", "source_id"),
        UniqueConstraint("council_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(ForeignKey("councils.id", ondelete="CASCADE"))
    source_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # Where the taxonomy is published, if anywhere besides this feed (an absolute URI).
    uri: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[str | None] = mapped_column(String(50))

    terms: Mapped[list[CouncilTaxonomyTerm]] = relationship(
        back_populates="taxonomy",
        order_by="CouncilTaxonomyTerm.position",
        cascade="all, delete-orphan",
    )


class CouncilTaxonomyTerm(Base):
    """One term of a council's taxonomy; ``parent_id`` makes a tree of them."""

    __tablename__ = "council_taxonomy_terms"
    __table_args__ = (
        UniqueConstraint("taxonomy_id", "source_id"),
        UniqueConstraint("taxonomy_id", "code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    taxonomy_id: Mapped[int] = mapped_column(
        ForeignKey("council_taxonomies.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str] = mapped_column(String(200))
    # The term's short code ("term" in the profile), unique within its taxonomy.
    code: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("council_taxonomy_terms.id", ondelete="SET NULL")
    )
    term_uri: Mapped[str | None] = mapped_column(String(500))
    position: Mapped[int] = mapped_column(default=0)  # the order the council gave

    taxonomy: Mapped[CouncilTaxonomy] = relationship(back_populates="terms")


offer_council_terms = Table(
    "offer_council_terms",
    Base.metadata,
    Column("offer_id", ForeignKey("offers.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "term_id", ForeignKey("council_taxonomy_terms.id", ondelete="CASCADE"), primary_key=True
    ),
)
Index("ix_offer_council_terms_term_id", offer_council_terms.c.term_id)
