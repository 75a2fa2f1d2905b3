"""Where imported providers and offers came from: the Open Referral ids of another directory.

An import keys each organisation and service it reads on the feed's own id, within the council
it is imported into, so that a second import of the same feed updates the records it made
rather than making new ones.
"""

from __future__ import annotations

import enum

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

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
