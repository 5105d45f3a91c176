"""Repository for job retention: deleting finished jobs and their log lines.

A round deletes finished jobs (``success``/``failed``; never ``pending`` or ``running``)
that finished longer ago than the age limit, then, per function, those below its newest
``keep_per_function`` finished jobs. Each statement deletes at most one batch and the log
lines of the jobs it deleted, so none holds its row locks for long; the jobs are walked in
``(finished_at, id)`` order with a cursor, so a kept job is read once per round, not once
per batch.

A job is kept, whatever its age, while an unexpired Idempotency-Key names it (a repeated
call answers with that job) or a callback or webhook event of it waits to be sent (its
body is rendered from the job). Only one replica prunes at a time (an advisory lock; the
others skip the round), and rows another transaction holds are skipped, not waited for.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

__all__ = ["JOB_RETENTION_LOCK", "JobRetentionStore", "PrunedJobs"]

#: The advisory lock of a job retention round ("fngate" and 1; migrations hold "fngate").
JOB_RETENTION_LOCK = 0x666E6761746501

_FINISHED = "status IN ('success', 'failed')"

# $1, $2: the cursor (finished_at, id); $3: the batch size; $4: the idempotency keys' TTL
# in seconds; $5…: the batch's own (see the two below).
_DELETE_BATCH = f"""
WITH batch AS ({{batch}}),
victims AS (
  SELECT j.id FROM jobs j
  WHERE j.id IN (SELECT id FROM batch) AND j.{_FINISHED}
    AND NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.job_id = j.id
                    AND k.created_at >= now() - make_interval(secs => $4))
    AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.job_id = j.id
                    AND d.status IN ('waiting', 'pending'))
  FOR UPDATE OF j SKIP LOCKED),
gone AS (DELETE FROM jobs WHERE id IN (SELECT id FROM victims) RETURNING id),
lines AS (DELETE FROM job_logs WHERE job_id IN (SELECT id FROM gone) RETURNING 1),
last AS (SELECT finished_at, id FROM batch ORDER BY finished_at DESC, id DESC LIMIT 1)
SELECT (SELECT count(*) FROM batch) AS seen, (SELECT count(*) FROM gone) AS jobs,
       (SELECT count(*) FROM lines) AS lines, last.finished_at, last.id
FROM (SELECT 1) one LEFT JOIN last ON true
"""

# $5: the age limit in seconds.
_BY_AGE = _DELETE_BATCH.format(batch=f"""
  SELECT id, finished_at FROM jobs
  WHERE {_FINISHED} AND finished_at < now() - make_interval(secs => $5)
    AND (finished_at, id) > ($1, $2)
  ORDER BY finished_at, id LIMIT $3""")

# $5: the function; $6, $7: its newest job to delete (finished_at, id).
_BY_COUNT = _DELETE_BATCH.format(batch=f"""
  SELECT id, finished_at FROM jobs
  WHERE function_id = $5 AND {_FINISHED}
    AND (finished_at, id) <= ($6, $7) AND (finished_at, id) > ($1, $2)
  ORDER BY finished_at, id LIMIT $3""")

# Per function with more than $1 finished jobs: its newest finished job beyond the first
# $1. A skip scan over jobs_finished_by_function: one probe per function, not a full scan.
_COUNT_CUTS = f"""
WITH RECURSIVE fns AS (
  (SELECT function_id FROM jobs WHERE {_FINISHED} ORDER BY function_id LIMIT 1)
  UNION ALL
  SELECT (SELECT j.function_id FROM jobs j
          WHERE j.{_FINISHED} AND j.function_id > fns.function_id
          ORDER BY j.function_id LIMIT 1)
  FROM fns WHERE fns.function_id IS NOT NULL)
SELECT fns.function_id, cut.finished_at, cut.id FROM fns
CROSS JOIN LATERAL (
  SELECT finished_at, id FROM jobs j
  WHERE j.function_id = fns.function_id AND j.{_FINISHED}
  ORDER BY finished_at DESC, id DESC OFFSET $1 LIMIT 1) cut
WHERE fns.function_id IS NOT NULL
"""

_START = (dt.datetime(1, 1, 1, tzinfo=dt.UTC), uuid.UUID(int=0))


@dataclasses.dataclass(slots=True, kw_only=True)
class PrunedJobs:
    """What one retention round deleted."""

    jobs_by_age: int = 0
    jobs_by_count: int = 0
    job_log_lines: int = 0

    def as_counts(self) -> dict[str, int]:
        return dataclasses.asdict(self)


class JobRetentionStore:
    """Deletes finished jobs past their retention, with their log lines, in batches."""

    def __init__(self, pool: Any, *, batch_size: int = 1000) -> None:
        self._pool = pool
        self._batch = batch_size

    async def prune(self, *, max_age_s: float, keep_per_function: int,
                    key_ttl_s: float) -> PrunedJobs | None:
        """Run one round: by age, then by count per function. ``key_ttl_s`` is how long an
        Idempotency-Key names its job. None when another replica is running a round."""
        async with self._pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", JOB_RETENTION_LOCK):
                return None
            try:
                return await self._round(conn, max_age_s, keep_per_function, key_ttl_s)
            finally:
                await _unlock(conn)

    async def _round(self, conn: Any, max_age_s: float, keep: int,
                     key_ttl_s: float) -> PrunedJobs:
        pruned = PrunedJobs()
        jobs, lines = await self._walk(conn, _BY_AGE, key_ttl_s, float(max_age_s))
        pruned.jobs_by_age, pruned.job_log_lines = jobs, lines
        for function_id, cut_at, cut_id in await conn.fetch(_COUNT_CUTS, keep):
            jobs, lines = await self._walk(conn, _BY_COUNT, key_ttl_s,
                                           function_id, cut_at, cut_id)
            pruned.jobs_by_count += jobs
            pruned.job_log_lines += lines
        return pruned

    async def _walk(self, conn: Any, sql: str, key_ttl_s: float,
                    *args: Any) -> tuple[int, int]:
        """Run ``sql`` batch after batch from the oldest candidate to the last."""
        jobs = lines = 0
        cursor_at, cursor_id = _START
        while True:
            row = await conn.fetchrow(sql, cursor_at, cursor_id, self._batch,
                                      float(key_ttl_s), *args)
            jobs += row["jobs"]
            lines += row["lines"]
            if row["seen"] < self._batch:
                return jobs, lines
            cursor_at, cursor_id = row["finished_at"], row["id"]


async def _unlock(conn: Any) -> None:
    # Pooled connections are released without a reset (gateway/store/pool.py): a lock
    # left behind would stop every later round on every replica. A connection that cannot
    # unlock (a round cancelled mid-statement leaves it busy) is closed, which lets go of
    # the lock; the round's own exception, if any, is the one that propagates.
    try:
        await conn.execute("SELECT pg_advisory_unlock($1)", JOB_RETENTION_LOCK)
    except BaseException as exc:
        conn.terminate()
        if not isinstance(exc, Exception):
            raise
