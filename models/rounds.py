"""Commissioning rounds: places per offer, budgets, choices, solver runs, allocations, money.

Places and money are guarded twice: services change ``RoundOffer.places_taken`` and
``Budget.committed_pence`` with guarded updates (``UPDATE ... WHERE places_taken < places``,
checking the row count), and CHECK constraints here refuse any oversell or overspend that
slipped past them.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, CreatedAtMixin, TimestampMixin, str_enum, utcnow

if TYPE_CHECKING:
    from models.accounts import Council, User
    from models.people import PersonProfile
    from models.providers import Offer, Provider


class RoundStatus(enum.StrEnum):
    draft = "draft"
    open = "open"
    closed = "closed"
    allocated = "allocated"
    published = "published"


class Mechanism(enum.StrEnum):
    welfare = "welfare"
    stable = "stable"


class Round(TimestampMixin, Base):
    """One commissioning round of a council.

    ``rules`` holds the equity rules exactly as the allocation format's ``policy.rules``;
    ``areas`` lists the council areas in scope (empty = all). ``pot_pence`` null = no cap.
    ``published_run_id`` is the run whose allocation became the round's; ``override_*`` say
    why it was published although it breaks the pot or a rule.
    """

    __tablename__ = "rounds"
    __table_args__ = (
        CheckConstraint("pot_pence IS NULL OR pot_pence >= 0", name="pot_nonneg"),
        CheckConstraint("time_limit_s > 0", name="time_limit_pos"),
        CheckConstraint("max_choices >= 1", name="max_choices_pos"),
        CheckConstraint("max_placements >= 1", name="max_placements_pos"),
        CheckConstraint("answer_days >= 1 AND answer_days <= 60", name="answer_days_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(
        ForeignKey("councils.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    pot_pence: Mapped[int | None] = mapped_column(BigInteger)
    choice_deadline: Mapped[datetime | None]
    status: Mapped[RoundStatus] = mapped_column(
        str_enum(RoundStatus, "round_status"), default=RoundStatus.draft, index=True
    )
    mechanism: Mapped[Mechanism] = mapped_column(
        str_enum(Mechanism, "round_mechanism"), default=Mechanism.welfare
    )
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    time_limit_s: Mapped[float] = mapped_column(default=60.0)
    seed: Mapped[int] = mapped_column(default=0)
    max_choices: Mapped[int] = mapped_column(default=5)
    max_placements: Mapped[int] = mapped_column(default=1)
    # Days a person has to answer an offer of a place; an offer left unanswered that long
    # expires and its place is offered to the next person (web.services.places_cycle).
    answer_days: Mapped[int] = mapped_column(default=7, server_default=text("7"))
    areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    published_run_id: Mapped[int | None] = mapped_column(
        ForeignKey(
            "solver_runs.id", ondelete="SET NULL", use_alter=True, name="fk_rounds_published_run"
        )
    )
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    # Set when the published run breaks the pot or a rule and the commissioner published it
    # anyway: why, and what it breaks (sentences, as the run page showed them). Who did it is
    # the "round.publish" audit event's actor.
    override_reason: Mapped[str | None] = mapped_column(Text)
    override_breaches: Mapped[list[str] | None] = mapped_column(JSON)

    council: Mapped[Council] = relationship(back_populates="rounds")
    round_offers: Mapped[list[RoundOffer]] = relationship(
        back_populates="round", cascade="all, delete-orphan", passive_deletes=True
    )
    budgets: Mapped[list[Budget]] = relationship(back_populates="round")
    choices: Mapped[list[Choice]] = relationship(back_populates="round")
    runs: Mapped[list[SolverRun]] = relationship(
        back_populates="round", foreign_keys="SolverRun.round_id"
    )
    published_run: Mapped[SolverRun | None] = relationship(
        foreign_keys=[published_run_id], post_update=True
    )


class RoundOffer(Base):
    """An offer taking part in a round, with the places it has in that round.

    ``places_taken`` counts accepted (or held) places and only ever moves by guarded updates.
    """

    __tablename__ = "round_offers"
    __table_args__ = (
        UniqueConstraint("round_id", "offer_id"),
        CheckConstraint("places >= 0", name="places_nonneg"),
        CheckConstraint("places_taken >= 0", name="places_taken_nonneg"),
        CheckConstraint("places_taken <= places", name="not_oversold"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="RESTRICT"), index=True)
    places: Mapped[int]
    places_taken: Mapped[int] = mapped_column(default=0)

    round: Mapped[Round] = relationship(back_populates="round_offers")
    offer: Mapped[Offer] = relationship()

    @property
    def places_left(self) -> int:
        return self.places - self.places_taken


class Budget(TimestampMixin, Base):
    """A person's personal budget for one round. Commitments add to ``committed_pence``."""

    __tablename__ = "budgets"
    __table_args__ = (
        UniqueConstraint("round_id", "person_id"),
        CheckConstraint("amount_pence >= 0", name="amount_nonneg"),
        CheckConstraint("committed_pence >= 0", name="committed_nonneg"),
        CheckConstraint("committed_pence <= amount_pence", name="not_overspent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="RESTRICT"))
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person_profiles.id", ondelete="RESTRICT"), index=True
    )
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    committed_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    set_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    round: Mapped[Round] = relationship(back_populates="budgets")
    person: Mapped[PersonProfile] = relationship()
    commitments: Mapped[list[Commitment]] = relationship(back_populates="budget")

    @property
    def remaining_pence(self) -> int:
        return self.amount_pence - self.committed_pence


class Choice(CreatedAtMixin, Base):
    """A person's ranked choice of an offer in a round (rank 1 = most wanted).

    ``created_by_user_id`` is who pressed the button; ``on_behalf_of_user_id`` is the person's
    user when an advocate did so for them.
    """

    __tablename__ = "choices"
    __table_args__ = (
        UniqueConstraint("round_id", "person_id", "offer_id"),
        UniqueConstraint("round_id", "person_id", "rank"),
        CheckConstraint("rank >= 1", name="rank_pos"),
        Index("ix_choices_round_id_offer_id", "round_id", "offer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="RESTRICT"))
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person_profiles.id", ondelete="RESTRICT"), index=True
    )
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="RESTRICT"))
    rank: Mapped[int]
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    on_behalf_of_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    round: Mapped[Round] = relationship(back_populates="choices")
    person: Mapped[PersonProfile] = relationship()
    offer: Mapped[Offer] = relationship()


class RunStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


ACTIVE_RUN_STATUSES = (RunStatus.queued, RunStatus.running)


class SolverRun(CreatedAtMixin, Base):
    """One allocation run of a round, stored so it can be reproduced exactly.

    ``instance_json`` is the engine instance (the allocation format) and ``input_hash`` its
    SHA-256; ``result_json`` the engine's result, ``status_of_result`` its ``status`` field.
    At most one run per round is queued or running at a time (a partial unique index).
    """

    __tablename__ = "solver_runs"
    __table_args__ = (
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_range"),
        Index(
            "uq_solver_runs_one_active_per_round",
            "round_id",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="RESTRICT"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    label: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[RunStatus] = mapped_column(
        str_enum(RunStatus, "run_status"), default=RunStatus.queued
    )
    progress: Mapped[int] = mapped_column(default=0)
    message: Mapped[str | None] = mapped_column(String(500))
    mechanism: Mapped[Mechanism] = mapped_column(str_enum(Mechanism, "run_mechanism"))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seed: Mapped[int] = mapped_column(default=0)
    input_hash: Mapped[str | None] = mapped_column(String(64))
    ortools_version: Mapped[str | None] = mapped_column(String(40))
    instance_json: Mapped[str | None] = mapped_column(Text)
    result_json: Mapped[str | None] = mapped_column(Text)
    # Figures worked out after the solve: the price of each equity rule and the marginal value
    # of one more place per offer (engine.explain), kept so the results page needs no re-solve.
    analysis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status_of_result: Mapped[str | None] = mapped_column(String(20))
    objective: Mapped[int | None] = mapped_column(BigInteger)
    bound: Mapped[int | None] = mapped_column(BigInteger)
    solve_seconds: Mapped[float | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    round: Mapped[Round] = relationship(back_populates="runs", foreign_keys=[round_id])
    allocations: Mapped[list[Allocation]] = relationship(back_populates="run")


class AllocationStatus(enum.StrEnum):
    offered = "offered"
    accepted = "accepted"
    declined = "declined"
    withdrawn = "withdrawn"
    #: Not answered by ``answer_by``: the place went to the next person.
    expired = "expired"
    #: Accepted, then given up by the person: the money went back, the place on.
    given_up = "given_up"
    #: The provider could not take the person (``provider_reason`` says why).
    provider_declined = "provider_declined"


class Allocation(CreatedAtMixin, Base):
    """A place given to a person by a run: offered, then accepted or declined.

    ``price_pence`` is the price when allocated; ``explanation`` is the engine's explanation
    of this placement (``engine.explain``) as JSON. ``answer_by`` is when an offer not yet
    answered expires. Once accepted, the provider confirms it with a ``start_date``
    (``confirmed_at``) or declines it with a ``provider_reason``.
    """

    __tablename__ = "allocations"
    __table_args__ = (
        UniqueConstraint("run_id", "person_id", "offer_id"),
        CheckConstraint("price_pence >= 0", name="price_nonneg"),
        CheckConstraint("rank IS NULL OR rank >= 1", name="rank_pos"),
        Index("ix_allocations_round_id_status", "round_id", "status"),
        Index("ix_allocations_offer_id", "offer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="RESTRICT"))
    run_id: Mapped[int] = mapped_column(ForeignKey("solver_runs.id", ondelete="RESTRICT"))
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person_profiles.id", ondelete="RESTRICT"), index=True
    )
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="RESTRICT"))
    rank: Mapped[int | None]
    utility: Mapped[int | None] = mapped_column(BigInteger)
    price_pence: Mapped[int]
    status: Mapped[AllocationStatus] = mapped_column(
        str_enum(AllocationStatus, "allocation_status"), default=AllocationStatus.offered
    )
    decided_at: Mapped[datetime | None]
    decided_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    on_behalf_of_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    explanation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    answer_by: Mapped[datetime | None] = mapped_column(index=True)
    confirmed_at: Mapped[datetime | None]
    start_date: Mapped[date | None]
    provider_reason: Mapped[str | None] = mapped_column(Text)
    provider_decided_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    run: Mapped[SolverRun] = relationship(back_populates="allocations")
    round: Mapped[Round] = relationship()
    person: Mapped[PersonProfile] = relationship()
    offer: Mapped[Offer] = relationship()
    commitment: Mapped[Commitment | None] = relationship(back_populates="allocation")


class Commitment(Base):
    """Money moved from a person's budget to a provider when a place is accepted.

    One per allocation; ``released_at`` is set when the money goes back (place given up).
    """

    __tablename__ = "commitments"
    __table_args__ = (CheckConstraint("amount_pence > 0", name="amount_pos"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(
        ForeignKey("allocations.id", ondelete="RESTRICT"), unique=True
    )
    budget_id: Mapped[int] = mapped_column(
        ForeignKey("budgets.id", ondelete="RESTRICT"), index=True
    )
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="RESTRICT"), index=True
    )
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None]
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    allocation: Mapped[Allocation] = relationship(back_populates="commitment")
    budget: Mapped[Budget] = relationship(back_populates="commitments")
    provider: Mapped[Provider] = relationship()
    created_by: Mapped[User | None] = relationship()


class WaitingPosition(Base):
    """Where a person stood on an offer's waiting list when they last looked, so their page
    can say how it moved since (``position`` 1 = next in line)."""

    __tablename__ = "waiting_positions"
    __table_args__ = (
        UniqueConstraint("person_id", "round_id", "offer_id"),
        CheckConstraint("position >= 1", name="position_pos"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person_profiles.id", ondelete="CASCADE"), index=True
    )
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"))
    position: Mapped[int]
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
