"""Helpers of the queue-trigger tests (their fixtures are in this folder's conftest)."""

from __future__ import annotations

import json
import os
from typing import Any

import aio_pika
import asyncpg
import httpx

from tests.integration.test_functions_api import WRITER

AMQP_URL = os.environ.get("FNGATE_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
ECHO_EVENT = "def handler(event):\n    return event\n"


async def add_queue_trigger(client: httpx.AsyncClient, fn: str, config: dict[str, Any],
                            **extra: Any) -> dict[str, Any]:
    r = await client.post(f"/api/v1/functions/{fn}/triggers", headers=WRITER,
                          json={"type": "queue", "config": config, **extra})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def consuming(client: httpx.AsyncClient) -> set[int]:
    ids: set[int] = client.app.state.services.queues.consuming_ids()  # type: ignore[attr-defined]
    return ids


async def publish(amqp: aio_pika.abc.AbstractConnection, queue: str, body: Any, *,
                  raw: bytes | None = None, **properties: Any) -> None:
    channel = await amqp.channel()
    payload = raw if raw is not None else json.dumps(body).encode()
    await channel.default_exchange.publish(
        aio_pika.Message(payload, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, **properties),
        routing_key=queue)
    await channel.close()


async def message_count(amqp: aio_pika.abc.AbstractConnection, queue: str) -> int:
    """Ready messages in ``queue`` (a plain channel: a robust one caches the count)."""
    channel = await amqp.channel()
    try:
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)
    finally:
        await channel.close()


async def queue_jobs(database_url: str, status: str | None = None) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT id, status, trigger, attempts, lost_leases, result::text AS result,"
            " error::text AS error FROM jobs WHERE trigger = 'queue'"
            " AND ($1::text IS NULL OR status = $1) ORDER BY timestamp", status)
        return list(rows)
    finally:
        await conn.close()
