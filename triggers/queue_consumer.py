"""A queue trigger's consumer: its channel, queue and consumer, and the messages it is
working on; and the broker connection they share."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from gateway.store.triggers import TriggerRecord
from triggers.queue_config import QueueConfig
from triggers.queue_publish import declare_queue
from triggers.queue_retry import retry_queue_arguments, retry_queue_of

__all__ = ["BrokerConnection", "QueueConsumer"]

logger = logging.getLogger("fngate.queue")


class QueueConsumer:
    """One trigger's channel, queue and consumer, and the messages it is working on."""

    def __init__(self, trigger: TriggerRecord, config: QueueConfig,
                 handle: Callable[[QueueConsumer, AbstractIncomingMessage], Any]) -> None:
        self.trigger = trigger
        self.config = config
        self._handle = handle
        self.channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None
        self.inflight: set[asyncio.Task[None]] = set()

    async def start(self, connection: AbstractRobustConnection) -> None:
        config = self.config
        await declare_queue(connection, config.queue)
        if config.dead_letter:
            await declare_queue(connection, config.dead_letter_queue)
        await declare_queue(connection, retry_queue_of(config.queue),
                            retry_queue_arguments(config.queue))
        self.channel = await connection.channel()
        await self.channel.set_qos(prefetch_count=config.prefetch)
        self._queue = await self.channel.declare_queue(config.queue, passive=True)
        if config.exchange:
            exchange = await _ensure_exchange(connection, self.channel, config.exchange)
            await self._queue.bind(exchange, routing_key=config.binding_key)
        self._tag = await self._queue.consume(self._on_message, no_ack=False)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        # Run apart from aiormq's delivery task: a broken channel cancels those, and the
        # job must finish (its message comes back and finds it by its key).
        task = asyncio.create_task(self._handle(self, message),
                                   name=f"queue-{self.trigger.id}-message")
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)

    async def stop(self, grace_s: float | None) -> None:
        """Stop taking messages, let in-flight ones finish, requeue what is left."""
        if self._queue is not None and self._tag is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(self._tag)
        if self.inflight:
            await asyncio.wait(list(self.inflight), timeout=grace_s)  # None: until done
        leftover = list(self.inflight)
        for task in leftover:
            task.cancel()
        await asyncio.gather(*leftover, return_exceptions=True)
        if self.channel is not None:
            with contextlib.suppress(Exception):
                await self.channel.close()


class BrokerConnection(aio_pika.RobustConnection):
    """aio-pika's robust connection, whose finalizer acts only on its own running loop.

    The library's ``__del__`` hands a new ``close()`` coroutine to ``ensure_future``; when
    the garbage collector runs in another thread (the resolver's executor), nothing can
    run it and it is never awaited. Every connection here is closed explicitly, so the
    finalizer is only a last resort, taken where it can work.
    """

    def __del__(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return
        if running is self.loop:
            super().__del__()


async def _ensure_exchange(connection: AbstractRobustConnection, channel: AbstractChannel,
                           name: str) -> aio_pika.abc.AbstractExchange:
    """The named exchange; declared as a durable topic exchange when it does not exist."""
    probe = await connection.channel(publisher_confirms=False)
    try:
        await probe.get_exchange(name, ensure=True)
        exists = True
    except aiormq.exceptions.ChannelNotFoundEntity:
        exists = False
    finally:
        with contextlib.suppress(Exception):
            await probe.close()
    if exists:
        return await channel.get_exchange(name, ensure=False)
    return await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
