"""The job queue table used by the embedded worker (and any later queue adapter)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, str_enum, utcnow


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


ACTIVE_JOB_STATUSES = (JobStatus.queued, JobStatus.running)


class Job(CreatedAtMixin, Base):
    """A unit of background work, claimed by one worker at a time.

    ``unique_key`` (e.g. ``"round:42"``) makes at most one queued-or-running job per key: a
    second insert with the same key fails on the partial unique index, so "one run per round at
    a time" holds even across processes. A worker claims a job by a guarded update
    (``... WHERE status = 'queued'``), keeps ``heartbeat_at`` fresh while it runs, and a job
    whose heartbeat is stale may be claimed again (``attempts`` counts the claims).
    """

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_nonneg"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_range"),
        Index(
            "uq_jobs_one_active_per_key",
            "unique_key",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running') AND unique_key IS NOT NULL"),
            postgresql_where=text("status IN ('queued', 'running') AND unique_key IS NOT NULL"),
        ),
        Index("ix_jobs_status_run_after", "status", "run_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    unique_key: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[JobStatus] = mapped_column(
        str_enum(JobStatus, "job_status"), default=JobStatus.queued
    )
    progress: Mapped[int] = mapped_column(default=0)
    message: Mapped[str | None] = mapped_column(String(500))
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(200))
    locked_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None]
