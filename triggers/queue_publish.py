"""What the queue consumers publish: retries, dead letters and replies, each confirmed."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import aio_pika
import aiormq
from aio_pika import Message
from aio_pika.abc import AbstractChannel, AbstractRobustConnection

__all__ = ["QueuePublisher", "declare_queue"]

logger = logging.getLogger("fngate.queue")


async def declare_queue(connection: AbstractRobustConnection, name: str,
                        arguments: dict[str, Any] | None = None) -> None:
    """Declare a durable queue; an existing one with other arguments is used as it is."""
    channel = await connection.channel(publisher_confirms=False)
    try:
        await channel.declare_queue(name, durable=True, arguments=arguments)
    except aiormq.exceptions.ChannelPreconditionFailed:
        logger.info("queue %s exists with other arguments; using it as it is", name)
    finally:
        with contextlib.suppress(Exception):
            await channel.close()


class QueuePublisher:
    """Publishes to a queue through the default exchange and waits for the broker's
    confirm; a queue that went missing (unroutable) is declared again, once."""

    def __init__(self, connection: AbstractRobustConnection,
                 channel: AbstractChannel) -> None:
        # ``channel`` confirms publishes and raises on returned (unroutable) ones.
        self._connection = connection
        self._channel = channel

    async def publish(self, message: Message, queue: str, *,
                      arguments: dict[str, Any] | None = None) -> None:
        """Put ``message`` in ``queue`` (declared with ``arguments`` if it is gone); raises
        when the broker does not take it, so its source is never acknowledged."""
        try:
            await self._channel.default_exchange.publish(message, routing_key=queue)
        except aio_pika.exceptions.DeliveryError:
            await declare_queue(self._connection, queue, arguments)
            await self._channel.default_exchange.publish(message, routing_key=queue)

    async def reply(self, message: Message, reply_to: str) -> None:
        """Send ``message`` to a caller's ``reply_to``; a caller gone away is only logged."""
        try:
            await self._channel.default_exchange.publish(message, routing_key=reply_to)
        except Exception as exc:  # the caller went away: the job still counts
            logger.warning("reply to %s failed", reply_to, extra={"error": repr(exc)})
