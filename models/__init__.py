"""Tapestry's database models (SQLAlchemy 2.0) and migrations (Alembic, in ``migrations/``).

Importing this package registers every table on ``Base.metadata``.
"""

from models.accounts import Council, IdempotencyRecord, LoginThrottle, Role, User, UserSession
from models.audit import AuditEvent, append_event, verify_chain
from models.base import Base, CreatedAtMixin, TimestampMixin, UTCDateTime, utcnow
from models.db import (
    default_database_url,
    make_engine,
    make_session_factory,
    upgrade,
)
from models.jobs import ACTIVE_JOB_STATUSES, Job, JobStatus
from models.people import (
    AGE_BANDS,
    DAYS,
    NEED_LEVEL_MAX,
    TIMES_OF_DAY,
    AgeBand,
    Consent,
    ConsentStatus,
    OutcomeTag,
    PersonProfile,
    age_band_index,
    person_outcome_tags,
)
from models.privacy import ErasureDecision, ErasureRecord, RetentionPolicy
from models.providers import (
    Offer,
    OfferCategory,
    OfferStatus,
    Provider,
    ProviderMember,
    offer_outcome_tags,
)
from models.rounds import (
    ACTIVE_RUN_STATUSES,
    Allocation,
    AllocationStatus,
    Budget,
    Choice,
    Commitment,
    Mechanism,
    Round,
    RoundOffer,
    RoundStatus,
    RunStatus,
    SolverRun,
    WaitingPosition,
)
from models.voice import Feedback, Proposal, ProposalStatus, ProposalSupport

__all__ = [
    "ACTIVE_JOB_STATUSES",
    "ACTIVE_RUN_STATUSES",
    "AGE_BANDS",
    "DAYS",
    "NEED_LEVEL_MAX",
    "TIMES_OF_DAY",
    "AgeBand",
    "Allocation",
    "AllocationStatus",
    "AuditEvent",
    "Base",
    "Budget",
    "Choice",
    "Commitment",
    "Consent",
    "ConsentStatus",
    "Council",
    "CreatedAtMixin",
    "ErasureDecision",
    "ErasureRecord",
    "Feedback",
    "IdempotencyRecord",
    "Job",
    "JobStatus",
    "LoginThrottle",
    "Mechanism",
    "Offer",
    "OfferCategory",
    "OfferStatus",
    "OutcomeTag",
    "PersonProfile",
    "Proposal",
    "ProposalStatus",
    "ProposalSupport",
    "Provider",
    "ProviderMember",
    "RetentionPolicy",
    "Role",
    "Round",
    "RoundOffer",
    "RoundStatus",
    "RunStatus",
    "SolverRun",
    "TimestampMixin",
    "UTCDateTime",
    "User",
    "UserSession",
    "WaitingPosition",
    "age_band_index",
    "append_event",
    "default_database_url",
    "make_engine",
    "make_session_factory",
    "offer_outcome_tags",
    "person_outcome_tags",
    "upgrade",
    "utcnow",
    "verify_chain",
]
