"""Repository for jobs, their logs and idempotency keys: :class:`JobStore`.

Writing and reading jobs is here; the leased side (claim, heartbeat, outcome under the
lease, hand-back) is :mod:`gateway.store.job_leases`, queue jobs keyed by their message
:mod:`gateway.store.keyed_jobs`, the shapes they share :mod:`gateway.store.job_models`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from executors.models import LogLine
from gateway.core.models import Job
from gateway.store.batches import BatchWriter, JsonRow, json_rows
from gateway.store.job_leases import JobLeases
from gateway.store.job_models import JOBS_CHANNEL, MAX_LOST_LEASES, NewJob, Outcome
from gateway.store.job_statements import (
    BIND_KEY,
    INSERT_FINISHED,
    INSERT_FINISHED_MANY,
    READ_KEY,
    FinishedRow,
    copy_logs,
    log_records,
)
from gateway.store.keyed_jobs import KeyedJobs
from gateway.store.webhooks import enqueue_callback_on

__all__ = ["JobStore", "JOBS_CHANNEL", "NewJob", "Outcome", "MAX_LOST_LEASES"]


class JobStore(JobLeases, KeyedJobs):
    """Jobs in PostgreSQL: written (sync records, pending and idempotent jobs) and read
    here, leased in :class:`~gateway.store.job_leases.JobLeases`, keyed by their queue
    message in :class:`~gateway.store.keyed_jobs.KeyedJobs`."""

    def __init__(self, pool: Any, *, records: Any | None = None) -> None:
        """``records``: the pool sync records are written through (by default ``pool``;
        the app passes one that does not wait for the WAL flush unless
        ``FNGATE_DURABLE_SYNC_RECORDS``)."""
        self._pool = pool
        self._records = pool if records is None else records
        # Each batch bounded in bytes too (MAX_BATCH_BYTES): results and events are large.
        self._finished = BatchWriter(self._insert_finished_many, self._insert_finished_one,
                                     size=JsonRow.size)
        self._finishes = BatchWriter(self._finish_many, self._finish_one, size=JsonRow.size)
        self._starts = BatchWriter(self._start_many, self._start_one, size=JsonRow.size)

    async def insert_finished(
        self, job: NewJob, outcome: Outcome, logs: Sequence[LogLine], attempts: int = 1
    ) -> None:
        """Write a sync job once, with its outcome and logs; return once it is committed
        (through the records pool: maybe before its flush to disk).

        Concurrent calls share one statement and one commit (group commit).
        """
        await self.submit_finished(job, outcome, logs, attempts)

    def submit_finished(
        self, job: NewJob, outcome: Outcome, logs: Sequence[LogLine], attempts: int = 1
    ) -> asyncio.Future[None]:
        """:meth:`insert_finished` without waiting: the future of its commit."""
        args = (job.id, job.function_id, job.function_name, job.version, job.trigger,
                outcome.status, job.owner, job.subject, job.context, outcome.result,
                outcome.error, outcome.started_at, outcome.finished_at, outcome.duration,
                outcome.cold_start, attempts, outcome.cached, outcome.cpu_ms,
                outcome.max_rss_bytes)
        return self._finished.submit(FinishedRow(args, job.id, job.function_id, logs))

    async def _insert_finished_one(self, row: FinishedRow) -> None:
        if not row.logs:  # one statement: no BEGIN/COMMIT round trips
            await self._records.execute(INSERT_FINISHED, *row.args)
            return
        async with self._records.acquire() as conn, conn.transaction():
            await conn.execute(INSERT_FINISHED, *row.args)
            await self._write_logs(conn, row.job_id, row.function_id, row.logs)

    async def _insert_finished_many(self, rows: Sequence[FinishedRow]) -> list[None]:
        batch = json_rows(rows)
        if not any(row.logs for row in rows):
            await self._records.execute(INSERT_FINISHED_MANY, batch)
            return [None] * len(rows)
        async with self._records.acquire() as conn, conn.transaction():
            await conn.execute(INSERT_FINISHED_MANY, batch)
            await copy_logs(conn, [record for row in rows for record in
                                    log_records(row.job_id, row.function_id, row.logs)])
        return [None] * len(rows)

    async def insert_pending(self, job: NewJob, *, running_lease_s: float | None = None,
                             callback_url: str | None = None) -> str:
        """Insert a job that runs later (``pending``), or now under a lease (``running``),
        with its ``callback_url`` delivery in the same transaction.

        Returns the lease token when ``running_lease_s`` is given, else "".
        """
        token = uuid.uuid4() if running_lease_s is not None else None
        if token is None and callback_url is None:
            # One statement (its own transaction): insert and wake runners.
            await self._pool.execute(
                "WITH job AS (INSERT INTO jobs (id, function_id, function_name, version,"
                " trigger, status, owner, subject, event, context)"
                " VALUES ($1,$2,$3,$4,$5,'pending',$6,$7,$8,$9))"
                " SELECT pg_notify($10, '')",
                job.id, job.function_id, job.function_name, job.version, job.trigger,
                job.owner, job.subject, job.event, job.context, JOBS_CHANNEL,
            )
            return ""
        async with self._pool.acquire() as conn, conn.transaction():
            await self._insert(conn, job, token, running_lease_s)
            if callback_url is not None:
                await enqueue_callback_on(conn, job.id, callback_url)
        return "" if token is None else str(token)

    async def add_callback(self, job_id: str | uuid.UUID, url: str) -> None:
        """Queue ``url``'s delivery of a job that exists, or is about to be recorded: it
        waits until the job has finished (a job that never appears is pruned with it)."""
        await enqueue_callback_on(self._pool, job_id, url)

    async def _insert(
        self, conn: Any, job: NewJob, token: uuid.UUID | None, lease_s: float | None
    ) -> None:
        if token is None:
            await self.insert_pending_on(conn, job)
        else:
            await conn.execute(
                "INSERT INTO jobs (id, function_id, function_name, version, trigger, status,"
                " owner, subject, event, context, started_at, attempts, lease_token,"
                " lease_expires_at) VALUES ($1,$2,$3,$4,$5,'running',$6,$7,$8,$9, now(), 1,"
                " $10, now() + make_interval(secs => $11))",
                job.id, job.function_id, job.function_name, job.version, job.trigger,
                job.owner, job.subject, job.event, job.context, token, lease_s,
            )

    @staticmethod
    async def insert_pending_on(conn: Any, job: NewJob) -> None:
        """Insert a pending job on ``conn`` (inside the caller's transaction) and wake runners."""
        await conn.execute(
            "INSERT INTO jobs (id, function_id, function_name, version, trigger, status,"
            " owner, subject, event, context) VALUES ($1,$2,$3,$4,$5,'pending',$6,$7,$8,$9)",
            job.id, job.function_id, job.function_name, job.version, job.trigger,
            job.owner, job.subject, job.event, job.context,
        )
        await conn.execute("SELECT pg_notify($1, '')", JOBS_CHANNEL)

    async def insert_idempotent(
        self,
        job: NewJob,
        *,
        key: str,
        request_hash: str,
        running_lease_s: float | None,
        callback_url: str | None = None,
    ) -> tuple[bool, str, str | None]:
        """Bind ``key`` to a new job, or find the job it is bound to. A new job is written
        with its ``callback_url`` delivery in the same transaction.

        Returns ``(created, job_id, stored_hash_or_lease_token)``: when created, the third
        item is the lease token ("" for a pending job); otherwise the stored request hash.
        """
        token = uuid.uuid4() if running_lease_s is not None else None
        while True:
            async with self._pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(BIND_KEY, job.owner, job.function_id, key,
                                          request_hash, job.id)
                if row is not None:
                    await self._insert(conn, job, token, running_lease_s)
                    if callback_url is not None:
                        await enqueue_callback_on(conn, job.id, callback_url)
                    return True, str(job.id), "" if token is None else str(token)
                # Read the binding in the same transaction: the conflict locked the row,
                # so neither pruning nor a forgotten binding can remove it before we read.
                existing = await conn.fetchrow(READ_KEY, job.owner, job.function_id, key)
            if existing is not None:
                return False, str(existing["job_id"]), existing["request_hash"]
            # Not reachable while the lock holds; were the row gone, binding again is right.

    async def forget_idempotent(self, job: NewJob, key: str) -> None:
        """Undo a key's binding and its job when no run happened (e.g. a 429)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE owner = $1 AND function_id = $2"
                " AND key = $3 AND job_id = $4",
                job.owner, job.function_id, key, job.id,
            )
            await conn.execute("DELETE FROM jobs WHERE id = $1", job.id)
            await conn.execute("DELETE FROM webhook_deliveries WHERE job_id = $1"
                               " AND kind = 'callback'", job.id)

    async def get(self, job_id: str) -> Job | None:
        try:
            ident = uuid.UUID(job_id)
        except ValueError:
            return None
        row = await self._pool.fetchrow("SELECT * FROM jobs WHERE id = $1", ident)
        return None if row is None else Job.from_row(row)

    async def list_for_function(
        self, function_id: int, *, status: str | None, limit: int, before: str | None,
        owner: str | None,
    ) -> list[Job] | None:
        """Newest first; ``before`` is the id of the last job of the previous page.

        None when ``before`` names no job of this function (pruned or foreign).
        """
        where: list[str] = ["function_id = $1"]
        args: list[Any] = [function_id]
        if status is not None:
            args.append(status)
            where.append(f"status = ${len(args)}")
        if owner is not None:
            args.append(owner)
            where.append(f"owner = ${len(args)}")
        if before is not None:
            cursor = await self._pool.fetchrow(
                "SELECT timestamp, id FROM jobs WHERE id = $1 AND function_id = $2",
                uuid.UUID(before), function_id,
            )
            if cursor is None:
                return None
            args.extend([cursor["timestamp"], cursor["id"]])
            where.append(f"(timestamp, id) < (${len(args) - 1}, ${len(args)})")
        args.append(limit)
        rows = await self._pool.fetch(
            f"SELECT * FROM jobs WHERE {' AND '.join(where)}"
            f" ORDER BY timestamp DESC, id DESC LIMIT ${len(args)}",
            *args,
        )
        return [Job.from_row(r) for r in rows]

    async def logs(self, job_id: str) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT timestamp, job_id, stream, message FROM job_logs WHERE job_id = $1"
            " ORDER BY id",
            uuid.UUID(job_id),
        )
        return [dict(r) for r in rows]
