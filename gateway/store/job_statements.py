"""The SQL of the job store, and the rows its batched statements take: inserting
finished jobs, starting keyed ones, finishing, claiming (``gateway/store/jobs.py``,
``job_leases.py`` and ``keyed_jobs.py`` run them)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from executors.models import LogLine
from gateway.store.batches import JsonRow
from gateway.store.webhooks import with_job_events

__all__ = ["BIND_KEY", "CLAIM", "FINISH", "FINISHED_FIELDS", "FINISH_FIELDS", "FINISH_MANY",
           "FinishRow", "FinishedRow", "INSERT_FINISHED", "INSERT_FINISHED_MANY",
           "LOG_COLUMNS", "READ_KEY", "START_FIELDS", "START_KEYED", "START_KEYED_MANY",
           "copy_logs", "log_bytes", "log_records"]


def log_records(job_id: uuid.UUID, function_id: int, logs: Iterable[LogLine]) -> list[Any]:
    # PostgreSQL text cannot hold NUL: printed NULs are shown as U+FFFD.
    return [
        (job_id, function_id, dt.datetime.fromtimestamp(line.timestamp, dt.UTC), line.stream,
         line.message.replace("\x00", "\ufffd"))
        for line in logs
    ]


LOG_COLUMNS = ["job_id", "function_id", "timestamp", "stream", "message"]


async def copy_logs(conn: Any, records: list[Any]) -> None:
    """Write ``log_records`` rows on ``conn`` (nothing to do without any)."""
    if records:
        await conn.copy_records_to_table("job_logs", records=records, columns=LOG_COLUMNS)


# Every statement that gives a job its final state queues the job's webhook events with
# it (with_job_events), batches included.
INSERT_FINISHED = with_job_events(
    "INSERT INTO jobs (id, function_id, function_name, version, trigger, status,"
    " owner, subject, context, result, error, timestamp, started_at, finished_at,"
    " duration, cold_start, attempts, cached, cpu_ms, max_rss_bytes)"
    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$12,$13,$14,$15,$16,$17,$18,$19)"
    " RETURNING id, status, finished_at, function_id",
    "SELECT count(*) FROM done",
)

# The parameters of INSERT_FINISHED by name, as the rows of INSERT_FINISHED_MANY.
FINISHED_FIELDS = (
    "id", "function_id", "function_name", "version", "trigger", "status", "owner",
    "subject", "context", "result", "error", "started_at", "finished_at", "duration",
    "cold_start", "attempts", "cached", "cpu_ms", "max_rss_bytes",
)
# Many rows at once (see BatchWriter), as one JSON array: orjson encodes a batch in one
# call, where array parameters cost the gateway a Python check per element.
INSERT_FINISHED_MANY = with_job_events(
    "INSERT INTO jobs (id, function_id, function_name, version, trigger, status,"
    " owner, subject, context, result, error, timestamp, started_at, finished_at,"
    " duration, cold_start, attempts, cached, cpu_ms, max_rss_bytes)"
    " SELECT id, function_id, function_name, version, trigger, status, owner, subject,"
    " coalesce(context, '{}'), result, error, started_at, started_at, finished_at, duration,"
    " cold_start, attempts, cached, cpu_ms, max_rss_bytes"
    " FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, function_id bigint,"
    " function_name text, version int, trigger text, status text, owner text, subject text,"
    " context jsonb, result jsonb, error jsonb, started_at timestamptz,"
    " finished_at timestamptz, duration float8, cold_start bool, attempts int, cached bool,"
    " cpu_ms float8, max_rss_bytes bigint)"
    " RETURNING id, status, finished_at, function_id",
    "SELECT count(*) FROM done",
)


# Bind an idempotency key to a new job; a binding older than 24 hours is taken over.
# On a conflict the existing row is locked even when it is not updated (PostgreSQL's
# ON CONFLICT DO UPDATE locks every conflicting row), so READ_KEY in the same
# transaction finds it.
BIND_KEY = (
    "INSERT INTO idempotency_keys (owner, function_id, key, request_hash, job_id)"
    " VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (owner, function_id, key) DO UPDATE"
    "   SET created_at = now(), request_hash = EXCLUDED.request_hash,"
    "       job_id = EXCLUDED.job_id"
    "   WHERE idempotency_keys.created_at < now() - interval '24 hours'"
    " RETURNING job_id"
)
READ_KEY = (
    "SELECT job_id, request_hash FROM idempotency_keys"
    " WHERE owner = $1 AND function_id = $2 AND key = $3"
)


def log_bytes(logs: Sequence[LogLine]) -> int:
    return sum(len(line.message) for line in logs)


class FinishedRow(JsonRow):
    """The parameters of INSERT_FINISHED (a row of INSERT_FINISHED_MANY) and its logs."""

    __slots__ = ("job_id", "function_id", "logs")

    def __init__(self, args: tuple[Any, ...], job_id: uuid.UUID, function_id: int,
                 logs: Sequence[LogLine]) -> None:
        super().__init__(FINISHED_FIELDS, args, extra_bytes=log_bytes(logs))
        self.job_id = job_id
        self.function_id = function_id
        self.logs = logs


FINISH_FIELDS = ("id", "token", "status", "result", "error", "finished_at", "duration",
                  "cold_start", "cached", "cpu_ms", "max_rss_bytes")
# FINISH for many jobs at once; returns the ids whose lease held.
FINISH_MANY = with_job_events(
    "UPDATE jobs SET status = r.status, result = r.result, error = r.error,"
    " finished_at = r.finished_at, duration = r.duration, cold_start = r.cold_start,"
    " cached = r.cached, cpu_ms = r.cpu_ms, max_rss_bytes = r.max_rss_bytes,"
    " lease_token = NULL, lease_expires_at = NULL"
    " FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, token uuid, status text,"
    " result jsonb, error jsonb, finished_at timestamptz, duration float8,"
    " cold_start bool, cached bool, cpu_ms float8, max_rss_bytes bigint)"
    " WHERE jobs.id = r.id AND jobs.lease_token = r.token"
    " RETURNING jobs.id, r.token, jobs.function_id, jobs.status, jobs.finished_at",
    "SELECT id, token, function_id FROM done",
)


START_KEYED = (
    "INSERT INTO jobs (id, function_id, function_name, version, trigger, status,"
    " owner, subject, event, context, started_at, attempts, lease_token,"
    " lease_expires_at, source_key) VALUES ($1,$2,$3,$4,$5,'running',$6,$7,$8,$9,"
    " now(), $13, $10, now() + make_interval(secs => $11), $12)"
    " ON CONFLICT (source_key) WHERE source_key IS NOT NULL DO NOTHING"
    " RETURNING true"
)
START_FIELDS = ("id", "function_id", "function_name", "version", "trigger", "owner",
                 "subject", "event", "context", "lease_token", "lease_s", "source_key",
                 "attempts")
# START_KEYED for many jobs at once; returns the ids that were inserted.
START_KEYED_MANY = (
    "INSERT INTO jobs (id, function_id, function_name, version, trigger, status,"
    " owner, subject, event, context, started_at, attempts, lease_token,"
    " lease_expires_at, source_key)"
    " SELECT id, function_id, function_name, version, trigger, 'running', owner, subject,"
    " event, coalesce(context, '{}'), now(), attempts, lease_token,"
    " now() + make_interval(secs => lease_s), source_key"
    " FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, function_id bigint,"
    " function_name text, version int, trigger text, owner text, subject text,"
    " event jsonb, context jsonb, lease_token uuid, lease_s float8, source_key text,"
    " attempts int)"
    " ON CONFLICT (source_key) WHERE source_key IS NOT NULL DO NOTHING"
    " RETURNING id"
)


class FinishRow(JsonRow):
    """The parameters of FINISH (a row of FINISH_MANY) and its logs."""

    __slots__ = ("logs",)

    def __init__(self, args: tuple[Any, ...], logs: Sequence[LogLine]) -> None:
        super().__init__(FINISH_FIELDS, args, extra_bytes=log_bytes(logs))
        self.logs = logs


FINISH = with_job_events(
    "UPDATE jobs SET status = $3, result = $4, error = $5, finished_at = $6,"
    " duration = $7, cold_start = $8, cached = $9, cpu_ms = $10,"
    " max_rss_bytes = $11, lease_token = NULL, lease_expires_at = NULL"
    " WHERE id = $1 AND lease_token = $2 RETURNING id, status, finished_at, function_id",
    "SELECT function_id FROM done",
)


# The claim. Each function with pending jobs (walked one index probe at a time on
# jobs_pending_by_function) offers its oldest due jobs, as many as it has free slots:
# max_concurrency, floored at 1 as its gate is, less what is in use here ($3/$4). A
# project with a max_concurrency quota offers at most that less what its functions have in
# use here (their slots held or waited for, and jobs claimed for them): its jobs wait
# pending until it has room. They are ranked within their function and taken round-robin
# across functions by rank, up to $1; then locked FOR UPDATE SKIP LOCKED (which cannot go
# with the window function) and leased. A job whose function was deleted (jobs carry no
# foreign key) counts against $1 only, and its run fails it.
CLAIM = (
    "WITH RECURSIVE fns AS ("
    "  (SELECT function_id FROM jobs WHERE status = 'pending'"
    "   ORDER BY function_id LIMIT 1)"
    "  UNION ALL"
    "  SELECT (SELECT j.function_id FROM jobs j WHERE j.status = 'pending'"
    "          AND j.function_id > fns.function_id ORDER BY j.function_id LIMIT 1)"
    "  FROM fns WHERE fns.function_id IS NOT NULL),"
    " used AS ("
    "  SELECT * FROM unnest($3::bigint[], $4::int[]) AS u(function_id, n)),"
    " project_used AS ("
    "  SELECT f.project, sum(u.n) AS n FROM used u JOIN functions f ON f.id = u.function_id"
    "  GROUP BY f.project),"
    " free AS ("
    "  SELECT fns.function_id, f.project,"
    "    least($1, greatest(1, coalesce(f.max_concurrency, $1)) - coalesce(u.n, 0)) AS slots,"
    "    coalesce(p.max_concurrency - coalesce(pu.n, 0), $1) AS project_slots"
    "  FROM fns LEFT JOIN functions f ON f.id = fns.function_id"
    "  LEFT JOIN projects p ON p.name = f.project"
    "  LEFT JOIN project_used pu ON pu.project = f.project"
    "  LEFT JOIN used u ON u.function_id = fns.function_id"
    "  WHERE fns.function_id IS NOT NULL),"
    " offered AS ("
    "  SELECT free.function_id, free.project, free.project_slots, o.id, o.run_after"
    "  FROM free, LATERAL ("
    "    SELECT id, run_after FROM jobs WHERE function_id = free.function_id"
    "    AND status = 'pending' AND run_after <= now()"
    "    ORDER BY run_after LIMIT free.slots) o"
    "  WHERE free.slots > 0 AND free.project_slots > 0),"
    " ranked AS ("
    "  SELECT id, run_after, project, project_slots, row_number() OVER"
    "    (PARTITION BY function_id ORDER BY run_after, id) AS rank FROM offered),"
    " candidates AS ("
    "  SELECT id FROM (SELECT id, run_after, rank, project, project_slots, row_number() OVER"
    "    (PARTITION BY project ORDER BY rank, run_after, id) AS project_rank FROM ranked) r"
    "  WHERE project IS NULL OR project_rank <= project_slots"
    "  ORDER BY rank, run_after LIMIT $1)"
    " UPDATE jobs j SET status = 'running', lease_token = gen_random_uuid(),"
    "   lease_expires_at = now() + make_interval(secs => $2),"
    "   attempts = j.attempts + 1, started_at = coalesce(j.started_at, now())"
    " WHERE j.id IN ("
    "  SELECT id FROM jobs WHERE id IN (SELECT id FROM candidates)"
    "   AND status = 'pending' AND run_after <= now() FOR UPDATE SKIP LOCKED)"
    " RETURNING j.*"
)
