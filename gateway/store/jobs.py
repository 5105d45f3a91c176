"""Repository for jobs, their logs and idempotency keys.

Async jobs are rows claimed with ``FOR UPDATE SKIP LOCKED``. A claim writes a
lease token and expiry that a heartbeat renews; a runner writes its outcome only
while its token still holds, so a replica that lost its lease never overwrites
the one that took over.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from executors.models import LogLine
from gateway.core.models import Job
from gateway.store.batches import BatchWriter, JsonRow, json_rows
from gateway.store.job_statements import (
    BIND_KEY,
    CLAIM,
    FINISH,
    FINISH_MANY,
    INSERT_FINISHED,
    INSERT_FINISHED_MANY,
    READ_KEY,
    START_FIELDS,
    START_KEYED,
    START_KEYED_MANY,
    FinishedRow,
    FinishRow,
    copy_logs,
    log_records,
)
from gateway.store.webhooks import enqueue_callback_on, with_job_events

__all__ = ["JobStore", "JOBS_CHANNEL", "NewJob", "Outcome", "MAX_LOST_LEASES"]

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


class JobStore:
    """Jobs in PostgreSQL."""

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
        args = (job.id, job.function_id, job.function_name, job.version, job.trigger,
                outcome.status, job.owner, job.subject, job.context, outcome.result,
                outcome.error, outcome.started_at, outcome.finished_at, outcome.duration,
                outcome.cold_start, attempts, outcome.cached, outcome.cpu_ms,
                outcome.max_rss_bytes)
        await self._finished.write(FinishedRow(args, job.id, job.function_id, logs))

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

    async def start_keyed(self, job: NewJob, *, key: str | None, lease_s: float,
                          fresh: bool = False,
                          attempt: int = 1) -> tuple[str, str | None, Job | None]:
        """Start a queue job under a lease, or find the job its message already has.

        A new row records ``attempt`` (which run of its message it is) in ``attempts``.

        Returns ``(job id, token, None)`` to run it: a new row, or one whose runner was
        lost (its lease ran out) taken over. Returns ``(job id, None, job)`` when the keyed
        job exists and is finished, or still runs under a live lease elsewhere.
        """
        token = uuid.uuid4()
        # One statement for the usual case, a new message; concurrent ones share it.
        created = await self._starts.write(JsonRow(START_FIELDS, (
            job.id, job.function_id, job.function_name, job.version, job.trigger,
            job.owner, job.subject, job.event, job.context, token, lease_s, key, attempt)))
        if created:
            return str(job.id), str(token), None
        if fresh:
            # A new message with a key seen before: the finished job lets go of the key.
            released = await self._pool.execute(
                "UPDATE jobs SET source_key = NULL WHERE source_key = $1"
                " AND status IN ('success', 'failed')", key)
            if released.endswith(" 1"):
                return await self.start_keyed(job, key=key, lease_s=lease_s,
                                              attempt=attempt)
        async with self._pool.acquire() as conn, conn.transaction():
            taken = await conn.fetchrow(
                "UPDATE jobs SET lease_token = $2,"
                "  lease_expires_at = now() + make_interval(secs => $3),"
                "  lost_leases = lost_leases + 1, attempts = attempts + 1"
                " WHERE source_key = $1 AND status = 'running'"
                "  AND (lease_token IS NULL OR lease_expires_at < now()) RETURNING id",
                key, token, lease_s,
            )
            if taken is not None:
                return str(taken["id"]), str(token), None
            row = await conn.fetchrow("SELECT * FROM jobs WHERE source_key = $1", key)
        if row is None:  # finished and pruned between the two statements: run it again
            return await self.start_keyed(job, key=key, lease_s=lease_s, attempt=attempt)
        return str(row["id"]), None, Job.from_row(row)

    async def _start_one(self, row: JsonRow) -> bool:
        return bool(await self._pool.fetchval(START_KEYED, *row.args))

    async def _start_many(self, rows: Sequence[JsonRow]) -> list[bool]:
        created = {r["id"] for r in await self._pool.fetch(START_KEYED_MANY, json_rows(rows))}
        return [row.args[0] in created for row in rows]

    async def abandon(self, job_id: str, token: str, error: dict[str, Any]) -> None:
        """Let go of a queue job whose message went back to the queue unfinished.

        A keyed job stays ``running`` with its lease ended, for the redelivery to take
        over; one without a key is failed with ``error`` (its message runs as a new job).
        """
        await self._pool.execute(with_job_events(
            "UPDATE jobs SET lease_expires_at = now(),"
            "  lease_token = CASE WHEN source_key IS NULL THEN NULL ELSE lease_token END,"
            "  status = CASE WHEN source_key IS NULL THEN 'failed' ELSE status END,"
            "  finished_at = CASE WHEN source_key IS NULL THEN now() END,"
            "  error = CASE WHEN source_key IS NULL THEN $3::jsonb ELSE error END"
            " WHERE id = $1 AND lease_token = $2 RETURNING id, status, finished_at, function_id",
            "SELECT count(*) FROM done"),
            uuid.UUID(job_id), uuid.UUID(token), error,
        )

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

    @staticmethod
    async def _write_logs(
        conn: Any, job_id: uuid.UUID, function_id: int, logs: Sequence[LogLine]
    ) -> None:
        await copy_logs(conn, log_records(job_id, function_id, logs))
