"""Queue retries that release the message, against real PostgreSQL and RabbitMQ: a failed
run with retries left waits in ``<queue>.fngate.retry`` (acknowledged from its queue), the
attempt counted in ``x-fngate-attempt``; a message for a deleted function goes to the DLQ."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aio_pika
import asyncpg
import pytest

from tests.conftest import running_app, wait_for
from tests.integration.queue_support import (
    ECHO_EVENT,
    add_queue_trigger,
    consuming,
    message_count,
    publish,
    queue_jobs,
)
from tests.integration.test_functions_api import create

# Fails on its first two attempts, as the attempt header says, then succeeds.
FLAKY = ("def handler(event):\n"
         "    attempt = int(event['headers'].get('x-fngate-attempt', 1))\n"
         "    if attempt < 3:\n"
         "        raise ValueError('attempt %d fails' % attempt)\n"
         "    return {'attempt': attempt}\n")


async def count_or_none(connection: aio_pika.abc.AbstractConnection,
                        queue: str) -> int | None:
    """Ready messages in ``queue``; None when it does not exist."""
    try:
        return await message_count(connection, queue)
    except aio_pika.exceptions.ChannelNotFoundEntity:
        return None


async def test_a_function_failing_twice_runs_three_times_and_the_message_waits_released(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str
) -> None:
    retry_queue = queue_name + ".fngate.retry"
    async with running_app(queue_settings(retry_backoff_s=2.0)) as client:
        r = await create(client, name="flaky", code=FLAKY, max_retries=3)
        assert r.status_code == 201, r.text
        trigger = await add_queue_trigger(client, "flaky", {"queue": queue_name})
        await wait_for(lambda: trigger["id"] in consuming(client), timeout_s=5)
        await publish(amqp, queue_name, {"n": 1}, message_id="flaky-1")

        async def waiting_in_the_delay_queue() -> bool:
            # The first attempt failed and its message was acknowledged: it is neither
            # ready nor held in the source queue, but sits in the delay queue.
            jobs = await queue_jobs(database_url)
            return (await count_or_none(amqp, retry_queue) == 1
                    and [(j["status"], j["attempts"]) for j in jobs] == [("failed", 1)])

        await wait_for(waiting_in_the_delay_queue, timeout_s=15, interval_s=0.2)
        assert await message_count(amqp, queue_name) == 0

        async def succeeded() -> bool:
            return len(await queue_jobs(database_url, "success")) == 1

        await wait_for(succeeded, timeout_s=30, interval_s=0.2)
    # The app stopped: a message left unacknowledged would be back in the queue.
    jobs = await queue_jobs(database_url)
    assert [(j["status"], j["attempts"]) for j in jobs] == [
        ("failed", 1), ("failed", 2), ("success", 3)]
    assert json.loads(jobs[2]["result"]) == {"attempt": 3}
    for queue in (queue_name, queue_name + ".dlq", retry_queue):
        assert await message_count(amqp, queue) == 0, queue


async def test_a_message_for_a_deleted_function_is_dead_lettered_with_the_reason(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str
) -> None:
    """Requeued, it would come straight back: to the DLQ, once."""
    async with running_app(queue_settings()) as client:
        r = await create(client, name="gone", code=ECHO_EVENT)
        assert r.status_code == 201, r.text
        function_id = r.json()["id"]
        trigger = await add_queue_trigger(client, "gone", {"queue": queue_name})
        await wait_for(lambda: trigger["id"] in consuming(client), timeout_s=5)
        # The function's row goes while its trigger stays (no cascade, no change
        # notice): what a consumer meets between a delete and its next reload.
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("SET session_replication_role = replica")
            await conn.execute("DELETE FROM functions WHERE id = $1", int(function_id))
        finally:
            await conn.close()
        client.app.state.services.functions.forget()  # type: ignore[attr-defined]
        await publish(amqp, queue_name, {"n": 1}, message_id="gone-1")

        async def dead_lettered() -> bool:
            return await message_count(amqp, queue_name + ".dlq") == 1

        await wait_for(dead_lettered, timeout_s=15, interval_s=0.2)
        metrics = (await client.get("/metrics")).text
    assert await queue_jobs(database_url) == []
    assert await message_count(amqp, queue_name) == 0
    requeued = [line for line in metrics.splitlines()
                if line.startswith("fngate_queue_messages_total")
                and f'queue="{queue_name}"' in line and 'outcome="requeue"' in line]
    assert requeued == []  # never sent back to come round again
    channel = await amqp.channel()
    message = await (await channel.declare_queue(queue_name + ".dlq", passive=True)).get(
        timeout=5)
    assert message is not None and message.message_id == "gone-1"
    assert message.headers["x-fngate-reason"] == "function_deleted"
    assert message.headers["x-fngate-error-code"] == "FUNCTION_NOT_FOUND"
    await message.ack()
    await channel.close()


async def _broker_version(connection: aio_pika.abc.AbstractConnection) -> tuple[int, ...]:
    properties = connection.transport.connection.server_properties  # type: ignore[attr-defined]
    raw = properties.get("version", b"0")
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    return tuple(int(p) for p in text.split(".")[:2] if p.isdigit())


async def test_retries_past_a_short_consumer_timeout_run_the_expected_number_of_times(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str
) -> None:
    """Backoffs longer than the queue's consumer timeout: nothing is held that long, so the
    broker closes no channel and the message (without an id) runs three times, not more."""
    if await _broker_version(amqp) < (3, 12):
        pytest.skip("per-queue x-consumer-timeout needs RabbitMQ 3.12 or later")
    channel = await amqp.channel()
    await channel.declare_queue(queue_name, durable=True,
                                arguments={"x-consumer-timeout": 1000})
    await channel.close()
    async with running_app(queue_settings(retry_backoff_s=3.0)) as client:
        r = await create(client, name="flaky", code=FLAKY, max_retries=3)
        assert r.status_code == 201, r.text
        trigger = await add_queue_trigger(client, "flaky", {"queue": queue_name})
        await wait_for(lambda: trigger["id"] in consuming(client), timeout_s=5)
        await publish(amqp, queue_name, {"n": 1})  # no message_id: nothing de-duplicates

        async def succeeded() -> bool:
            return len(await queue_jobs(database_url, "success")) == 1

        await wait_for(succeeded, timeout_s=120, interval_s=0.5)
    jobs = await queue_jobs(database_url)
    assert [(j["status"], j["attempts"]) for j in jobs] == [
        ("failed", 1), ("failed", 2), ("success", 3)]
