"""Prometheus metrics of one gateway replica, on a registry of its own.

Every metric object lives here, on a :class:`GatewayMetrics` made per app (two
apps in one process, as in the tests, never share a series). Instrumented code
calls the methods below rather than touching metric objects, so label values
stay bounded: routes are templates, function labels are tracked per function
and dropped with :meth:`GatewayMetrics.forget_function`, outcomes are checked
against their closed sets. Values that already live elsewhere (warm workers,
rate-limit refusals) are read at scrape time through :meth:`GatewayMetrics.watch`.
"""

from __future__ import annotations

import contextlib
import statistics
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal, TypeVar, get_args

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

from executors.budget import WorkerCapacity
from executors.models import RUNTIMES
from gateway.core.models import Job

__all__ = [
    "BUILD_BUCKETS",
    "CONTENT_TYPE",
    "DURATION_BUCKETS",
    "UNMATCHED_ROUTE",
    "CacheResult",
    "CronOutcome",
    "GatewayMetrics",
    "PrunedKind",
    "QueueOutcome",
]

#: Sub-millisecond pipe round trips up to a 30 s run (the default buckets stop at 10 s).
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                    1.0, 2.5, 5.0, 10.0, 30.0)
#: Dependency builds take seconds to minutes.
BUILD_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
#: The ``route`` label of a request no route matched (a 404): never the raw path.
UNMATCHED_ROUTE = "<unmatched>"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

QueueOutcome = Literal["ack", "retry", "dlq", "requeue"]
CronOutcome = Literal["won", "lost", "skipped"]
CacheResult = Literal["hit", "miss", "bypass"]
#: What a maintenance round deletes (gateway/services/maintenance.py counts these).
PrunedKind = Literal["idempotency_keys", "sessions", "jobs_by_age", "jobs_by_count",
                     "job_log_lines", "log_lines_by_age", "log_lines_by_count",
                     "cron_fires"]

_M = TypeVar("_M", bound=MetricWrapperBase)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
_COLD_START_WINDOW = 100

# A ``_created`` sample per series doubles what Prometheus stores and nobody graphs it.
disable_created_metrics()  # type: ignore[no-untyped-call]


class GatewayMetrics:
    """The metrics of one replica and the API the rest of the gateway records them with."""

    def __init__(self, *, cold_start_window: int = _COLD_START_WINDOW) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._http_requests = Counter(
            "fngate_http_requests", "HTTP requests by route template, method and status.",
            ["route", "method", "status"], registry=r)
        self._http_duration = Histogram(
            "fngate_http_request_duration_seconds",
            "Time from a request's arrival to its response's end, by route template.",
            ["route", "method"], buckets=DURATION_BUCKETS, registry=r)
        self._invocations = Counter(
            "fngate_invocations", "Finished invocations (jobs), cache hits included.",
            ["function", "trigger", "status"], registry=r)
        self._invocation_duration = Histogram(
            "fngate_invocation_duration_seconds",
            "Run time of finished invocations that ran (cache hits excluded).",
            ["function", "trigger"], buckets=DURATION_BUCKETS, registry=r)
        self._cold_starts = Counter(
            "fngate_cold_starts", "Invocations that started a worker for their function.",
            ["function"], registry=r)
        self._cold_start_duration = Histogram(
            "fngate_cold_start_duration_seconds",
            "Time a cold start adds to a run (handing a worker the function's code).",
            ["runtime"], buckets=DURATION_BUCKETS, registry=r)
        self._cache_requests = Counter(
            "fngate_cache_requests", "Result cache lookups: hit, miss, or bypass (not read).",
            ["function", "result"], registry=r)
        self._jobs_pending = Gauge(
            "fngate_jobs_pending", "Jobs waiting for a job runner (all replicas), as of the "
            "last scrape.", registry=r)
        self._queue_messages = Counter(
            "fngate_queue_messages", "Queue trigger messages by outcome.",
            ["queue", "outcome"], registry=r)
        self._cron_fires = Counter(
            "fngate_cron_fires", "Cron fires by claim outcome (won here, lost to another "
            "replica, skipped: nothing runnable).", ["function", "outcome"], registry=r)
        self._pruned = Counter(
            "fngate_pruned_rows", "Rows this replica's maintenance deleted, by kind (jobs "
            "by age or count per function, the log lines of those jobs, log lines past "
            "their own retention, idempotency keys, sessions, cron fire claims).", ["kind"],
            registry=r)
        self._build_duration = Histogram(
            "fngate_build_duration_seconds", "Dependency builds of function versions.",
            ["runtime"], buckets=BUILD_BUCKETS, registry=r)
        # Function name -> the (metric, label values) series recorded for it.
        self._series: dict[str, set[tuple[MetricWrapperBase, tuple[str, ...]]]] = {}
        self._children: dict[tuple[MetricWrapperBase, tuple[str, ...]], Any] = {}
        self._http_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._inflight: dict[str, int] = {}
        self._cold_start_ms: deque[float] = deque(maxlen=cold_start_window)
        self._scraped = _ScrapeTime(self._inflight)
        r.register(self._scraped)

    # -- exposition -----------------------------------------------------------------------

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric of this replica."""
        return generate_latest(self.registry)

    def watch(
        self,
        *,
        warm_workers: Callable[[], Mapping[str, int]],
        rate_limited: Callable[[], Mapping[str, int]],
        rate_limit_fail_open: Callable[[], int],
        worker_capacity: Callable[[], WorkerCapacity] | None = None,
    ) -> None:
        """Read these at scrape time: warm workers per runtime, requests refused per
        route class, requests let through because the limit storage failed, and the
        worker budget (what ``/status`` shows: live workers, the cap, calls waiting)."""
        self._scraped.warm_workers = warm_workers
        self._scraped.worker_capacity = worker_capacity
        self._scraped.rate_limited = rate_limited
        self._scraped.rate_limit_fail_open = rate_limit_fail_open

    def set_jobs_pending(self, count: int) -> None:
        self._jobs_pending.set(count)

    def pruned(self, counts: Mapping[str, int]) -> None:
        """One maintenance round's deletions, by kind; kinds outside the set are refused."""
        for kind, count in counts.items():
            _check(kind, PrunedKind)
            if count:
                self._pruned.labels(kind).inc(count)

    # -- HTTP -------------------------------------------------------------------------------

    def observe_http(self, route: str, method: str, status: int, seconds: float) -> None:
        """One request; ``route`` is its template (or :data:`UNMATCHED_ROUTE`)."""
        method = method if method in _METHODS else "OTHER"  # bounded, as the key below
        children = self._http_children.get((route, method, status))
        if children is None:
            children = (self._http_requests.labels(route, method, str(status)),
                        self._http_duration.labels(route, method))
            self._http_children[(route, method, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    # -- invocations ------------------------------------------------------------------------

    def job_finished(self, job: Job) -> None:
        """A job reached ``success`` or ``failed`` (the dispatcher's single finishing point)."""
        name = job.function_name
        self._inc(self._invocations, name, (name, job.trigger, job.status))
        if job.duration is not None and not job.cached:
            self._track(self._invocation_duration, name, (name, job.trigger)).observe(
                job.duration / 1000)
        if job.cold_start:
            self._inc(self._cold_starts, name, (name,))

    @contextlib.contextmanager
    def inflight(self, function: str) -> Iterator[None]:
        """Count a run of ``function`` as in flight while the block runs."""
        self._inflight[function] = self._inflight.get(function, 0) + 1
        try:
            yield
        finally:
            left = self._inflight.get(function)
            if left is not None:  # None: the function was forgotten meanwhile
                self._inflight[function] = max(0, left - 1)

    def cold_start_observed(self, runtime: str, seconds: float) -> None:
        """What one cold start added to a run; feeds :meth:`typical_cold_start_ms`."""
        self._cold_start_duration.labels(runtime).observe(seconds)
        self._cold_start_ms.append(seconds * 1000)

    def typical_cold_start_ms(self) -> int | None:
        """The median of the recent measured cold starts of this replica; None before one."""
        if not self._cold_start_ms:
            return None
        return round(statistics.median(self._cold_start_ms))

    def cache_lookup(self, function: str, *, read: bool, hit: bool) -> None:
        """One invocation that could use the result cache: ``hit``, ``miss``, or ``bypass``
        when it did not read the cache (``no-store``, ``cache_ttl: 0``, an idempotent call)."""
        result: CacheResult = "hit" if hit else "miss" if read else "bypass"
        self._inc(self._cache_requests, function, (function, result))

    # -- triggers and builds ----------------------------------------------------------------

    def queue_message(self, queue: str, outcome: QueueOutcome) -> None:
        """A queue trigger message acknowledged, dead-lettered or requeued."""
        _check(outcome, QueueOutcome)
        self._queue_messages.labels(queue, outcome).inc()

    def forget_queue(self, queue: str) -> None:
        """Drop a queue's series (its last trigger is gone)."""
        for outcome in get_args(QueueOutcome):
            with contextlib.suppress(KeyError):
                self._queue_messages.remove(queue, outcome)

    def cron_fire(self, function: str, outcome: CronOutcome) -> None:
        """A cron fire of ``function``: claimed here, claimed by another replica, or skipped."""
        _check(outcome, CronOutcome)
        self._inc(self._cron_fires, function, (function, outcome))

    def build_finished(self, runtime: str, seconds: float) -> None:
        self._build_duration.labels(runtime).observe(seconds)

    # -- bounded function labels ------------------------------------------------------------

    def function_names(self) -> set[str]:
        """Functions that have series here."""
        return set(self._series) | set(self._inflight)

    def forget_function(self, name: str) -> None:
        """Remove every series labelled with ``name`` (deleted or renamed function)."""
        for metric, labels in self._series.pop(name, ()):
            self._children.pop((metric, labels), None)
            with contextlib.suppress(KeyError):
                metric.remove(*labels)
        self._inflight.pop(name, None)

    def _track(self, metric: _M, function: str, labels: tuple[str, ...]) -> _M:
        # The labelled child, remembered: ``labels()`` costs a lock and checks per call.
        child = self._children.get((metric, labels))
        if child is None:
            self._series.setdefault(function, set()).add((metric, labels))
            child = self._children[(metric, labels)] = metric.labels(*labels)
        return child

    def _inc(self, metric: Counter, function: str, labels: tuple[str, ...]) -> None:
        self._track(metric, function, labels).inc()


def _check(value: str, allowed: object) -> None:
    if value not in get_args(allowed):
        raise ValueError(f"{value!r} is not one of {get_args(allowed)}")


def _nothing() -> Mapping[str, int]:
    return {}


class _ScrapeTime(Collector):
    """Metrics read from their owners when Prometheus scrapes."""

    def __init__(self, inflight: Mapping[str, int]) -> None:
        self._inflight = inflight
        self.warm_workers: Callable[[], Mapping[str, int]] = _nothing
        self.rate_limited: Callable[[], Mapping[str, int]] = _nothing
        self.rate_limit_fail_open: Callable[[], int] = lambda: 0
        self.worker_capacity: Callable[[], WorkerCapacity] | None = None

    def collect(self) -> Iterable[Metric]:
        inflight = GaugeMetricFamily("fngate_inflight_invocations",
                                     "Invocations running in a worker now.",
                                     labels=["function"])
        for function, count in sorted(self._inflight.items()):
            inflight.add_metric([function], count)
        yield inflight
        warm = GaugeMetricFamily("fngate_warm_workers",
                                 "Workers specialized for a function (idle or busy).",
                                 labels=["runtime"])
        for runtime, count in sorted(self.warm_workers().items()):
            warm.add_metric([runtime], count)
        yield warm
        yield from _budget_metrics(self.worker_capacity)
        limited = CounterMetricFamily("fngate_rate_limited",
                                      "Requests refused with 429 RATE_LIMITED, by route class "
                                      "(`function`: a function's own rate_limit).",
                                      labels=["route_class"])
        for klass, count in sorted(self.rate_limited().items()):
            limited.add_metric([klass], count)
        yield limited
        yield CounterMetricFamily("fngate_rate_limit_fail_open",
                                  "Requests let through because the rate-limit storage did "
                                  "not answer.", value=self.rate_limit_fail_open())


def _budget_metrics(read: Callable[[], WorkerCapacity] | None) -> Iterable[Metric]:
    """The worker budget's gauges (none before the pools are watched)."""
    if read is None:
        return
    capacity = read()
    yield GaugeMetricFamily("fngate_workers_live",
                            "Worker processes alive or starting on this replica (pre-started, "
                            "warm and busy) and build processes, never above "
                            "fngate_workers_max.",
                            value=capacity.live)
    yield GaugeMetricFamily("fngate_workers_max",
                            "FNGATE_MAX_WORKERS: the cap on live worker processes in force.",
                            value=capacity.max)
    yield GaugeMetricFamily("fngate_workers_waiting",
                            "Calls and builds waiting for a slot at the cap.",
                            value=capacity.waiting)
    families = {
        "live": GaugeMetricFamily("fngate_runtime_workers_live",
                                  "A runtime's worker processes alive or starting.",
                                  labels=["runtime"]),
        "idle": GaugeMetricFamily("fngate_runtime_workers_idle",
                                  "A runtime's live workers waiting for a call (pre-started "
                                  "and idle warm ones).", labels=["runtime"]),
        "max": GaugeMetricFamily("fngate_runtime_workers_max",
                                 "The most live workers a runtime may have: its share "
                                 "(FNGATE_MAX_WORKERS_PER_RUNTIME), else the cap.",
                                 labels=["runtime"]),
        "waiting": GaugeMetricFamily("fngate_runtime_workers_waiting",
                                     "A runtime's calls waiting for a worker (at the cap or "
                                     "its share).", labels=["runtime"]),
    }
    for runtime in RUNTIMES:
        part = capacity.runtimes.get(runtime)
        share = part.max if part is not None else None
        families["live"].add_metric([runtime], part.live if part is not None else 0)
        families["idle"].add_metric([runtime], part.idle if part is not None else 0)
        families["max"].add_metric([runtime], min(share, capacity.max)
                                   if share is not None else capacity.max)
        families["waiting"].add_metric([runtime], part.waiting if part is not None else 0)
    yield from families.values()
