"""Queue jobs keyed by their message: started under a lease (or found, or taken over
from a lost runner), and let go of when their message goes back to the queue."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from gateway.core.models import Job
from gateway.store.batches import BatchWriter, JsonRow, json_rows
from gateway.store.job_models import JobRows, NewJob
from gateway.store.job_statements import START_FIELDS, START_KEYED, START_KEYED_MANY
from gateway.store.webhooks import with_job_events

__all__ = ["KeyedJobs"]


class KeyedJobs(JobRows):
    """The queue side of :class:`~gateway.store.jobs.JobStore`."""

    _starts: BatchWriter[JsonRow, bool]

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
