"""Leased jobs: the claim, the heartbeat, the outcome written while the lease holds,
a retry put back, expired leases taken back, and the hand-back at shutdown.

A runner writes its outcome only while its token still holds, so a replica that lost
its lease never overwrites the one that took over.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from executors.models import LogLine
from gateway.core.models import Job
from gateway.store.batches import BatchWriter, json_rows
from gateway.store.job_models import JOBS_CHANNEL, MAX_LOST_LEASES, JobRows, Outcome
from gateway.store.job_statements import (
    CLAIM,
    FINISH,
    FINISH_MANY,
    FinishRow,
    copy_logs,
    log_records,
)
from gateway.store.webhooks import with_job_events

__all__ = ["JobLeases"]


class JobLeases(JobRows):
    """The leased side of :class:`~gateway.store.jobs.JobStore`."""

    _finishes: BatchWriter[FinishRow, bool]

    async def claim(self, limit: int, lease_s: float,
                    in_use: Mapping[int, int] | None = None) -> list[tuple[Job, str]]:
        """Take up to ``limit`` due pending jobs under a fresh lease each.

        At most ``max_concurrency - in_use[function_id]`` jobs of each function (a
        function missing from ``in_use`` has none in use), so a function whose slots are
        all taken here does not fill the runner with jobs that would only wait for them.
        Each function's oldest first, taken round-robin across functions.
        """
        used = in_use or {}
        rows = await self._pool.fetch(
            CLAIM, limit, lease_s, list(used.keys()), list(used.values()))
        return [(Job.from_row(r), str(r["lease_token"])) for r in rows]

    async def heartbeat(self, tokens: Sequence[str], lease_s: float) -> set[str]:
        """Extend the leases this replica holds; returns the tokens still held (a token
        missing was reaped or taken over, or its job was finished meanwhile)."""
        if not tokens:
            return set()
        rows = await self._pool.fetch(
            "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $2)"
            " WHERE lease_token = ANY($1::uuid[]) AND status = 'running'"
            " RETURNING lease_token",
            [uuid.UUID(t) for t in tokens],
            lease_s,
        )
        return {str(r["lease_token"]) for r in rows}

    async def finish(self, job_id: str, token: str, outcome: Outcome,
                     logs: Sequence[LogLine]) -> bool:
        """Record the outcome if the lease still holds; False when another runner took over.

        Concurrent calls share one statement and one commit (group commit).
        """
        args = (uuid.UUID(job_id), uuid.UUID(token), outcome.status, outcome.result,
                outcome.error, outcome.finished_at, outcome.duration, outcome.cold_start,
                outcome.cached, outcome.cpu_ms, outcome.max_rss_bytes)
        return await self._finishes.write(FinishRow(args, logs))

    async def _finish_one(self, row: FinishRow) -> bool:
        if not row.logs:  # one statement, no transaction round trips
            return await self._pool.fetchrow(FINISH, *row.args) is not None
        async with self._pool.acquire() as conn, conn.transaction():
            found = await conn.fetchrow(FINISH, *row.args)
            if found is None:
                return False
            await self._write_logs(conn, row.args[0], found["function_id"], row.logs)
        return True

    async def _finish_many(self, rows: Sequence[FinishRow]) -> list[bool]:
        batch = json_rows(rows)
        async with self._pool.acquire() as conn, conn.transaction():
            # By id and token: a runner that lost its lease may finish in the same batch
            # as the one that took the job over; only the holder's row was updated.
            done = {(r["id"], r["token"]): r["function_id"]
                    for r in await conn.fetch(FINISH_MANY, batch)}
            records = [record for row in rows if row.logs and row.args[:2] in done
                       for record in log_records(row.args[0], done[row.args[:2]], row.logs)]
            await copy_logs(conn, records)
        return [row.args[:2] in done for row in rows]

    async def retry_later(self, job_id: str, token: str, delay_s: float,
                          error: dict[str, Any], logs: Sequence[LogLine]) -> bool:
        """Put a failed attempt back to ``pending`` after ``delay_s``, if the lease holds."""
        ident = uuid.UUID(job_id)
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "UPDATE jobs SET status = 'pending', error = $3, lease_token = NULL,"
                " lease_expires_at = NULL, run_after = now() + make_interval(secs => $4)"
                " WHERE id = $1 AND lease_token = $2 RETURNING function_id",
                ident, uuid.UUID(token), error, delay_s,
            )
            if row is None:
                return False
            await self._write_logs(conn, ident, row["function_id"], logs)
        return True

    async def release_expired(self) -> list[str]:
        """Give jobs whose lease ran out back to ``pending``; after too many, fail them.

        A lost lease is not one of the function's ``max_retries``. Queue jobs are never
        made pending: their message went back to the queue and is delivered again. A keyed
        one is taken over by that delivery (``start_keyed``); one without a key, or whose
        message never came back within an hour, is failed here.
        """
        rows = await self._pool.fetch(with_job_events(
            "UPDATE jobs SET lost_leases = lost_leases + 1, lease_token = NULL,"
            "  lease_expires_at = NULL, run_after = now(),"
            "  status = CASE WHEN trigger = 'queue' OR lost_leases + 1 >= $1"
            "    THEN 'failed' ELSE 'pending' END,"
            "  finished_at = CASE WHEN trigger = 'queue' OR lost_leases + 1 >= $1 THEN now() END,"
            "  error = CASE WHEN trigger = 'queue' THEN $3::jsonb"
            "    WHEN lost_leases + 1 >= $1 THEN $2::jsonb ELSE error END"
            " WHERE status = 'running' AND lease_token IS NOT NULL AND lease_expires_at < now()"
            "  AND (trigger <> 'queue' OR source_key IS NULL"
            "       OR lease_expires_at < now() - interval '1 hour')"
            " RETURNING id, status, finished_at, function_id",
            "SELECT id, status FROM done"),
            MAX_LOST_LEASES,
            {
                "code": "RUNTIME_ERROR",
                "message": "the job's runner was lost too many times",
                "details": {"type": "WorkerLost", "message": "lease expired repeatedly"},
            },
            {
                "code": "RUNTIME_ERROR",
                "message": "the replica running this queue job was lost; its message went"
                           " back to the queue and runs again as another job",
                "details": {"type": "WorkerLost", "message": "lease expired"},
            },
        )
        if any(r["status"] == "pending" for r in rows):
            await self._pool.execute("SELECT pg_notify($1, '')", JOBS_CHANNEL)
        return [str(r["id"]) for r in rows]

    async def fail_now(self, job_id: str, token: str, error: dict[str, Any]) -> bool:
        """Fail a claimed job without running it (function gone, version missing…)."""
        failed = await self._pool.fetchval(with_job_events(
            "UPDATE jobs SET status = 'failed', error = $3, finished_at = now(),"
            " lease_token = NULL, lease_expires_at = NULL"
            " WHERE id = $1 AND lease_token = $2 RETURNING id, status, finished_at, function_id",
            "SELECT count(*) FROM done"),
            uuid.UUID(job_id), uuid.UUID(token), error,
        )
        return bool(failed)

    async def release(self, tokens: Sequence[str]) -> int:
        """Hand unfinished jobs back to ``pending`` at once (a clean shutdown)."""
        if not tokens:
            return 0
        status = await self._pool.execute(
            "UPDATE jobs SET status = 'pending', lease_token = NULL, lease_expires_at = NULL,"
            " attempts = greatest(attempts - 1, 0), run_after = now()"
            " WHERE lease_token = ANY($1::uuid[]) AND status = 'running'",
            [uuid.UUID(t) for t in tokens],
        )
        await self._pool.execute("SELECT pg_notify($1, '')", JOBS_CHANNEL)
        return int(status.split()[-1])

    async def count_pending(self) -> int:
        return int(await self._pool.fetchval("SELECT count(*) FROM jobs WHERE status = 'pending'"))
