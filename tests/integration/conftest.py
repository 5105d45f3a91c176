"""Fixtures of the integration tier: a RabbitMQ connection and a queue of each test's own."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aio_pika
import pytest

from tests.conftest import need_service
from tests.integration.queue_support import AMQP_URL


@pytest.fixture
async def amqp() -> AsyncIterator[aio_pika.abc.AbstractConnection]:
    need_service("RabbitMQ", "127.0.0.1", 5672)
    connection = await aio_pika.connect(AMQP_URL)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def queue_name(amqp: aio_pika.abc.AbstractConnection) -> AsyncIterator[str]:
    """A queue of this test's own; deleted (with its DLQ and delay queue) afterwards."""
    name = f"fngate-test-{uuid.uuid4().hex[:10]}"
    yield name
    channel = await amqp.channel()
    for queue in (name, name + ".dlq", name + ".fngate.retry"):
        with contextlib.suppress(Exception):
            await channel.queue_delete(queue)
    with contextlib.suppress(Exception):
        await channel.close()


@pytest.fixture
def queue_settings(settings_factory: Callable[..., Any]) -> Callable[..., Any]:
    def factory(**overrides: Any) -> Any:
        overrides.setdefault("amqp_url", AMQP_URL)
        return settings_factory(**overrides)

    return factory
