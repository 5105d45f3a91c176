"""A stopped project's queue consumers pause (messages wait) and resume on start."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aio_pika

from tests.conftest import auth, running_app, wait_for
from tests.integration.queue_support import (
    ECHO_EVENT,
    add_queue_trigger,
    consuming,
    message_count,
    publish,
    queue_jobs,
)
from tests.integration.test_functions_api import create

ADMIN = auth("admin")


async def test_stopped_project_pauses_its_queue_consumers(
    queue_settings: Callable[..., Any], amqp: aio_pika.abc.AbstractConnection,
    queue_name: str, database_url: str,
) -> None:
    async with running_app(queue_settings()) as client:
        r = await create(client, name="consumer", code=ECHO_EVENT, project="shop")
        assert r.status_code == 201, r.text
        trigger = await add_queue_trigger(client, "consumer", {"queue": queue_name})
        await wait_for(lambda: trigger["id"] in consuming(client))

        assert (await client.post("/api/v1/projects/shop/stop", headers=ADMIN)).status_code \
            == 200
        await wait_for(lambda: trigger["id"] not in consuming(client), timeout_s=5)
        await publish(amqp, queue_name, {"n": 1})
        await asyncio.sleep(1.0)
        assert await message_count(amqp, queue_name) == 1  # waits in the queue
        assert await queue_jobs(database_url) == []

        assert (await client.post("/api/v1/projects/shop/start", headers=ADMIN)).status_code \
            == 200
        await wait_for(lambda: trigger["id"] in consuming(client), timeout_s=5)

        async def done() -> bool:
            return len(await queue_jobs(database_url, "success")) == 1

        await wait_for(done, timeout_s=15)
        assert await message_count(amqp, queue_name) == 0
