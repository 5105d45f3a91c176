"""The scenarios of the benchmark suite, in the order they run."""

from __future__ import annotations

from collections.abc import Callable

from bench._report import Outcome
from bench.scenarios._common import Config, Gateways
from bench.scenarios.cold import cold_start
from bench.scenarios.compiled import compiled_runtimes
from bench.scenarios.dependency_build import dependency_build
from bench.scenarios.dialects import dialect_cost
from bench.scenarios.http import invoke_nodejs, invoke_python, session_cache_hit
from bench.scenarios.jobs import async_jobs
from bench.scenarios.memory import memory
from bench.scenarios.queue_trigger import queue_trigger, rabbitmq_reachable
from bench.scenarios.registry import registry_scale
from bench.scenarios.sandbox import sandbox_overhead
from bench.scenarios.soak import soak

__all__ = ["SCENARIOS", "Config", "Gateways", "rabbitmq_reachable"]

SCENARIOS: dict[str, Callable[[Config, Gateways], Outcome]] = {
    "invoke-python": invoke_python,
    "invoke-nodejs": invoke_nodejs,
    "session-cache-hit": session_cache_hit,
    "cold-start": cold_start,
    "async-jobs": async_jobs,
    "queue-trigger": queue_trigger,
    "registry-scale": registry_scale,
    "memory": memory,
    "sandbox": sandbox_overhead,
    "dialects": dialect_cost,
    "dependency-build": dependency_build,
    "compiled-runtimes": compiled_runtimes,
    "soak": soak,
}
