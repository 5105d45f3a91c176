"""Soak: mixed sync, async, cron and queue load for a long time with a 5-minute retention.

The gateway gets a database of its own on the local PostgreSQL (``FNGATE_SOAK_PG_URL``,
default ``postgresql://postgres@127.0.0.1:5432/postgres``, creates and drops it), finished
jobs kept 5 minutes (``FNGATE_JOB_RETENTION_DAYS=0.00347``) and ``FNGATE_MAX_WORKERS=8``.
A Python and a Node.js echo function take sync invokes and async invokes (alternately, 5
a second each), the Node.js one a cron trigger every 5 seconds, the Python one a queue
trigger fed 5 messages a second (skipped, with the reason in the details, when RabbitMQ
is unreachable). Every event carries a unique id. Every 10 s (a 15th of a shorter run):
the jobs table's row count, the gateway's RSS, ``/status`` live and max workers; finished
jobs are read from the database as they come, so the exactly-once check still sees those
retention deleted.

Checked at the end: every sync call answered (200, or 429 ``CONCURRENCY_LIMIT``), every
async and queue event in exactly one finished job, no cron fire missed or run twice, the
jobs table flat after the first retention window plus one maintenance round (the peak of
the last third of those samples over the first third's), the gateway's RSS growth after
warm-up (a third of the run, at most 5 minutes), and the most live workers seen vs the cap.

30 minutes; ``--quick`` 5 s (too short for a retention window: no target on the table
then); ``FNGATE_SOAK_S`` sets another length.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import statistics
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench import queue as q
from bench._report import Outcome, Row, Target
from bench.scenarios._common import NODE_ECHO, PY_ECHO, Config, Gateways, create_function
from bench.scenarios.queue_trigger import rabbitmq_reachable
from bench.soak_load import Sample, Soak, SoakPlan, SoakTally

__all__ = ["soak"]

ADMIN_DSN = os.environ.get("FNGATE_SOAK_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RETENTION_DAYS = 0.00347  # 5 minutes
RETENTION_S = RETENTION_DAYS * 86400
MAINTENANCE_S = 30.0  # FNGATE_MAINTENANCE_INTERVAL_S: the table swings by this much
MAX_WORKERS = 8
CRON_EVERY_S = 5
RSS_GROWTH_PCT = 5.0
_PY, _NODE = "soak-py", "soak-node"


def _duration(cfg: Config) -> float:
    return float(os.environ.get("FNGATE_SOAK_S") or (5 if cfg.quick else 1800))


@contextlib.contextmanager
def _database() -> Iterator[str]:
    """A fresh database on the admin DSN's server, dropped on exit; yields its URL."""
    name = f"fngate_soak_{uuid.uuid4().hex[:8]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f"CREATE DATABASE {name}"))
    try:
        parts = urlsplit(ADMIN_DSN)
        yield urlunsplit(parts._replace(path="/" + name))
    finally:
        asyncio.run(run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def soak(cfg: Config, gateways: Gateways) -> Outcome:
    """Exactly-once under mixed load; jobs table, RSS and live workers flat over time."""
    duration = _duration(cfg)
    queue = f"bench-soak-{uuid.uuid4().hex[:8]}" if rabbitmq_reachable() else None
    with _database() as dsn:
        env = {"FNGATE_DATABASE_URL": dsn, "FNGATE_JOB_RETENTION_DAYS": str(RETENTION_DAYS),
               "FNGATE_MAX_WORKERS": str(MAX_WORKERS),
               "FNGATE_MAINTENANCE_INTERVAL_S": str(MAINTENANCE_S)}
        if queue is not None:
            env["FNGATE_AMQP_URL"] = q.AMQP_URL
        try:
            with gateways(env) as h:
                create_function(h.client, _PY, "python", PY_ECHO)
                create_function(h.client, _NODE, "nodejs", NODE_ECHO)
                for name in (_PY, _NODE):
                    h.client.post(f"/api/v1/functions/{name}/invoke",
                                  json={}).raise_for_status()
                h.client.post(f"/api/v1/functions/{_NODE}/triggers", json={
                    "type": "cron", "config": {"schedule": f"*/{CRON_EVERY_S} * * * * *",
                                               "payload": {"cron": True}}}).raise_for_status()
                if queue is not None:
                    asyncio.run(q.fill(queue, 0))  # declared before the trigger consumes
                    h.client.post(f"/api/v1/functions/{_PY}/triggers", json={
                        "type": "queue", "config": {"queue": queue, "prefetch": 10}},
                    ).raise_for_status()
                plan = SoakPlan(
                    base_url=h.base_url, token=h.token, dsn=dsn, gateway_pid=h.gateway_pid,
                    functions=(_PY, _NODE), duration_s=duration,
                    sample_every_s=min(10.0, duration / 15),
                    sync_per_s=5.0, async_per_s=5.0, queue_per_s=5.0, queue=queue,
                    amqp_url=q.AMQP_URL)
                tally = asyncio.run(Soak(plan, drain_s=30 if cfg.quick else 120).run())
        finally:
            if queue is not None:
                asyncio.run(q.drop(queue))
    return _outcome(tally, duration, queue is not None)


def _cron_missed(fires: list[str]) -> int:
    times = sorted(dt.datetime.fromisoformat(f) for f in fires)
    gaps = (round((b - a).total_seconds() / CRON_EVERY_S) - 1 for a, b in zip(
        times, times[1:], strict=False))
    return sum(g for g in gaps if g > 0)


def _table_rows(samples: list[Sample], duration: float) -> tuple[list[Row], dict[str, int]]:
    """After the first retention window and one maintenance round: the peak of the last
    third of the samples over the first third's (≤ 1.1: flat), and max/min."""
    settled = [s.jobs_rows for s in samples if s.t >= RETENTION_S + MAINTENANCE_S]
    if len(settled) < 6:
        last = samples[-1].jobs_rows
        return [Row(metric=f"jobs table rows (no retention window in {duration:.0f} s)",
                    unit="rows", fngate=last)], {"last": last}
    third = len(settled) // 3
    early, late = max(settled[:third]), max(settled[-third:])
    return [
        Row(metric="jobs rows after retention, max vs min", unit="rows",
            fngate=max(settled), baseline=min(settled)),
        Row(metric="jobs rows, late peak vs early peak", unit="rows", fngate=late,
            baseline=early, target=Target(on="ratio", op="<=", bound=1.1)),
    ], {"max": max(settled), "min": min(settled), "early_peak": early, "late_peak": late}


def _rss_growth(samples: list[Sample], duration: float) -> tuple[float, int, int]:
    """RSS growth in % from the end of warm-up (a third of the run, at most 5 minutes) to
    the end: the medians of the three samples there (fewer in a short run)."""
    warm = min(duration / 3, RETENTION_S)
    after = [s.rss_kb for s in samples if s.t >= warm] or [samples[-1].rss_kb]
    n = min(3, len(after) // 2) or 1
    first, last = statistics.median(after[:n]), statistics.median(after[-n:])
    return (last - first) / first * 100, int(first), int(last)


def _outcome(t: SoakTally, duration: float, with_queue: bool) -> Outcome:
    per_uid = t.jobs_per_uid()
    sent = t.async_sent | t.queue_sent
    lost = len(sent - set(per_uid))
    twice = sum(1 for uid in sent if per_uid[uid] > 1)
    fires = t.cron_fires()
    cron_twice = sum(1 for n in fires.values() if n > 1)
    cron_missed = _cron_missed(list(fires))
    sync_total = sum(t.sync_statuses.values())
    answered = t.sync_statuses["200"] + t.sync_statuses["429"]
    unanswered = sync_total - answered + t.sync_failed
    growth, rss_first, rss_last = _rss_growth(t.samples, duration)
    max_live = max(s.live_workers for s in t.samples)
    cap = t.samples[-1].max_workers
    table, table_details = _table_rows(t.samples, duration)
    rows = [
        Row(metric=f"sync calls not answered (of {sync_total})", unit="",
            fngate=unanswered, target=Target(on="value", op="<=", bound=0)),
        Row(metric=f"async+queue events lost (of {len(sent)})", unit="", fngate=lost,
            target=Target(on="value", op="<=", bound=0)),
        Row(metric="events run twice (incl. cron fires)", unit="", fngate=twice + cron_twice,
            target=Target(on="value", op="<=", bound=0)),
        Row(metric=f"cron fires missed (of {sum(fires.values())})", unit="",
            fngate=cron_missed, target=Target(on="value", op="<=", bound=0)),
        *table,
        Row(metric="gateway RSS growth after warm-up", unit="%", fngate=growth,
            target=Target(on="value", op="<=", bound=RSS_GROWTH_PCT)),
        Row(metric="most live workers vs the cap", unit="", fngate=max_live, baseline=cap,
            target=Target(on="ratio", op="<=", bound=1)),
    ]
    outcome = Outcome(scenario="soak", rows=rows, details={
        "duration_s": duration, "retention_s": RETENTION_S, "max_workers": MAX_WORKERS,
        "queue": "on" if with_queue else f"skipped: RabbitMQ is not reachable at {q.AMQP_URL}",
        "sync_statuses": dict(t.sync_statuses), "sync_failed": t.sync_failed,
        "async_sent": len(t.async_sent), "async_refused": dict(t.async_refused),
        "queue_sent": len(t.queue_sent), "finished_jobs_seen": len(t.finished),
        "jobs_with_attempts_over_1": sum(1 for j in t.finished.values() if j[2] > 1),
        "cron_fires": sum(fires.values()), "drained": t.drained, "jobs_table": table_details,
        "rss_kb": {"after_warmup": rss_first, "end": rss_last},
        "samples": [dataclasses.asdict(s) for s in t.samples],
    })
    if unanswered or lost or twice or cron_twice or cron_missed or not t.drained:
        outcome.status = "error"
        outcome.reason = (f"{unanswered} sync unanswered, {lost} lost, {twice + cron_twice} "
                          f"run twice, {cron_missed} cron fires missed, drained={t.drained}")
    return outcome
