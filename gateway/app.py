"""The Starlette application factory and the lifespan that owns every long-lived thing."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware

from auth import TokenVerifier
from config import Settings, ensure_data_dir, load_or_create_secret
from executors import WorkerPools
from gateway.api.context import Services
from gateway.api.errors import exception_handlers
from gateway.api.middleware import (
    AnswerFenceMiddleware,
    BodyDrainMiddleware,
    BodyLimitMiddleware,
    CORSMiddleware,
    MetricsMiddleware,
    RateLimitMiddleware,
    RequestIdMiddleware,
    TargetGuardMiddleware,
)
from gateway.api.openapi import build_openapi
from gateway.api.routes import all_routes
from gateway.api.routes import console as console_routes
from gateway.core.secretbox import secret_box_for
from gateway.core.version import VERSION
from gateway.dialects import mounted_dialects
from gateway.services.audit_trail import AuditTrail
from gateway.services.builds import BuildManager
from gateway.services.cache import PostgresResultCache, run_cleanup
from gateway.services.changes import ChangeListener
from gateway.services.dispatcher import Dispatcher, RetryPolicy
from gateway.services.function_cleanup import FunctionCleanup
from gateway.services.function_stats import FunctionStats
from gateway.services.functions import FunctionService
from gateway.services.invocation import Invoker
from gateway.services.job_runner import JobRunner
from gateway.services.jobs import JobService
from gateway.services.leases import LeaseKeeper
from gateway.services.logs import LogService
from gateway.services.maintenance import JobRetention, LogRetention, run_maintenance
from gateway.services.metrics import GatewayMetrics
from gateway.services.projects import ProjectService
from gateway.services.ratelimit import RateLimiter
from gateway.services.scrape import MetricsScrape
from gateway.services.sessions import SessionService
from gateway.services.triggers import TriggerService
from gateway.services.webhooks import create_webhook_service
from gateway.store.builds import VersionBuildStore
from gateway.store.embedded import EmbeddedPostgres
from gateway.store.events import EventStore
from gateway.store.functions import FunctionStore
from gateway.store.jobs import JobStore
from gateway.store.logs import LogStore
from gateway.store.migrate import migrate
from gateway.store.pool import create_pool
from gateway.store.projects import ProjectStore
from gateway.store.replicas import ReplicaStore
from gateway.store.secrets import reseal_secrets
from gateway.store.sessions import SessionStore
from gateway.store.stats import StatsStore
from gateway.store.triggers import TriggerStore
from triggers.cron import CronService
from triggers.queue import QueueService

__all__ = ["create_app", "jwt_secret_for"]

logger = logging.getLogger("fngate.app")

JWT_SECRET_FILE = "jwt_secret"
# Functions looked up by ref are cached this long at most; every change (NOTIFY
# fngate_changes) drops the cache sooner.
FUNCTION_CACHE_TTL_S = 2.0
# Besides every change (and every reconnect of the change listener), each replica takes
# its clean-up rows, beats and sweeps what it holds of deleted functions and replaced
# versions this often.
FUNCTION_CLEANUP_SWEEP_S = 30.0


def jwt_secret_for(settings: Settings) -> str | None:
    """The HS256 secret: configured, or in development generated once in the data directory."""
    if settings.jwt_secret:
        return settings.jwt_secret
    if settings.jwt_public_key or settings.jwks_url:
        return None
    return load_or_create_secret(settings, JWT_SECRET_FILE)


def create_app(
    settings: Settings,
    *,
    on_fatal: Callable[[str], None] | None = None,
    retry: RetryPolicy | None = None,
    run_jobs: bool = True,
    freeze_gc: bool = False,
) -> Starlette:
    """Build the gateway. ``on_fatal`` is told when a background loop dies (the CLI stops).

    The compatibility dialects served beside the native API are those ``settings.dialects``
    (``FNGATE_DIALECTS``) names: all of them by default.

    ``freeze_gc`` (the server's choice, not tests'): once started, move everything alive
    out of the garbage collector's sight, so a full collection under load walks only
    what requests made (tens of milliseconds less at p99).
    """
    metrics = GatewayMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            services = await _open(settings, stack, retry, metrics)
            app.state.services = services
            tasks = _start_loops(services, on_fatal, run_jobs=run_jobs)
            if freeze_gc:
                gc.collect()
                gc.freeze()
                # Requests allocate much and keep little: collect young objects less often.
                gc.set_threshold(20_000, 20, 20)
            try:
                yield
            finally:
                # Queue consumers and job runners finish in-flight work (or hand it
                # back) while the lease heartbeat still runs.
                await asyncio.gather(services.runner.drain(settings.shutdown_grace_s),
                                     services.queues.close())
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    routes = all_routes()
    served = mounted_dialects(settings.mounted_dialects)
    app = Starlette(
        # Each dialect's routes behind one check of its base path (a 404 elsewhere is
        # not matched against each of them).
        routes=[*routes, *(dialect.route_group() for dialect in served),
                # Not in all_routes(): static files, outside the API and its document.
                *console_routes.routes(settings)],
        middleware=[
            # Outermost: whichever layer answers early, the connection survives it.
            Middleware(BodyDrainMiddleware, max_body_bytes=settings.max_body_bytes),
            Middleware(RequestIdMiddleware),
            Middleware(MetricsMiddleware, metrics=metrics),
            Middleware(CORSMiddleware, origins=settings.cors_origins),
            # Before the rate limiter, which reads the token: garbage needs no token to be refused.
            Middleware(TargetGuardMiddleware),
            Middleware(RateLimitMiddleware, dialects=[d.classes() for d in served]),
            Middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes),
            # Innermost: a response waits here for the job records it names.
            Middleware(AnswerFenceMiddleware),
        ],
        exception_handlers=exception_handlers,
        lifespan=lifespan,
    )
    # The native document only: each dialect is described by its own document.
    app.state.openapi = _openapi_document
    app.state.error_shapes = tuple(dialect.error_shape() for dialect in served)
    return app


@functools.cache
def _openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the route table, built on its first request (~80 ms) and
    shared by every app of the process: the table is the same for all."""
    return build_openapi(VERSION, all_routes())


async def _open(
    settings: Settings, stack: contextlib.AsyncExitStack, retry: RetryPolicy | None,
    metrics: GatewayMetrics,
) -> Services:
    ensure_data_dir(settings)
    # First: a malformed FNGATE_RATE_LIMITS fails before anything else starts.
    limiter = RateLimiter(settings)
    await limiter.start()
    stack.push_async_callback(limiter.close)
    dsn = settings.database_url
    if not dsn:
        embedded = EmbeddedPostgres(settings)
        dsn = await embedded.start()
        stack.push_async_callback(embedded.stop)
    pool = await create_pool(dsn)
    stack.push_async_callback(pool.close)
    await migrate(pool)
    records = pool  # sync records: without waiting for the disk flush, unless asked to
    if not settings.durable_sync_records:
        records = await create_pool(dsn, min_size=1, max_size=4, wait_for_flush=False)
        stack.push_async_callback(records.close)
    box = secret_box_for(settings)
    await reseal_secrets(pool, box)  # rotation: nothing stays sealed with a previous key
    # Counted in every delete and rename from now on (the clean-up outbox), before serving.
    replicas = ReplicaStore(pool, uuid.uuid4())
    await replicas.register()
    stack.push_async_callback(_leave, replicas)
    verifier = TokenVerifier(settings, secret=jwt_secret_for(settings))
    pools = WorkerPools(settings)
    await pools.start()
    stack.push_async_callback(pools.close)
    metrics.watch(warm_workers=pools.warm_worker_count, rate_limited=lambda: limiter.rejected,
                  rate_limit_fail_open=lambda: limiter.failures_open,
                  worker_capacity=pools.worker_capacity)
    functions = FunctionStore(pool, box=box, cache_ttl_s=FUNCTION_CACHE_TTL_S)
    jobs = JobStore(pool, records=records)
    leases = LeaseKeeper(jobs, lease_s=settings.job_lease_s, heartbeat_s=settings.job_heartbeat_s)
    triggers = TriggerStore(pool)
    dispatcher = Dispatcher(settings=settings, jobs=jobs, triggers=triggers, pools=pools,
                            leases=leases,
                            retry=retry or RetryPolicy(base_s=settings.retry_backoff_s),
                            metrics=metrics)
    runner = JobRunner(
        dsn=dsn, jobs=jobs, functions=functions, dispatcher=dispatcher, leases=leases,
        capacity=settings.async_job_concurrency, poll_s=settings.job_poll_s,
    )
    webhooks = create_webhook_service(settings, pool=pool, jobs=jobs, functions=functions)
    await webhooks.start()
    stack.push_async_callback(webhooks.close)
    dispatcher.on_finished.append(webhooks.job_finished)
    cache = PostgresResultCache(pool)
    invoker = Invoker(dispatcher=dispatcher, limiter=limiter, cache=cache, metrics=metrics,
                      webhooks=webhooks)
    builds = BuildManager(functions, pools, versions=VersionBuildStore(pool), metrics=metrics)
    builds.on_finished.append(webhooks.build_finished)
    stack.push_async_callback(builds.close)
    await builds.resume()
    projects = ProjectStore(pool, box=box)
    cron = CronService(triggers=triggers, functions=functions, invoker=invoker,
                       metrics=metrics)
    await cron.start()
    stack.push_async_callback(cron.close)
    queues = QueueService(amqp_url=settings.amqp_url, triggers=triggers, functions=functions,
                          invoker=invoker, grace_s=settings.shutdown_grace_s,
                          retry=dispatcher.retry,
                          on_outcome=metrics.queue_message,
                          paused_functions=projects.stopped_function_ids)
    queues.start()
    stack.push_async_callback(queues.close)
    sessions = SessionStore(pool)
    return Services(
        settings=settings, pool=pool, dsn=dsn, verifier=verifier, functions=functions,
        jobs=jobs, pools=pools, dispatcher=dispatcher, invoker=invoker, runner=runner,
        leases=leases, builds=builds, sessions=sessions, cache=cache,
        triggers=triggers,
        limiter=limiter, cron=cron, queues=queues, metrics=metrics, migrated=True,
        webhooks=webhooks, projects=projects, replicas=replicas,
        trigger_service=TriggerService(triggers),
        # This replica's queue consumers re-check a project it changed at once.
        project_service=ProjectService(store=projects, functions=functions, builds=builds,
                                       pools=pools, changed=queues.poke),
        function_service=FunctionService(functions=functions, builds=builds, pools=pools,
                                         cache=cache, metrics=metrics, webhooks=webhooks),
        session_service=SessionService(store=sessions, functions=functions,
                                       dispatcher=dispatcher, invoker=invoker,
                                       ttl_s=settings.session_ttl_s,
                                       max_timeout_ms=settings.max_timeout_ms),
        job_service=JobService(store=jobs, functions=functions),
        log_service=LogService(store=LogStore(pool), jobs=jobs, hub=dispatcher.live_logs,
                               poll_s=settings.log_follow_poll_s,
                               keepalive_s=settings.log_follow_keepalive_s),
        audit_trail=AuditTrail(events=EventStore(pool), functions=functions),
        function_stats=FunctionStats(store=StatsStore(pool), gates=dispatcher.gates,
                                     settings=settings),
        scrape=MetricsScrape(metrics=metrics, jobs=jobs, functions=functions),
    )


async def _leave(replicas: ReplicaStore) -> None:
    """Unregister at shutdown; with the database away, the replica is forgotten once it
    has been unseen for an hour (its rows with it) instead."""
    try:
        await replicas.unregister()
    except Exception as exc:  # shutting down: nothing else to do about it
        logger.warning("could not unregister this replica", extra={"error": repr(exc)})


def _start_loops(
    services: Services,
    on_fatal: Callable[[str], None] | None,
    *,
    run_jobs: bool,
) -> list[asyncio.Task[Any]]:
    # Whichever replica deleted a function or changed its version, this one drops its
    # warm workers, gate, metric series and cached results too.
    cleanup = FunctionCleanup(functions=services.functions, replicas=services.replicas,
                              pools=services.pools,
                              gates=services.dispatcher.gates, cache=services.cache,
                              metrics=services.metrics, sweep_s=FUNCTION_CLEANUP_SWEEP_S)
    loops: dict[str, Any] = {
        "lease-heartbeat": services.leases.run(),
        "result-cache-cleanup": run_cleanup(services.cache),
        "changes-listener": ChangeListener(services.dsn, [
            services.functions.forget, services.cron.poke, services.queues.poke,
            cleanup.poke], on_alive=services.functions.listener_alive).run(),
        "function-cleanup": cleanup.run(),
        "maintenance": run_maintenance(
            services.pool, interval_s=services.settings.maintenance_interval_s,
            logs=LogRetention(max_age_days=services.settings.log_retention_days,
                              max_lines=services.settings.log_retention_max_lines),
            jobs=JobRetention(max_age_days=services.settings.job_retention_days,
                              max_per_function=services.settings.job_retention_per_function),
            on_pruned=services.metrics.pruned),
    }
    loops["webhook-deliveries"] = services.webhooks.run()
    if run_jobs:
        loops["job-runner"] = services.runner.run()
    tasks = []
    for name, coro in loops.items():
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(lambda t: _side_task_done(t, on_fatal))
        tasks.append(task)
    return tasks


def _side_task_done(task: asyncio.Task[Any], on_fatal: Callable[[str], None] | None) -> None:
    """A background loop must never end on its own: say so and stop rather than limp."""
    if task.cancelled():
        return
    exc = task.exception()
    logger.critical("background task %s stopped", task.get_name(),
                    exc_info=exc if exc is not None else None)
    if on_fatal is not None:
        on_fatal(f"background task {task.get_name()} stopped")
