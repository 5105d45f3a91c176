"""Queue trigger throughput vs a bare aio-pika consumer that only acks (bench/queue.py)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from urllib.parse import urlsplit

from bench import queue as q
from bench._report import Outcome, Row, Target
from bench.scenarios._common import Config, Gateways, create_function

__all__ = ["queue_trigger", "rabbitmq_reachable"]

PREFETCH = 10


def rabbitmq_reachable() -> bool:
    parts = urlsplit(q.AMQP_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672),
                                      timeout=1):
            return True
    except OSError:
        return False


def queue_trigger(cfg: Config, gateways: Gateways) -> Outcome:
    """Messages per second, first ack to last, of both consumers on pre-filled queues."""
    if not rabbitmq_reachable():
        return Outcome(scenario="queue-trigger", status="skipped",
                       reason=f"RabbitMQ is not reachable at {q.AMQP_URL}")
    bare_queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
    fn_queue = f"bench-fngate-{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(q.fill(bare_queue, cfg.messages))
        baseline = asyncio.run(q.bare_consumer(bare_queue, cfg.messages, PREFETCH))
        with gateways({"FNGATE_AMQP_URL": q.AMQP_URL}) as h:
            create_function(h.client, "qbench", "python", q.CODE)
            h.client.post("/api/v1/functions/qbench/invoke",
                          json={"body": {"n": 0}}).raise_for_status()
            asyncio.run(q.fill(fn_queue, cfg.messages))
            rate = q.fngate_consumer(h.client, fn_queue, cfg.messages, PREFETCH)
    finally:
        for queue in (bare_queue, fn_queue):
            asyncio.run(q.drop(queue))
    row = Row(metric=f"{cfg.messages} messages", unit="msg/s", fngate=rate, baseline=baseline,
              target=Target(on="ratio", op=">=", bound=0.5))
    return Outcome(scenario="queue-trigger", rows=[row],
                   details={"messages": cfg.messages, "prefetch": PREFETCH})
