"""Queue triggers against real PostgreSQL and RabbitMQ: jobs per message, acks, the
dead-letter queue, RPC replies, redelivery after a killed consumer, reloads."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest

from executors import RuntimeUnavailable, WorkerPools
from tests.conftest import running_app, wait_for
from tests.e2e.serve import Gateway, clean_env, free_port
from tests.integration.queue_support import (
    AMQP_URL,
    ECHO_EVENT,
    add_queue_trigger,
    consuming,
    message_count,
    publish,
    queue_jobs,
)
from tests.integration.test_functions_api import WRITER, create
from tests.tcp_proxy import TcpProxy
from triggers.queue import MAX_HANDLING_FAILURES

FAIL = "def handler(event):\n    raise ValueError('no: ' + str(event['body']))\n"
SLOW = ("import time\n\ndef handler(event):\n    time.sleep(event['body']['sleep'])\n"
        "    return {'slept': event['body']['sleep']}\n")


async def test_n_messages_make_n_successful_jobs_and_n_acks(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str
) -> None:
    n = 20
    async with running_app(queue_settings()) as client:
        assert (await create(client, name="consume", code=ECHO_EVENT)).status_code == 201
        trigger = await add_queue_trigger(client, "consume", {"queue": queue_name,
                                                              "prefetch": 5})
        assert trigger["config"] == {"queue": queue_name, "exchange": "", "routing_key": "",
                                     "prefetch": 5, "dead_letter": True}
        await wait_for(lambda: trigger["id"] in consuming(client), timeout_s=5)
        for i in range(n - 1):
            await publish(amqp, queue_name, {"i": i}, headers={"x-n": i}, message_id=f"m{i}")
        await publish(amqp, queue_name, None, raw=b"plain text")

        async def all_done() -> bool:
            return len(await queue_jobs(database_url, "success")) == n

        await wait_for(all_done, timeout_s=30)
        health = (await client.get("/health")).json()
        assert health["components"]["broker"] == "ok"
    # The app stopped: a message left unacknowledged would be back in the queue.
    assert await message_count(amqp, queue_name) == 0
    assert await message_count(amqp, queue_name + ".dlq") == 0
    results = [json.loads(r["result"]) for r in await queue_jobs(database_url)]
    bodies = sorted((r["body"] for r in results), key=str)
    assert {"i": 0} in bodies and "plain text" in bodies
    first = next(r for r in results if r["body"] == {"i": 3})
    assert first["trigger"] == "queue" and first["queue"] == queue_name
    assert first["routing_key"] == queue_name and first["message_id"] == "m3"
    assert first["headers"] == {"x-n": 3}


async def test_a_failing_function_lands_its_message_in_the_dlq_after_retries(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str
) -> None:
    async with running_app(queue_settings()) as client:
        r = await create(client, name="fails", code=FAIL, max_retries=2)
        assert r.status_code == 201, r.text
        trigger = await add_queue_trigger(client, "fails", {"queue": queue_name})
        await wait_for(lambda: trigger["id"] in consuming(client), timeout_s=5)
        await publish(amqp, queue_name, "bad", message_id="poison-1")

        async def dead_lettered() -> bool:
            return await message_count(amqp, queue_name + ".dlq") == 1

        await wait_for(dead_lettered, timeout_s=30)
    jobs = await queue_jobs(database_url)  # one job per attempt, each numbered
    assert [(j["status"], j["attempts"]) for j in jobs] == [("failed", n) for n in (1, 2, 3)]
    assert "no: bad" in jobs[2]["error"]
    assert await message_count(amqp, queue_name) == 0
    assert await message_count(amqp, queue_name + ".fngate.retry") == 0
    channel = await amqp.channel()
    dlq = await channel.declare_queue(queue_name + ".dlq", passive=True)
    message = await dlq.get(timeout=5)
    assert message is not None
    assert json.loads(message.body) == "bad"
    assert message.message_id == "poison-1"
    assert message.headers["x-fngate-error-code"] == "RUNTIME_ERROR"
    assert message.headers["x-fngate-reason"] == "failed"
    assert message.headers["x-fngate-attempt"] == 3
    assert message.headers["x-fngate-job-id"] == str(jobs[2]["id"])
    await message.ack()
    await channel.close()


async def test_a_message_for_a_function_whose_build_failed_is_dead_lettered(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str
) -> None:
    """It will not run until the function changes: the DLQ, not a requeue every second."""
    async with running_app(queue_settings()) as client:
        r = await create(client, name="unbuilt", code=ECHO_EVENT,
                         dependencies=["fngate-no-such-package-0"])
        assert r.status_code == 201, r.text

        async def build_failed() -> bool:
            got = await client.get("/api/v1/functions/unbuilt", headers=WRITER)
            return bool(got.json()["status"] == "failed")

        await wait_for(build_failed, timeout_s=120)
        trigger = await add_queue_trigger(client, "unbuilt", {"queue": queue_name})
        await wait_for(lambda: trigger["id"] in consuming(client), timeout_s=5)
        await publish(amqp, queue_name, {"n": 1}, message_id="unbuilt-1")

        async def dead_lettered() -> bool:
            return await message_count(amqp, queue_name + ".dlq") == 1

        await wait_for(dead_lettered, timeout_s=15)
    assert await message_count(amqp, queue_name) == 0
    assert await queue_jobs(database_url) == []  # refused before any job existed
    channel = await amqp.channel()
    message = await (await channel.declare_queue(queue_name + ".dlq", passive=True)).get(
        timeout=5)
    assert message is not None and message.message_id == "unbuilt-1"
    assert message.headers["x-fngate-error-code"] == "CONFLICT"
    assert message.headers["x-fngate-reason"] == "build_failed"
    await message.ack()
    await channel.close()


async def test_a_run_that_loses_its_runtime_is_dead_lettered_after_the_handling_cap(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The runnable check passes, then the run finds no runtime: a handling failure like
    the others, requeued and dead-lettered after MAX_HANDLING_FAILURES, not circled."""
    runs = 0

    async def runtime_gone(*_: Any, **__: Any) -> Any:
        nonlocal runs
        runs += 1
        raise RuntimeUnavailable("runtime 'python' is not available on this machine")

    async with running_app(queue_settings()) as client:
        assert (await create(client, name="lost", code=ECHO_EVENT)).status_code == 201
        monkeypatch.setattr(WorkerPools, "run", runtime_gone)
        trigger = await add_queue_trigger(client, "lost", {"queue": queue_name})
        await wait_for(lambda: trigger["id"] in consuming(client), timeout_s=5)
        await publish(amqp, queue_name, {"n": 1}, message_id="lost-1")

        async def dead_lettered() -> bool:
            return await message_count(amqp, queue_name + ".dlq") == 1

        await wait_for(dead_lettered, timeout_s=MAX_HANDLING_FAILURES * 2 + 10)
        assert runs == MAX_HANDLING_FAILURES
    assert await message_count(amqp, queue_name) == 0
    channel = await amqp.channel()
    message = await (await channel.declare_queue(queue_name + ".dlq", passive=True)).get(
        timeout=5)
    assert message is not None and message.message_id == "lost-1"
    assert message.headers["x-fngate-error-code"] == "INTERNAL_ERROR"
    assert "is not available" in message.headers["x-fngate-error"]
    await message.ack()
    await channel.close()


async def test_without_dead_letter_a_failed_message_is_rejected_not_copied(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str
) -> None:
    async with running_app(queue_settings()) as client:
        assert (await create(client, name="fails", code=FAIL)).status_code == 201
        trigger = await add_queue_trigger(client, "fails", {"queue": queue_name,
                                                            "dead_letter": False})
        await wait_for(lambda: trigger["id"] in consuming(client), timeout_s=5)
        await publish(amqp, queue_name, "x")

        async def failed() -> bool:
            return len(await queue_jobs(database_url, "failed")) == 1

        await wait_for(failed, timeout_s=20)
        await asyncio.sleep(0.3)
    assert await message_count(amqp, queue_name) == 0
    channel = await amqp.channel()
    with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
        await channel.declare_queue(queue_name + ".dlq", passive=True)


async def test_reply_to_gets_the_finished_job_with_the_correlation_id(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str
) -> None:
    channel = await amqp.channel()
    replies = await channel.declare_queue("", exclusive=True)
    async with running_app(queue_settings()) as client:
        assert (await create(client, name="rpc", code=ECHO_EVENT)).status_code == 201
        trigger = await add_queue_trigger(client, "rpc", {"queue": queue_name})
        await wait_for(lambda: trigger["id"] in consuming(client), timeout_s=5)
        await publish(amqp, queue_name, {"ask": 42}, reply_to=replies.name,
                      correlation_id="corr-7")

        async def reply() -> Any:
            return await replies.get(fail=False)

        message = await wait_for(reply, timeout_s=20)
    await message.ack()
    assert message.correlation_id == "corr-7"
    job = json.loads(message.body)
    assert job["status"] == "success" and job["trigger"] == "queue"
    assert job["result"]["body"] == {"ask": 42}
    await channel.close()


async def test_trigger_changes_apply_on_another_replica_within_5_s(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str
) -> None:
    async with running_app(queue_settings()) as one, running_app(queue_settings()) as two:
        assert (await create(one, name="shared", code=ECHO_EVENT)).status_code == 201
        trigger = await add_queue_trigger(one, "shared", {"queue": queue_name})
        await wait_for(lambda: trigger["id"] in consuming(two), timeout_s=5)
        for i in range(6):
            await publish(amqp, queue_name, i)

        async def done() -> bool:
            return len(await queue_jobs(database_url, "success")) == 6

        await wait_for(done, timeout_s=20)
        r = await one.put(f"/api/v1/functions/shared/triggers/{trigger['id']}",
                          headers=WRITER, json={"enabled": False})
        assert r.status_code == 200 and r.json()["enabled"] is False
        await wait_for(lambda: not consuming(two) and not consuming(one), timeout_s=5)
        await publish(amqp, queue_name, "after")
        await asyncio.sleep(0.5)
        assert await message_count(amqp, queue_name) == 1
        r = await one.delete(f"/api/v1/functions/shared/triggers/{trigger['id']}",
                             headers=WRITER)
        assert r.status_code == 204


async def test_shutdown_sends_in_flight_messages_back_to_the_queue_not_the_dlq(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str
) -> None:
    async with running_app(queue_settings(shutdown_grace_s=0.3)) as client:
        assert (await create(client, name="slow", code=SLOW)).status_code == 201
        trigger = await add_queue_trigger(client, "slow", {"queue": queue_name})
        await wait_for(lambda: trigger["id"] in consuming(client), timeout_s=5)
        await publish(amqp, queue_name, {"sleep": 1})
        await publish(amqp, queue_name, {"sleep": 1})

        async def running() -> bool:
            return len(await queue_jobs(database_url, "running")) == 2

        await wait_for(running, timeout_s=20)
    assert await message_count(amqp, queue_name) == 2
    assert await message_count(amqp, queue_name + ".dlq") == 0
    # Each job (keyed by its message id) waits for its message to come back.
    assert [j["status"] for j in await queue_jobs(database_url)] == ["running", "running"]
    async with running_app(queue_settings()):
        async def done() -> bool:
            return len(await queue_jobs(database_url, "success")) == 2

        await wait_for(done, timeout_s=20)
    jobs = await queue_jobs(database_url)
    assert [j["status"] for j in jobs] == ["success", "success"]
    assert [j["lost_leases"] for j in jobs] == [1, 1]  # taken over, not run as new jobs
    assert await message_count(amqp, queue_name) == 0


async def test_a_queue_job_without_a_message_id_is_failed_when_let_go(
    database_url: str
) -> None:
    """No key to find it by: its message runs again as a new job, so this one fails."""
    from gateway.store.jobs import JobStore, NewJob
    from gateway.store.pool import create_pool

    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        jobs = JobStore(pool)
        new = NewJob(id=uuid.uuid4(), function_id=1, function_name="f", version=1,
                     trigger="queue", owner="", subject=None, event={}, context={})
        job_id, token, existing = await jobs.start_keyed(new, key=None, lease_s=30)
        assert job_id == str(new.id) and token is not None and existing is None
        await jobs.abandon(str(new.id), token, {"code": "RUNTIME_ERROR", "message": "m",
                                                "details": {"type": "Requeued"}})
        job = await jobs.get(str(new.id))
        assert job is not None and job.status == "failed"
        assert job.error is not None and job.error["details"]["type"] == "Requeued"
        # A lost runner of an unkeyed queue job: the reaper fails it, never re-queues it.
        other = NewJob(id=uuid.uuid4(), function_id=1, function_name="f", version=1,
                       trigger="queue", owner="", subject=None, event={}, context={})
        await jobs.start_keyed(other, key=None, lease_s=0.01)
        await asyncio.sleep(0.05)
        assert str(other.id) in await jobs.release_expired()
        reaped = await jobs.get(str(other.id))
        assert reaped is not None and reaped.status == "failed"
        assert reaped.error is not None and reaped.error["details"]["type"] == "WorkerLost"
    finally:
        await pool.close()


async def test_a_killed_consumer_leaves_its_message_to_be_redelivered_and_run(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str,
    tmp_path: Path
) -> None:
    """A gateway process killed mid-job: the message comes back, its job is taken over."""
    env = {**clean_env(), "FNGATE_DATABASE_URL": database_url, "FNGATE_AMQP_URL": AMQP_URL,
           "FNGATE_JOB_LEASE_S": "3", "FNGATE_JOB_HEARTBEAT_S": "0.5",
           "FNGATE_RATE_LIMITS": "off", "FNGATE_JWT_SECRET": "test-secret-" + "x" * 40,
           "FNGATE_PREWARM_PER_RUNTIME": "1"}
    gateway = Gateway(tmp_path, env)
    try:
        await asyncio.to_thread(gateway.start)
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as first:
            assert (await create(first, name="slow", code=SLOW)).status_code == 201
            await add_queue_trigger(first, "slow", {"queue": queue_name})

            async def consumed_by_first() -> bool:
                return await message_count(amqp, queue_name) == 0

            await asyncio.sleep(2.5)  # the first replica's reload picks the trigger up
            await publish(amqp, queue_name, {"sleep": 1.5}, message_id="only-once")
            await wait_for(consumed_by_first, timeout_s=10)

            async def running() -> bool:
                return len(await queue_jobs(database_url, "running")) == 1

            await wait_for(running, timeout_s=20)
        gateway.kill()  # the gateway and its workers, mid-job
    finally:
        gateway.kill()
    async def back_in_queue() -> bool:  # unacknowledged, so the broker requeued it
        return await message_count(amqp, queue_name) == 1

    await wait_for(back_in_queue, timeout_s=10)
    async with running_app(queue_settings(job_lease_s=3.0)):
        async def succeeded() -> bool:
            return len(await queue_jobs(database_url, "success")) == 1

        await wait_for(succeeded, timeout_s=30)
    jobs = await queue_jobs(database_url)
    assert len(jobs) == 1, jobs  # the redelivery took the same job over
    assert jobs[0]["lost_leases"] == 1
    assert json.loads(jobs[0]["result"]) == {"slept": 1.5}
    assert await message_count(amqp, queue_name) == 0


async def test_queue_trigger_validation(queue_settings: Callable[..., Any],
                                        settings_factory: Callable[..., Any]) -> None:
    async with running_app(settings_factory()) as client:
        assert (await create(client, name="q", code=ECHO_EVENT)).status_code == 201
        r = await client.post("/api/v1/functions/q/triggers", headers=WRITER,
                              json={"type": "queue", "config": {"queue": "orders"}})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "INVALID_REQUEST"
        assert "FNGATE_AMQP_URL" in r.json()["error"]["message"]
    async with running_app(queue_settings()) as client:
        cases = [
            ({}, "'config.queue' is required"),
            ({"queue": ""}, "'config.queue' is required"),
            ({"queue": "has space"}, "'config.queue' must be"),
            ({"queue": "amq.x"}, "reserved"),
            ({"queue": "x.dlq"}, "dead-letter"),
            ({"queue": "x", "prefetch": 0}, "'config.prefetch'"),
            ({"queue": "x", "prefetch": True}, "'config.prefetch'"),
            ({"queue": "x", "dead_letter": "yes"}, "'config.dead_letter'"),
            ({"queue": "x", "routing_key": "k"}, "needs 'config.exchange'"),
            ({"queue": "x", "exchange": "e", "routing_key": "\u00e9" * 200}, "255 bytes"),
            ({"queue": "x", "exchange": "e", "routing_key": 0}, "255 bytes"),
            ({"queue": "x", "colour": 1}, "unknown queue config field(s): colour"),
        ]
        for config, message in cases:
            r = await client.post("/api/v1/functions/q/triggers", headers=WRITER,
                                  json={"type": "queue", "config": config})
            assert r.status_code == 400, (config, r.text)
            error = r.json()["error"]
            assert error["code"] == "INVALID_REQUEST" and message in error["message"], error


async def test_broker_down_is_reported_by_health(queue_settings: Callable[..., Any]) -> None:
    closed = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    async with running_app(queue_settings(amqp_url=closed)) as client:
        body = (await client.get("/health")).json()
        assert body["components"]["broker"] == "down"
        assert body["status"] == "degraded"


async def test_a_broken_broker_connection_loses_and_duplicates_nothing(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str
) -> None:
    """Messages in flight when the connection breaks come back; their jobs (keyed by
    message id) are found, not run again, and every message is acknowledged once."""
    async with TcpProxy(5672) as proxy:
        url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/"
        async with running_app(queue_settings(amqp_url=url)) as client:
            assert (await create(client, name="slow", code=SLOW)).status_code == 201
            trigger = await add_queue_trigger(client, "slow", {"queue": queue_name})
            await wait_for(lambda: trigger["id"] in consuming(client), timeout_s=5)
            for _ in range(4):
                await publish(amqp, queue_name, {"sleep": 1.5})

            async def all_running() -> bool:
                return len(await queue_jobs(database_url, "running")) == 4

            await wait_for(all_running, timeout_s=20)
            proxy.cut()

            async def broker_down_seen() -> bool:
                return bool((await client.get("/health")).json()["components"]["broker"]
                            == "down")

            await wait_for(broker_down_seen, timeout_s=5, interval_s=0.01)

            async def all_done() -> bool:
                return len(await queue_jobs(database_url, "success")) == 4

            await wait_for(all_done, timeout_s=30)

            async def drained() -> bool:
                return await message_count(amqp, queue_name) == 0

            await wait_for(drained, timeout_s=20)
            await asyncio.sleep(1.0)  # a duplicate run would show up as a fifth job
            health = (await client.get("/health")).json()
            assert health["components"]["broker"] == "ok"
    jobs = await queue_jobs(database_url)
    assert [j["status"] for j in jobs] == ["success"] * 4
    assert [j["lost_leases"] for j in jobs] == [0] * 4
    assert await message_count(amqp, queue_name) == 0
    assert await message_count(amqp, queue_name + ".dlq") == 0


async def test_awkward_messages_are_handled_not_circled(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str
) -> None:
    """NUL characters (which PostgreSQL cannot store) and a reused message id."""
    async with running_app(queue_settings()) as client:
        assert (await create(client, name="echo", code=ECHO_EVENT)).status_code == 201
        trigger = await add_queue_trigger(client, "echo", {"queue": queue_name})
        await wait_for(lambda: trigger["id"] in consuming(client), timeout_s=5)
        await publish(amqp, queue_name, None, raw=b'{"a": "x\\u0000y"}',
                      headers={"h": "p\x00q"}, message_id="reused")

        def done(n: int) -> Callable[[], Any]:
            async def check() -> bool:
                return len(await queue_jobs(database_url, "success")) == n
            return check

        await wait_for(done(1), timeout_s=20)
        # The same id published again is a new message: it runs again.
        await publish(amqp, queue_name, {"second": True}, message_id="reused")
        await wait_for(done(2), timeout_s=20)
    results = [json.loads(j["result"]) for j in await queue_jobs(database_url)]
    assert results[0]["body"] == {"a": "x\ufffdy"} and results[0]["headers"] == {"h": "p\ufffdq"}
    assert results[1]["body"] == {"second": True}
    assert await message_count(amqp, queue_name) == 0


async def test_a_deleted_dlq_is_declared_again_and_the_message_kept(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str
) -> None:
    async with running_app(queue_settings()) as client:
        assert (await create(client, name="fails", code=FAIL)).status_code == 201
        trigger = await add_queue_trigger(client, "fails", {"queue": queue_name})
        await wait_for(lambda: trigger["id"] in consuming(client), timeout_s=5)
        channel = await amqp.channel()
        await channel.queue_delete(queue_name + ".dlq")
        await channel.close()
        await publish(amqp, queue_name, "lost?")

        async def dead_lettered() -> bool:
            with contextlib.suppress(aio_pika.exceptions.ChannelNotFoundEntity):
                return await message_count(amqp, queue_name + ".dlq") == 1
            return False

        await wait_for(dead_lettered, timeout_s=20)
    assert await message_count(amqp, queue_name) == 0


async def test_one_trigger_that_cannot_consume_does_not_stop_the_others(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str
) -> None:
    locked = queue_name + "-locked"
    channel = await amqp.channel()
    await channel.declare_queue(locked, exclusive=True)  # no one else may consume it
    try:
        async with running_app(queue_settings()) as client:
            assert (await create(client, name="echo", code=ECHO_EVENT)).status_code == 201
            bad = await add_queue_trigger(client, "echo", {"queue": locked})
            good = await add_queue_trigger(client, "echo", {"queue": queue_name})
            await wait_for(lambda: good["id"] in consuming(client), timeout_s=5)
            assert bad["id"] not in consuming(client)
            await publish(amqp, queue_name, "through")

            async def done() -> bool:
                return len(await queue_jobs(database_url, "success")) == 1

            await wait_for(done, timeout_s=20)
    finally:
        await channel.close()


async def test_updating_a_trigger_lets_its_running_job_finish_once(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str
) -> None:
    async with running_app(queue_settings(shutdown_grace_s=0.2)) as client:
        assert (await create(client, name="slow", code=SLOW)).status_code == 201
        trigger = await add_queue_trigger(client, "slow", {"queue": queue_name})
        await wait_for(lambda: trigger["id"] in consuming(client), timeout_s=5)
        await publish(amqp, queue_name, {"sleep": 1.5})

        async def running() -> bool:
            return len(await queue_jobs(database_url, "running")) == 1

        await wait_for(running, timeout_s=20)
        r = await client.put(f"/api/v1/functions/slow/triggers/{trigger['id']}",
                             headers=WRITER, json={"name": "renamed"})
        assert r.status_code == 200

        async def done() -> bool:
            return len(await queue_jobs(database_url, "success")) == 1

        await wait_for(done, timeout_s=20)
        await asyncio.sleep(0.5)
    jobs = await queue_jobs(database_url)
    assert [(j["status"], j["lost_leases"]) for j in jobs] == [("success", 0)]
    assert await message_count(amqp, queue_name) == 0
