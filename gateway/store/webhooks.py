"""Repository for webhooks and their deliveries (webhook events and job callbacks)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg

from gateway.core.errors import project_not_found

__all__ = ["Delivery", "DeliveryOutcome", "WebhookRecord", "WebhookStore",
           "enqueue_callback_on", "with_job_events"]


# The job events of the jobs a statement has just finished (its rows, as the CTE ``done``
# with ``id, status, finished_at, function_id``): one pending delivery per webhook subscribed to the
# event, read from ``webhooks`` inside the statement; a webhook of one project only for
# the jobs of that project's functions. Job events carry no payload: the job is rendered
# when the delivery is sent.
_JOB_EVENT_DELIVERIES = (
    "INSERT INTO webhook_deliveries (webhook_id, kind, url, event, job_id, created_at)"
    " SELECT w.id, 'webhook', w.url, e.event, d.id, coalesce(d.finished_at, now())"
    " FROM done d CROSS JOIN LATERAL (SELECT CASE d.status WHEN 'success'"
    "   THEN 'job.succeeded' ELSE 'job.failed' END AS event) e"
    " JOIN webhooks w ON e.event = ANY (w.events)"
    " WHERE d.status IN ('success', 'failed') AND (w.project IS NULL OR w.project ="
    "  (SELECT f.project FROM functions f WHERE f.id = d.function_id))"
)


def with_job_events(statement: str, then: str) -> str:
    """``statement`` (an INSERT or UPDATE of jobs ``RETURNING id, status, finished_at,
    function_id``
    and what ``then`` reads) with the job events of the jobs it finished queued in the
    same statement, so in the same transaction (a transactional outbox): a job's final
    state is never committed without them. ``then`` selects the result from ``done``."""
    return (f"WITH done AS ({statement}),"
            f" job_events AS ({_JOB_EVENT_DELIVERIES}) {then}")


async def enqueue_callback_on(conn: Any, job_id: Any, url: str) -> None:
    """Queue the ``X-Callback-URL`` delivery of a job, waiting until the job has finished
    (at most one per job), on ``conn``: a connection inside the transaction that writes the
    job, or the pool for a job that exists already."""
    await conn.execute(
        "INSERT INTO webhook_deliveries (kind, url, event, job_id, status)"
        " VALUES ('callback', $1, 'job.finished', $2, 'waiting')"
        " ON CONFLICT (job_id) WHERE kind = 'callback' DO NOTHING",
        url, job_id,
    )

DeliveryOutcome = Literal["delivered", "retry", "failed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookRecord:
    """One registered webhook; its secret is kept out of ``repr`` (and of the API's Webhook)."""

    id: int
    url: str
    events: tuple[str, ...]
    secret: str = field(repr=False)
    created_by: str | None
    created_at: dt.datetime
    # The project whose events it receives; None: every project's (the operator's).
    project: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> WebhookRecord:
        return cls(id=row["id"], url=row["url"], events=tuple(row["events"]),
                   secret=row["secret"], created_by=row["created_by"],
                   created_at=row["created_at"], project=row["project"])


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """A delivery claimed for sending, under ``lease_token``."""

    id: int
    webhook_id: int | None
    kind: Literal["webhook", "callback"]
    url: str
    event: str
    payload: Any
    job_id: str | None
    attempts: int
    lease_token: str
    created_at: dt.datetime
    # The webhook's secret (None for a callback, signed with the gateway's own).
    secret: str | None = field(repr=False)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Delivery:
        return cls(
            id=row["id"], webhook_id=row["webhook_id"], kind=row["kind"], url=row["url"],
            event=row["event"], payload=row["payload"],
            job_id=str(row["job_id"]) if row["job_id"] is not None else None,
            attempts=row["attempts"], lease_token=str(row["lease_token"]),
            created_at=row["created_at"], secret=row["secret"],
        )


class WebhookStore:
    """Webhooks and deliveries in PostgreSQL."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    # -- webhooks -----------------------------------------------------------------------

    async def create(self, *, url: str, events: Sequence[str], secret: str,
                     created_by: str | None, project: str | None = None,
                     also: Callable[[Any, WebhookRecord], Awaitable[Any]] | None = None
                     ) -> WebhookRecord:
        """Insert a webhook (of ``project``, or the operator's); ``also(conn, webhook)``
        runs in the same transaction. A project deleted meanwhile → ``PROJECT_NOT_FOUND``."""
        async with self._pool.acquire() as conn, conn.transaction():
            try:
                row = await conn.fetchrow(
                    "INSERT INTO webhooks (url, events, secret, created_by, project)"
                    " VALUES ($1, $2, $3, $4, $5) RETURNING *",
                    url, events, secret, created_by, project,
                )
            except asyncpg.ForeignKeyViolationError as exc:
                raise project_not_found(project) from exc
            webhook = WebhookRecord.from_row(row)
            if also is not None:
                await also(conn, webhook)
        return webhook

    async def list_all(self, *, within: Collection[str] | None = None) -> list[WebhookRecord]:
        """Every webhook, oldest first; with ``within``, those of these projects only."""
        rows = await self._pool.fetch(
            "SELECT * FROM webhooks WHERE $1::text[] IS NULL OR project = ANY($1::text[])"
            " ORDER BY id", None if within is None else sorted(within))
        return [WebhookRecord.from_row(r) for r in rows]

    async def get(self, webhook_id: int) -> WebhookRecord | None:
        row = await self._pool.fetchrow("SELECT * FROM webhooks WHERE id = $1", webhook_id)
        return None if row is None else WebhookRecord.from_row(row)

    async def delete(self, webhook_id: int, *,
                     also: Callable[[Any, WebhookRecord], Awaitable[Any]] | None = None
                     ) -> bool:
        """Remove a webhook; ``also(conn, webhook)`` runs in the same transaction when it
        existed."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("DELETE FROM webhooks WHERE id = $1 RETURNING *",
                                      webhook_id)
            if row is None:
                return False
            if also is not None:
                await also(conn, WebhookRecord.from_row(row))
        return True

    async def subscribed_events(self) -> frozenset[str]:
        """Every event some webhook subscribes to."""
        rows = await self._pool.fetch("SELECT DISTINCT unnest(events) AS event FROM webhooks")
        return frozenset(r["event"] for r in rows)

    # -- queueing -----------------------------------------------------------------------

    async def enqueue_event(self, event: str, *, project: str | None,
                            payload: Any = None, job_id: str | None = None,
                            created_at: dt.datetime | None = None) -> int:
        """One pending delivery per webhook subscribed to ``event``: the operator's, and
        those of ``project`` (the event's); returns how many."""
        status = await self._pool.execute(
            "INSERT INTO webhook_deliveries (webhook_id, kind, url, event, payload, job_id,"
            " created_at)"
            " SELECT id, 'webhook', url, $1, $2::jsonb, $3::uuid, coalesce($4, now())"
            " FROM webhooks WHERE $1 = ANY (events) AND (project IS NULL OR project = $5)",
            event, payload, job_id, created_at, project,
        )
        return int(status.split()[-1])

    async def promote_callbacks(self) -> int:
        """Make the callbacks of finished jobs due; returns how many."""
        status = await self._pool.execute(
            "UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = now(),"
            " event = CASE j.status WHEN 'success' THEN 'job.succeeded' ELSE 'job.failed' END,"
            " created_at = coalesce(j.finished_at, now())"
            " FROM jobs j WHERE d.status = 'waiting' AND j.id = d.job_id"
            " AND j.status IN ('success', 'failed')"
        )
        return int(status.split()[-1])

    # -- sending ------------------------------------------------------------------------

    async def claim(self, limit: int, lease_s: float) -> list[Delivery]:
        """Lease up to ``limit`` due deliveries; replicas never claim the same one."""
        rows = await self._pool.fetch(
            "WITH due AS ("
            " SELECT id FROM webhook_deliveries WHERE status = 'pending'"
            " AND next_attempt_at <= now()"
            " AND (lease_expires_at IS NULL OR lease_expires_at < now())"
            " ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
            " UPDATE webhook_deliveries d SET attempts = d.attempts + 1,"
            " lease_token = gen_random_uuid(),"
            " lease_expires_at = now() + make_interval(secs => $2)"
            " FROM due WHERE d.id = due.id"
            " RETURNING d.*, (SELECT w.secret FROM webhooks w WHERE w.id = d.webhook_id)"
            " AS secret",
            limit, lease_s,
        )
        return [Delivery.from_row(r) for r in rows]

    async def record(self, delivery: Delivery, outcome: DeliveryOutcome, *,
                     status_code: int | None, error: str | None, duration_ms: float,
                     retry_in_s: float = 0.0) -> bool:
        """Record one attempt and its consequence; False if the lease was lost meanwhile."""
        async with self._pool.acquire() as conn, conn.transaction():
            updated = await conn.fetchval(
                "UPDATE webhook_deliveries SET"
                " status = CASE $3 WHEN 'retry' THEN 'pending' ELSE $3 END,"
                " next_attempt_at = now() + make_interval(secs => $4),"
                " lease_token = NULL, lease_expires_at = NULL,"
                " last_status_code = $5, last_error = $6,"
                " finished_at = CASE $3 WHEN 'retry' THEN NULL ELSE now() END"
                " WHERE id = $1 AND lease_token = $2::uuid RETURNING id",
                delivery.id, delivery.lease_token, outcome, retry_in_s, status_code, error,
            )
            if updated is None:
                return False
            await conn.execute(
                "INSERT INTO webhook_delivery_attempts"
                " (delivery_id, attempt, status_code, error, duration_ms)"
                " VALUES ($1, $2, $3, $4, $5)",
                delivery.id, delivery.attempts, status_code, error, duration_ms,
            )
        return True

    async def release(self, delivery: Delivery) -> None:
        """Give back a claimed delivery unsent (shutdown): due again, the try not counted."""
        await self._pool.execute(
            "UPDATE webhook_deliveries SET lease_token = NULL, lease_expires_at = NULL,"
            " attempts = greatest(attempts - 1, 0)"
            " WHERE id = $1 AND lease_token = $2::uuid",
            delivery.id, delivery.lease_token,
        )

    async def get_delivery(self, delivery_id: int) -> dict[str, Any] | None:
        """A delivery's row with its attempts (operators and tests)."""
        row = await self._pool.fetchrow(
            "SELECT * FROM webhook_deliveries WHERE id = $1", delivery_id)
        if row is None:
            return None
        attempts = await self._pool.fetch(
            "SELECT attempt, status_code, error, duration_ms, created_at"
            " FROM webhook_delivery_attempts WHERE delivery_id = $1 ORDER BY id",
            delivery_id,
        )
        return {**dict(row), "attempt_log": [dict(a) for a in attempts]}

    async def prune(self, *, keep_s: float) -> int:
        """Delete finished deliveries older than ``keep_s`` and callbacks of vanished jobs."""
        done = await self._pool.execute(
            "DELETE FROM webhook_deliveries WHERE status IN ('delivered', 'failed')"
            " AND finished_at < now() - make_interval(secs => $1)",
            keep_s,
        )
        orphans = await self._pool.execute(
            "DELETE FROM webhook_deliveries d WHERE d.status = 'waiting'"
            " AND d.created_at < now() - make_interval(secs => $1)"
            " AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = d.job_id)",
            keep_s,
        )
        return int(done.split()[-1]) + int(orphans.split()[-1])
