"""Queue trigger throughput against a bare aio-pika consumer that only acknowledges.

    python -m bench.queue [--messages 2000] [--prefetch 10]

Needs RabbitMQ (FNGATE_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672/). Both sides
consume a queue pre-filled with the same messages, with the same prefetch; each is timed
from its first acknowledgement to its last, so start-up and the trigger's reload delay are
not counted. fngate runs a trivial Python function per message (a job row, a worker round
trip, the ack after the job finished); the baseline only acks. Prints messages per second
and the ratio fngate / baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid

import aio_pika
import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench._harness import harness

AMQP_URL = os.environ.get("FNGATE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
CODE = "def handler(event):\n    return {'n': event['body']['n']}\n"


async def fill(queue: str, count: int) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
        for start in range(0, count, 200):
            await asyncio.gather(*(
                channel.default_exchange.publish(
                    aio_pika.Message(b'{"n": %d}' % n,
                                     delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key=queue)
                for n in range(start, min(count, start + 200))))


async def drop(queue: str) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        for name in (queue, queue + ".dlq"):
            await channel.queue_delete(name)


async def bare_consumer(queue: str, count: int, prefetch: int) -> float:
    """Messages per second of a consumer that only acks, first ack to last."""
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        declared = await channel.declare_queue(queue, durable=True)
        done = asyncio.Event()
        times: list[float] = []

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            await message.ack()
            times.append(time.perf_counter())
            if len(times) == count:
                done.set()

        await declared.consume(on_message)
        await done.wait()
    return (count - 1) / (times[-1] - times[0])


def acks(client: httpx.Client, queue: str) -> float:
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (sample.name == "fngate_queue_messages_total"
                    and sample.labels.get("queue") == queue
                    and sample.labels.get("outcome") == "ack"):
                return float(sample.value)
    return 0.0


def fngate_consumer(client: httpx.Client, queue: str, count: int, prefetch: int) -> float:
    """Messages per second through a queue trigger, first ack to last (polled metrics)."""
    r = client.post("/api/v1/functions/qbench/triggers", json={
        "type": "queue", "config": {"queue": queue, "prefetch": prefetch}})
    r.raise_for_status()
    deadline = time.monotonic() + 600
    first: tuple[float, float] | None = None
    while time.monotonic() < deadline:
        seen = acks(client, queue)
        now = time.perf_counter()
        if first is None and seen > 0:
            first = (now, seen)
        if seen >= count:
            assert first is not None
            return (seen - first[1]) / (now - first[0])
        time.sleep(0.02)
    raise SystemExit("the queue trigger did not finish in 10 minutes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--prefetch", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("FNGATE_AMQP_URL", AMQP_URL)
    bare_queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
    fn_queue = f"bench-fngate-{uuid.uuid4().hex[:8]}"
    asyncio.run(fill(bare_queue, args.messages))
    baseline = asyncio.run(bare_consumer(bare_queue, args.messages, args.prefetch))
    with harness() as h:
        h.client.post("/api/v1/functions", json={
            "name": "qbench", "runtime": "python", "code": CODE}).raise_for_status()
        h.client.post("/api/v1/functions/qbench/invoke", json={"body": {"n": 0}})
        asyncio.run(fill(fn_queue, args.messages))
        rate = fngate_consumer(h.client, fn_queue, args.messages, args.prefetch)
    for queue in (bare_queue, fn_queue):
        asyncio.run(drop(queue))
    print(f"{args.messages} messages, prefetch {args.prefetch}")
    print(f"{'consumer':32} {'msg/s':>9} {'x bare':>8}")
    print(f"{'bare aio-pika, ack only':32} {baseline:9.0f} {1:8.2f}")
    print(f"{'fngate queue trigger (python)':32} {rate:9.0f} {rate / baseline:8.2f}")


if __name__ == "__main__":
    main()
