"""The long-lived objects one gateway replica runs with, as the routes reach them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from auth import TokenVerifier
from config import Settings
from executors import WorkerPools
from gateway.services.audit_trail import AuditTrail
from gateway.services.builds import BuildManager
from gateway.services.cache import ResultCache
from gateway.services.dispatcher import Dispatcher
from gateway.services.function_stats import FunctionStats
from gateway.services.functions import FunctionService
from gateway.services.invocation import Invoker
from gateway.services.job_runner import JobRunner
from gateway.services.jobs import JobService
from gateway.services.leases import LeaseKeeper
from gateway.services.logs import LogService
from gateway.services.metrics import GatewayMetrics
from gateway.services.projects import ProjectService
from gateway.services.ratelimit import RateLimiter
from gateway.services.scrape import MetricsScrape
from gateway.services.sessions import SessionService
from gateway.services.triggers import TriggerService
from gateway.services.webhooks import WebhookService
from gateway.store.functions import FunctionStore
from gateway.store.jobs import JobStore
from gateway.store.projects import ProjectStore
from gateway.store.replicas import ReplicaStore
from gateway.store.sessions import SessionStore
from gateway.store.triggers import TriggerStore
from triggers.cron import CronService
from triggers.queue import QueueService

__all__ = ["Services", "services_of"]


@dataclass(slots=True, kw_only=True)
class Services:
    """Everything the lifespan opened, handed to routes through ``app.state``."""

    settings: Settings
    pool: Any
    dsn: str
    verifier: TokenVerifier
    functions: FunctionStore
    jobs: JobStore
    sessions: SessionStore
    triggers: TriggerStore
    cache: ResultCache
    pools: WorkerPools
    dispatcher: Dispatcher
    invoker: Invoker
    runner: JobRunner
    leases: LeaseKeeper
    builds: BuildManager
    limiter: RateLimiter
    cron: CronService
    metrics: GatewayMetrics
    queues: QueueService
    webhooks: WebhookService
    projects: ProjectStore
    replicas: ReplicaStore
    migrated: bool = False
    started_at: float = field(default_factory=time.time)
    trigger_service: TriggerService
    project_service: ProjectService
    function_service: FunctionService
    session_service: SessionService
    job_service: JobService
    log_service: LogService
    audit_trail: AuditTrail
    function_stats: FunctionStats
    scrape: MetricsScrape


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
