"""Webhook events and ``X-Callback-URL`` callbacks: queued in PostgreSQL, sent in the background.

Where something happens (a route, a build) a delivery row is written; nothing waits
for the receiver. A job's ``job.succeeded|failed`` rows are written by the job store in
the statement that gives the job its final state (a transactional outbox: no crash can
commit the one without the other); the dispatcher's ``on_finished`` only wakes the loop.
A loop on every replica claims due rows (``FOR UPDATE SKIP LOCKED`` plus a lease, so no two
replicas send the same one and a dead replica's sends are taken over), POSTs
them through the guarded client of :mod:`gateway.services.outbound`, and records each
attempt. A non-2xx answer or a network error is retried with exponential
backoff up to :data:`MAX_RETRIES` times; delivery is at least once, and
``X-Fngate-Delivery`` lets a receiver drop duplicates.

A callback's row is written by the dispatcher with its job (an accepted job's in the
same transaction); :meth:`WebhookService.callback_queued` only wakes the loop for it.

Webhook bodies are ``{"event", "created_at", "data"}``; a callback's body is
the finished Job. Both are signed ``X-Fngate-Signature: sha256=<hex HMAC of
the body>``, webhooks with their own secret, callbacks with the gateway's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Coroutine
from typing import Any, Literal

import asyncpg
import httpx

from auth import Principal
from config import Settings, load_or_create_secret
from gateway.core.errors import NotFound
from gateway.core.jsoncodec import dumps, isoformat
from gateway.core.models import FunctionRecord, Job
from gateway.schemas.base import render
from gateway.schemas.function_view import function_view
from gateway.schemas.jobs import render_job
from gateway.schemas.webhooks import WebhookCreate
from gateway.services.audit import Actor, project_event
from gateway.services.outbound import (
    BlockedAddress,
    UrlRefused,
    check_url,
    outbound_client,
    sign,
)
from gateway.store.functions import FunctionStore
from gateway.store.jobs import JobStore
from gateway.store.webhooks import Delivery, DeliveryOutcome, WebhookRecord, WebhookStore

__all__ = ["MAX_RETRIES", "DeliveryRetry", "WebhookService", "create_webhook_service",
           "webhook_not_found"]

logger = logging.getLogger("fngate.webhooks")

#: Retries after the first attempt.
MAX_RETRIES = 5

_LEASE_GRACE_S = 30.0
_KEEP_FINISHED_S = 7 * 24 * 3600.0
_PRUNE_EVERY_S = 3600.0
_ERROR_TEXT_LIMIT = 500
_MAX_AWAITED = 10_000
CALLBACK_SECRET_FILE = "callback_secret"


def create_webhook_service(settings: Settings, *, pool: Any, jobs: JobStore,
                           functions: FunctionStore) -> WebhookService:
    """The service as configured; the callback secret is generated once when not set."""
    secret = settings.callback_secret
    if not secret:
        if settings.is_production:
            logger.warning("FNGATE_CALLBACK_SECRET is not set: callbacks are signed with a "
                           "secret generated for this data directory")
        secret = load_or_create_secret(settings, CALLBACK_SECRET_FILE)
    return WebhookService(
        store=WebhookStore(pool), jobs=jobs, functions=functions, callback_secret=secret,
        allow_private=settings.allow_private_callbacks, timeout_s=settings.webhook_timeout_s,
        retry=DeliveryRetry(settings.webhook_retry_backoff_s), poll_s=settings.webhook_poll_s,
    )


def webhook_not_found(webhook: object) -> NotFound:
    """The 404 for a webhook that does not exist."""
    return NotFound(f"webhook '{webhook}' does not exist")


class DeliveryRetry:
    """Exponential backoff between attempts: ``base_s · 2^(n-1)``, at most ``cap_s``."""

    def __init__(self, base_s: float, *, max_retries: int = MAX_RETRIES,
                 cap_s: float = 3600.0) -> None:
        self.base_s = base_s
        self.max_retries = max_retries
        self.cap_s = cap_s

    def delay(self, attempts: int) -> float | None:
        """Seconds until the next try after ``attempts`` failed ones, or None: give up."""
        if attempts > self.max_retries:
            return None
        return float(min(self.cap_s, self.base_s * 2 ** (attempts - 1)))


class WebhookService:
    """Registers webhooks, queues their events and callbacks, and runs this replica's
    delivery loop."""

    def __init__(
        self,
        *,
        store: WebhookStore,
        jobs: JobStore,
        functions: FunctionStore,
        callback_secret: str,
        allow_private: bool,
        timeout_s: float,
        retry: DeliveryRetry,
        poll_s: float = 1.0,
        capacity: int = 16,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.store = store
        self._jobs = jobs
        self._functions = functions
        self._callback_secret = callback_secret
        self._allow_private = allow_private
        self._timeout_s = timeout_s
        self.retry = retry
        self._poll_s = poll_s
        self._capacity = capacity
        self._client = client or outbound_client(allow_private=allow_private,
                                                 timeout_s=timeout_s)
        self._wake = asyncio.Event()
        self._job_events: frozenset[str] = frozenset()
        # Jobs with a callback queued on this replica: their end wakes the loop at once
        # (others are found by the loop's next poll).
        self._awaited: set[str] = set()
        self._sending: dict[asyncio.Task[None], Delivery] = {}
        self._queueing: set[asyncio.Task[Any]] = set()

    # -- registering ------------------------------------------------------------------

    async def register(self, body: WebhookCreate, *, actor: Actor) -> WebhookRecord:
        """Store a webhook whose URL passes :func:`check_url` (InvalidRequest naming
        ``details.field: "url"`` and the ``reason`` otherwise); events happening from now
        on are delivered to it (of ``body.project`` only, when it names one: with its
        ``webhook_added`` audit event)."""
        try:
            url = await check_url(body.url, allow_private=self._allow_private)
        except UrlRefused as exc:
            raise exc.invalid_request(field="url") from exc
        webhook = await self.store.create(
            url=url, events=body.events, secret=body.secret, created_by=_subject(actor),
            project=body.project, also=_audited("webhook_added", "added", actor))
        await self.refresh()
        return webhook

    async def registered(self, *, within: Collection[str] | None = None
                         ) -> list[WebhookRecord]:
        """Every webhook, oldest first; with ``within``, those of these projects only."""
        return await self.store.list_all(within=within)

    async def get(self, webhook_id: int) -> WebhookRecord:
        """The webhook; NotFound when there is none."""
        webhook = await self.store.get(webhook_id)
        if webhook is None:
            raise webhook_not_found(webhook_id)
        return webhook

    async def remove(self, webhook_id: int, *, actor: Actor = None) -> None:
        """Delete a webhook and its pending deliveries (a project's with its
        ``webhook_removed`` audit event); NotFound when there is none."""
        if not await self.store.delete(webhook_id,
                                       also=_audited("webhook_removed", "removed", actor)):
            raise webhook_not_found(webhook_id)
        await self.refresh()

    # -- queueing ---------------------------------------------------------------------

    async def start(self) -> None:
        """Load which events have subscribers (job events are filtered in memory)."""
        await self.refresh()

    async def refresh(self) -> None:
        """Re-read the subscribed events; called after a change and by the loop."""
        self._job_events = await self.store.subscribed_events()

    async def function_event(self, event: str, function: FunctionRecord,
                             **extra: Any) -> None:
        """Queue ``event`` about ``function`` for its subscribers (code and env values left out)."""
        data = {**render(function_view(function, reveal_environment=False,
                                       include_code=False)), **extra}
        if await self.store.enqueue_event(event, project=function.project, payload=data):
            self._wake.set()

    async def function_created(self, function: FunctionRecord) -> None:
        """``function.created``, and ``function.deployed`` when version 1 needs no build."""
        await self.function_event("function.created", function)
        if function.status == "ready":
            await self.function_event("function.deployed", function,
                                      version=function.active_version)

    def build_finished(self, function_id: int, version: int, ok: bool, activated: bool) -> None:
        """The build manager's listener: ``function.deployed`` or ``function.failed``."""
        if ok and not activated:
            return  # a newer version was already active: nothing was deployed
        self._spawn(self._build_event(function_id, version, ok), "webhook-build")

    async def _build_event(self, function_id: int, version: int, ok: bool) -> None:
        function = await self._functions.get_by_id(function_id)
        if function is None:
            return
        event = "function.deployed" if ok else "function.failed"
        await self.function_event(event, function, version=version)

    def job_finished(self, job: Job) -> None:
        """The dispatcher's ``on_finished`` listener: send the job's callback and its
        ``job.succeeded|failed`` deliveries now. The job store wrote them with the job's
        final state (same statement); this only wakes the loop, which would otherwise find
        them on its next poll (as it does those of jobs other replicas finish)."""
        if job.status not in ("success", "failed"):
            return
        event = "job.succeeded" if job.status == "success" else "job.failed"
        if job.id in self._awaited or event in self._job_events:
            self._awaited.discard(job.id)
            self._wake.set()

    def callback_queued(self, job: Job) -> None:
        """The job's callback was queued (with the job, by the dispatcher): send it as soon
        as the job has finished (at once if it has)."""
        if job.status not in ("success", "failed"):
            if len(self._awaited) >= _MAX_AWAITED:
                self._awaited.clear()  # jobs that ended elsewhere; the poll finds theirs
            self._awaited.add(job.id)
        self._wake.set()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._queueing.add(task)
        task.add_done_callback(self._queued)

    def _queued(self, task: asyncio.Task[Any]) -> None:
        self._queueing.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            logger.error("queueing a webhook delivery failed",
                         extra={"task": task.get_name(), "error": repr(exc)})
        else:
            self._wake.set()

    # -- the loop ---------------------------------------------------------------------

    async def run(self) -> None:
        """Claim and send due deliveries until cancelled; a store outage is waited out."""
        loop = asyncio.get_running_loop()
        last_prune = last_refresh = loop.time()
        try:
            while True:
                self._wake.clear()
                try:
                    if loop.time() - last_refresh >= self._poll_s:
                        # Other replicas' webhook changes; this one's refresh at once.
                        last_refresh = loop.time()
                        await self.refresh()
                    await self.store.promote_callbacks()
                    free = self._capacity - len(self._sending)
                    if free > 0:
                        for delivery in await self.store.claim(
                                free, self._timeout_s + _LEASE_GRACE_S):
                            self._send_soon(delivery)
                    if loop.time() - last_prune >= _PRUNE_EVERY_S:
                        last_prune = loop.time()
                        await self.store.prune(keep_s=_KEEP_FINISHED_S)
                except (OSError, TimeoutError) as exc:
                    logger.warning("webhook loop: store unreachable", extra={"error": repr(exc)})
                except Exception as exc:
                    if not _is_store_error(exc):
                        raise
                    logger.warning("webhook loop: store error", extra={"error": repr(exc)})
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_s):
                        await self._wake.wait()
        finally:
            await self._stop_sending()

    async def close(self) -> None:
        """Finish queueing, hand unsent claims back, close the client."""
        if self._queueing:
            await asyncio.wait(list(self._queueing), timeout=5.0)
        await self._stop_sending()
        await self._client.aclose()

    async def _stop_sending(self) -> None:
        sending = dict(self._sending)
        for task in sending:
            task.cancel()
        await asyncio.gather(*sending, return_exceptions=True)
        for task, delivery in sending.items():
            if task.cancelled():
                with contextlib.suppress(Exception):
                    await self.store.release(delivery)

    def _send_soon(self, delivery: Delivery) -> None:
        task = asyncio.create_task(self._send(delivery), name=f"webhook-delivery-{delivery.id}")
        self._sending[task] = delivery
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            logger.error("webhook delivery crashed", extra={"error": repr(task.exception())})
        self._wake.set()  # room for another claim

    # -- sending ----------------------------------------------------------------------

    async def _send(self, delivery: Delivery) -> None:
        body = await self._body(delivery)
        secret = self._callback_secret if delivery.kind == "callback" else delivery.secret
        if body is None or secret is None:
            await self.store.record(delivery, "failed", status_code=None, duration_ms=0.0,
                                    error="the job or webhook of this delivery no longer exists")
            return
        headers = {
            "Content-Type": "application/json",
            "X-Fngate-Signature": sign(secret, body),
            "X-Fngate-Event": delivery.event,
            "X-Fngate-Delivery": str(delivery.id),
        }
        began = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        retryable = True
        try:
            async with asyncio.timeout(self._timeout_s):
                # Streamed and left unread: the receiver's body is not ours to buffer.
                async with self._client.stream("POST", delivery.url, content=body,
                                               headers=headers) as response:
                    status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"the receiver answered {status_code}"
        except BlockedAddress as exc:
            error, retryable = f"refused: {exc}", False
        except TimeoutError:
            error = f"no answer within {self._timeout_s:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:_ERROR_TEXT_LIMIT]
        duration_ms = (time.perf_counter() - began) * 1000
        outcome: DeliveryOutcome = "delivered"
        delay = 0.0
        if error is not None:
            next_delay = self.retry.delay(delivery.attempts) if retryable else None
            outcome = "failed" if next_delay is None else "retry"
            delay = next_delay or 0.0
        stored = await self.store.record(delivery, outcome, status_code=status_code,
                                         error=error, duration_ms=duration_ms,
                                         retry_in_s=delay)
        log = logger.info if outcome == "delivered" else logger.warning
        # The URL may carry credentials: log the delivery and the host only.
        log("webhook delivery %s", outcome, extra={
            "delivery_id": delivery.id, "kind": delivery.kind, "event": delivery.event,
            "host": httpx.URL(delivery.url).host, "attempt": delivery.attempts,
            "status_code": status_code, "error": error, "recorded": stored,
        })

    async def _body(self, delivery: Delivery) -> bytes | None:
        data = delivery.payload
        if delivery.job_id is not None:
            job = await self._jobs.get(delivery.job_id)
            if job is None:
                return None
            data = render_job(job)
        if delivery.kind == "callback":
            return dumps(data)
        return dumps({"event": delivery.event, "created_at": isoformat(delivery.created_at),
                      "data": data})


def _subject(actor: Actor) -> str | None:
    return actor.subject if isinstance(actor, Principal) else actor


def _audited(type: Literal["webhook_added", "webhook_removed"], verb: str, actor: Actor
             ) -> Callable[[Any, WebhookRecord], Awaitable[None]]:
    """The audit event of a project's webhook (the operator's are in no project's trail);
    the URL is left out (it may carry credentials), the secret always."""

    async def record(conn: Any, webhook: WebhookRecord) -> None:
        if webhook.project is None:
            return
        await project_event(webhook.project, type, f"webhook {webhook.id} {verb}", actor,
                            webhook_id=webhook.id, events=list(webhook.events),
                            host=httpx.URL(webhook.url).host)(conn)

    return record


def _is_store_error(exc: Exception) -> bool:
    return isinstance(exc, (asyncpg.PostgresError, asyncpg.InterfaceError))
