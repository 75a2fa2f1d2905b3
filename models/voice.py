"""The voice loop: feedback on offers, and proposals for services that do not exist yet."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, CreatedAtMixin, TimestampMixin, str_enum

if TYPE_CHECKING:
    from models.accounts import Council, User
    from models.people import PersonProfile
    from models.providers import Offer
    from models.rounds import Allocation, Round


class Feedback(CreatedAtMixin, Base):
    """A person's rating (1 to 5) and comment on an offer, usually after a placement."""

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("rating >= 1 AND rating <= 5", name="rating_range"),
        UniqueConstraint("offer_id", "person_id", "allocation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person_profiles.id", ondelete="CASCADE"), index=True
    )
    allocation_id: Mapped[int | None] = mapped_column(
        ForeignKey("allocations.id", ondelete="SET NULL")
    )
    rating: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    offer: Mapped[Offer] = relationship()
    person: Mapped[PersonProfile] = relationship()
    allocation: Mapped[Allocation | None] = relationship()


class ProposalStatus(enum.StrEnum):
    open = "open"
    under_consideration = "under_consideration"
    commissioned = "commissioned"
    declined = "declined"


class Proposal(TimestampMixin, Base):
    """A person's idea for a service, which others can support and commissioners answer."""

    __tablename__ = "proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(
        ForeignKey("councils.id", ondelete="RESTRICT"), index=True
    )
    proposer_id: Mapped[int] = mapped_column(
        ForeignKey("person_profiles.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    area: Mapped[str | None] = mapped_column(String(100))
    # Outcome tag slugs (from the shared taxonomy) the proposal is about.
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[ProposalStatus] = mapped_column(
        str_enum(ProposalStatus, "proposal_status"), default=ProposalStatus.open, index=True
    )
    response: Mapped[str | None] = mapped_column(Text)
    commissioned_round_id: Mapped[int | None] = mapped_column(
        ForeignKey("rounds.id", ondelete="SET NULL")
    )
    responded_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    responded_at: Mapped[datetime | None]

    council: Mapped[Council] = relationship()
    proposer: Mapped[PersonProfile] = relationship()
    commissioned_round: Mapped[Round | None] = relationship()
    responded_by: Mapped[User | None] = relationship()
    supports: Mapped[list[ProposalSupport]] = relationship(
        back_populates="proposal", cascade="all, delete-orphan", passive_deletes=True
    )


class ProposalSupport(CreatedAtMixin, Base):
    """One person supporting one proposal (at most once)."""

    __tablename__ = "proposal_supports"
    __table_args__ = (UniqueConstraint("proposal_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person_profiles.id", ondelete="CASCADE"), index=True
    )

    proposal: Mapped[Proposal] = relationship(back_populates="supports")
    person: Mapped[PersonProfile] = relationship()
