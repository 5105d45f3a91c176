"""What a job starts with and how a run ended, as the job repositories write them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from executors.models import LogLine
from gateway.store.job_statements import copy_logs, log_records

__all__ = ["JOBS_CHANNEL", "MAX_LOST_LEASES", "JobRows", "NewJob", "Outcome"]

JOBS_CHANNEL = "fngate_jobs"
MAX_LOST_LEASES = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class NewJob:
    """The fields a job starts with."""

    id: uuid.UUID
    function_id: int
    function_name: str
    version: int
    trigger: str
    owner: str
    subject: str | None
    event: Any
    context: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """How a run ended, as written to its job row."""

    status: str  # success | failed
    result: Any
    error: dict[str, Any] | None
    started_at: dt.datetime
    finished_at: dt.datetime
    duration: float
    cold_start: bool
    cached: bool = False
    cpu_ms: float | None = None
    max_rss_bytes: int | None = None


class JobRows:
    """The connection pools every job repository writes through (``records``: the one
    sync records go through)."""

    _pool: Any
    _records: Any

    @staticmethod
    async def _write_logs(
        conn: Any, job_id: uuid.UUID, function_id: int, logs: Sequence[LogLine]
    ) -> None:
        await copy_logs(conn, log_records(job_id, function_id, logs))
