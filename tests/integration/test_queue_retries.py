"""Queue retries that release the message, against real PostgreSQL and RabbitMQ: a failed
run with retries left waits in ``<queue>.fngate.retry`` (acknowledged from its queue), the
attempt counted in ``x-fngate-attempt``; a message for a deleted function goes to the DLQ."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import asyncpg
import pytest

from tests.conftest import IN_CI, auth, running_app, wait_for
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


# --- consumer_timeout ------------------------------------------------------------------
#
# How the broker checks it (deps/rabbit/src/rabbit_channel.erl, v3.10.8 and v3.12.14):
# a channel reads ``consumer_timeout`` from the application environment once, when it
# opens (``init/1`` → ``get_consumer_timeout()``, kept in its state); 3.12 lets a queue's
# ``x-consumer-timeout`` argument override it. The check runs on the channel's tick,
# re-armed after each tick from ``channel_tick_interval`` (60 s by default): a channel
# whose oldest unacknowledged delivery is older than its timeout is closed with
# PRECONDITION_FAILED and its messages are requeued. So a short timeout needs a short tick
# too; and on 3.10 the timeout is set broker-wide only while the trigger's channel opens,
# then restored: channels other tests open afterwards keep the usual timeout.

CONSUMER_TIMEOUT_MS = 1500
TICK_MS = 200


async def _rabbitmqctl_eval(expression: str) -> str:
    """Evaluate an Erlang expression in the broker (``rabbitmqctl eval``)."""
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl", "eval", expression,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    if process.returncode != 0:
        raise RuntimeError(f"rabbitmqctl eval failed: {(err or out).decode().strip()}")
    return out.decode().strip()


def _erlang_env(values: dict[str, str | None]) -> str:
    """An expression that sets (None: unsets) rabbit's ``values`` and evaluates to a list
    of what they were: ``{ok,Value}`` or ``undefined`` each, in order."""
    old = ", ".join(f"application:get_env(rabbit, {name})" for name in values)
    changes = ", ".join(
        f"application:unset_env(rabbit, {name})" if value is None
        else f"application:set_env(rabbit, {name}, {value})" for name, value in values.items())
    return f"Old = [{old}], {changes}, Old."


def _previous(printed: str, names: list[str]) -> dict[str, str | None]:
    """The values :func:`_erlang_env` printed, as it takes them back."""
    found = re.findall(r"\{ok,([^{}]*)\}|(undefined)", printed)
    if len(found) != len(names):
        raise RuntimeError(f"unexpected rabbitmqctl output: {printed!r}")
    return {name: None if undefined else value
            for name, (value, undefined) in zip(names, found, strict=True)}


@contextlib.asynccontextmanager
async def broker_env(
    values: dict[str, str],
) -> AsyncIterator[Callable[[str], Awaitable[None]]]:
    """Set rabbit's application environment (``rabbitmqctl eval``) for the block and put
    back what it was at the end; the callable given restores one name early. Skips (fails
    under CI=true) when rabbitmqctl is missing or cannot reach the broker."""
    reason = None
    if shutil.which("rabbitmqctl") is None:
        reason = "rabbitmqctl is not installed (it sets the broker's consumer_timeout)"
    else:
        try:
            previous = _previous(await _rabbitmqctl_eval(_erlang_env(dict(values))),
                                 list(values))
        except (RuntimeError, OSError, TimeoutError) as exc:
            reason = f"rabbitmqctl cannot set the broker's consumer_timeout: {exc}"
    if reason is not None:
        if IN_CI:
            pytest.fail(reason + " (CI=true: the broker must be reachable)")
        pytest.skip(reason)
    pending = dict(previous)

    async def restore(name: str) -> None:
        if name in pending:
            await _rabbitmqctl_eval(_erlang_env({name: pending.pop(name)}))

    try:
        yield restore
    finally:
        if pending:
            await _rabbitmqctl_eval(_erlang_env(pending))
            pending.clear()


async def _broker_version(connection: aio_pika.abc.AbstractConnection) -> tuple[int, ...]:
    properties = connection.transport.connection.server_properties  # type: ignore[attr-defined]
    raw = properties.get("version", b"0")
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    return tuple(int(p) for p in text.split(".")[:2] if p.isdigit())


async def _closed_for_holding(amqp: aio_pika.abc.AbstractConnection, queue: str,
                              arguments: dict[str, Any]) -> None:
    """The broker closes a channel that holds a delivery past the timeout: what the test
    below relies on, checked on a channel of its own (opened while the timeout is set)."""
    channel = await amqp.channel()
    try:
        declared = await channel.declare_queue(queue, auto_delete=True, arguments=arguments)
        await channel.default_exchange.publish(aio_pika.Message(b"held"), routing_key=queue)
        message = await declared.get(no_ack=False, timeout=5)
        assert message is not None  # held, never acknowledged
        await wait_for(lambda: channel.is_closed, timeout_s=CONSUMER_TIMEOUT_MS / 1000 + 10,
                       interval_s=0.1)
    finally:
        if not channel.is_closed:
            await channel.close()
    cleanup = await amqp.channel()
    await cleanup.queue_delete(queue)
    await cleanup.close()


async def test_retries_past_a_short_consumer_timeout_run_the_expected_number_of_times(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str
) -> None:
    """Backoffs longer than the consumer timeout: nothing is held that long, so the broker
    closes no channel and the message (without an id) runs three times, not more. Code
    that slept through the backoff holding the delivery had its channel closed and the
    message run again (checked by making ``_process`` sleep the backoff before the copy).

    On RabbitMQ 3.12+ the timeout is the queue's ``x-consumer-timeout``; before, the
    broker-wide ``consumer_timeout`` while the trigger's channel opens."""
    per_queue = await _broker_version(amqp) >= (3, 12)
    arguments = {"x-consumer-timeout": CONSUMER_TIMEOUT_MS} if per_queue else {}
    env = {"channel_tick_interval": str(TICK_MS)}
    if not per_queue:
        env["consumer_timeout"] = str(CONSUMER_TIMEOUT_MS)
    if per_queue:
        channel = await amqp.channel()
        await channel.declare_queue(queue_name, durable=True, arguments=arguments)
        await channel.close()
    backoff_s = CONSUMER_TIMEOUT_MS / 1000  # attempt 2 waits this long, attempt 3 twice it
    async with broker_env(env) as restore, \
            running_app(queue_settings(retry_backoff_s=backoff_s)) as client:
        probe = asyncio.create_task(_closed_for_holding(amqp, queue_name + ".probe", arguments))
        r = await create(client, name="flaky", code=FLAKY, max_retries=3)
        assert r.status_code == 201, r.text
        # Warm, so no run comes near the timeout (this call fails: no headers in the event).
        await client.post("/api/v1/functions/flaky/invoke", headers=auth(), json={})
        trigger = await add_queue_trigger(client, "flaky", {"queue": queue_name})
        await wait_for(lambda: trigger["id"] in consuming(client), timeout_s=5)
        # Test-only peek: the broker closing the trigger's channel is what holding a
        # delivery past the timeout leads to (and the message then runs again).
        services = client.app.state.services  # type: ignore[attr-defined]
        channel = services.queues._consumers[trigger["id"]].channel
        closed: list[object] = []
        channel.close_callbacks.add(lambda _channel, exc=None: closed.append(exc))
        await probe  # the broker closes a channel that holds a message that long
        await restore("consumer_timeout")  # opened already: the trigger's channel keeps it
        await publish(amqp, queue_name, {"n": 1})  # no message_id: nothing de-duplicates

        async def succeeded() -> bool:
            return len(await queue_jobs(database_url, "success")) >= 1

        await wait_for(succeeded, timeout_s=30, interval_s=0.2)
        # A delivery closed in on would be back: running, waiting or in the delay queue.
        for queue in (queue_name, queue_name + ".fngate.retry"):
            assert await message_count(amqp, queue) == 0, queue
        assert closed == [], "the broker closed the trigger's channel: a delivery was held"
    jobs = await queue_jobs(database_url)
    assert [(j["status"], j["attempts"]) for j in jobs] == [
        ("failed", 1), ("failed", 2), ("success", 3)]
