"""The one invocation entry point: every way of running a function goes through it.

``/invoke`` and ``/invoke-async``, session executes, HTTP triggers, queue messages and
cron fires each turn their input into an :class:`Invocation` (parsed and checked, nothing
of HTTP, cron or AMQP left in it) and call :meth:`Invoker.invoke`. It applies the
invocation policy in one place and one order:

1. the runnable check: project running, a built version, its runtime on this replica;
2. the function's own ``rate_limit`` (entry points with a caller waiting: ``invoke``,
   ``session``, ``http``);
3. the event against ``schema.params`` (entry points whose event is the function's input:
   ``invoke``, ``session``; HTTP-trigger, cron and queue events are the gateway's own
   envelopes);
4. the entry point's own step once admitted, if it gives one (a session counts the
   execute): a refusal before it leaves no trace;
5. by mode: ``sync`` looks up the result cache when a directive allows it (never with
   an idempotency key: the key's first job wins), runs the job (bound to its idempotency
   key) and stores a fresh success; ``async`` records a pending job (bound to its
   idempotency key, or to its cron fire, which one replica claims); ``held`` runs a queue
   message's job to its final state, keyed by the message;
6. the callback, when one is given: written by the dispatcher with the job (an accepted
   job in its own transaction; a sync run's before it runs), so a callback that cannot be
   queued fails the invocation instead of being lost; here the delivery loop is told.

Accepted (``async``) jobs, a cron fire's among them, are run later by a job runner
(:class:`gateway.services.job_runner.JobRunner`), which claims each and runs it with
:meth:`Dispatcher.run_claimed` under its lease: everything above was applied when the job
was accepted, so only running it (concurrency, retries, take-over) is left.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.core.models import Invocation, Invoked, TriggerKind
from gateway.schemas.params import validate_params
from gateway.services.cache import ResultCache
from gateway.services.caching import plan_cache
from gateway.services.dispatcher import Dispatcher
from gateway.services.metrics import GatewayMetrics
from gateway.services.ratelimit import RateLimiter, check_function_rate
from gateway.services.webhooks import WebhookService

__all__ = ["Invoker"]


@dataclass(frozen=True, slots=True)
class _Policy:
    """Which checks an entry point's invocations get."""

    rate_limited: bool  # the function's rate_limit counts them (a caller can retry later)
    params_checked: bool  # their event is the function's input, checked against the schema


# Queue messages and cron fires have no caller to answer 429: a limited message would
# circle back through the queue, a limited fire would be lost.
_POLICIES: dict[TriggerKind, _Policy] = {
    "invoke": _Policy(rate_limited=True, params_checked=True),
    "session": _Policy(rate_limited=True, params_checked=True),
    "http": _Policy(rate_limited=True, params_checked=False),
    "queue": _Policy(rate_limited=False, params_checked=False),
    "cron": _Policy(rate_limited=False, params_checked=False),
}


class Invoker:
    """Applies the invocation policy and hands the work to the dispatcher."""

    def __init__(self, *, dispatcher: Dispatcher, limiter: RateLimiter, cache: ResultCache,
                 metrics: GatewayMetrics, webhooks: WebhookService) -> None:
        self._dispatcher = dispatcher
        self._limiter = limiter
        self._cache = cache
        self._metrics = metrics
        self._webhooks = webhooks

    async def invoke(self, inv: Invocation, *,
                     on_admitted: Callable[[], Awaitable[None]] | None = None) -> Invoked:
        """Admit ``inv``, then run it, accept it or answer it from the cache (module doc).

        Raises the admission's errors (409 ``PROJECT_STOPPED`` or ``CONFLICT``, 400
        ``INVALID_RUNTIME``, 429 ``RATE_LIMITED``, 400 ``INVALID_PARAMS``) before any job
        exists, and the run's (429 ``CONCURRENCY_LIMIT``, 409 for a reused idempotency key
        with another event). ``on_admitted`` runs once the checks pass and before the cache
        is read or a job recorded; what it raises refuses the invocation.
        """
        await self._admit(inv)
        if on_admitted is not None:
            await on_admitted()
        mode = inv.mode
        if mode == "auto":
            mode = "async" if inv.function.execution_type == "async" else "sync"
        if mode == "held":
            job, duplicate = await self._dispatcher.run_held(inv)
            invoked = Invoked(job=job, duplicate=duplicate)
        elif mode == "async":
            job, duplicate = await self._dispatcher.enqueue(inv)
            invoked = Invoked(job=job, accepted=True, duplicate=duplicate)
        else:
            invoked = await self._run_now(inv)
        if inv.callback_url is not None:
            self._webhooks.callback_queued(invoked.job)
        return invoked

    async def _admit(self, inv: Invocation) -> None:
        policy = _POLICIES[inv.trigger]
        self._dispatcher.check_runnable(inv.function)
        if policy.rate_limited:
            await check_function_rate(self._limiter, inv.function)
        if policy.params_checked:
            validate_params(inv.function.schema, inv.event)

    async def _run_now(self, inv: Invocation) -> Invoked:
        """Run now; with a cache directive, answer from the cache or fill it."""
        if inv.cache is None:
            job, ran = await self._dispatcher.run_now(inv)
            return Invoked(job=job, duplicate=ran is None)
        function = inv.function
        plan = plan_cache(function, params=inv.event, owner=inv.owner, directive=inv.cache)
        if inv.idempotency_key is not None:
            # The key's first job (or its 409) must win over a cached result.
            plan = dataclasses.replace(plan, reads=False)
        hit = await plan.lookup(self._cache)
        self._metrics.cache_lookup(function.name, read=plan.reads, hit=hit is not None)
        if hit is not None:
            # Recorded as a cached job, so a function's metrics count its cache hits.
            job = await self._dispatcher.record_cached(inv, hit.value)
            return Invoked(job=job, cache="HIT", age_s=hit.age_s)
        job, ran = await self._dispatcher.run_now(inv)
        if ran is not None and job.status == "success":  # not an idempotent replay
            await plan.store(self._cache, function.id, job.result)
        return Invoked(job=job, duplicate=ran is None, cache=plan.state)

