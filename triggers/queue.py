"""Queue triggers: a RabbitMQ consumer per enabled queue trigger, on every replica.

Each replica consumes every enabled trigger's queue with the trigger's prefetch, so the
broker spreads messages over replicas. Each message is a ``held`` invocation of the
invocation service (``Invoker.invoke``), keyed by the message and its attempt. A message
is acknowledged only after its job has finished: ``success`` acks it; ``failed`` with
retries left (the function's ``max_retries``) puts a copy in the delay queue
``<queue>.fngate.retry`` that comes back after the backoff (``triggers.queue_retry``),
then acks it; ``failed`` on the last attempt copies it to ``<queue>.dlq`` with the error
in its headers and then acks it (or rejects it without requeue when ``dead_letter`` is
false, so the queue's own policy applies). A message for a deleted function, or one whose
build failed, goes to the DLQ the same way. A message with ``reply_to`` gets each
finished Job back.

A message that carries a ``message_id`` is keyed by it: when it comes back (a consumer
died, or the broker connection broke before the ack reached it), its job is found rather
than run again. On shutdown, consumers stop taking messages; in-flight ones get a grace
period to finish and the rest go back to the queue unacknowledged (never to the DLQ).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import aiormq
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustConnection,
)
from yarl import URL

from gateway.core.errors import Conflict, InvalidRuntime, ProjectStopped, RuntimeLost
from gateway.core.jsoncodec import dumps
from gateway.core.models import Invocation
from gateway.schemas.jobs import render_job
from gateway.services.dispatcher import RetryPolicy
from gateway.services.invocation import Invoker
from gateway.store.functions import FunctionStore
from gateway.store.triggers import TriggerRecord, TriggerStore
from triggers.queue_config import QueueConfig, QueueConfigError, queue_config_of
from triggers.queue_consumer import BrokerConnection, QueueConsumer
from triggers.queue_message import dead_letter_message, queue_event, reply_message
from triggers.queue_publish import QueuePublisher
from triggers.queue_retry import (
    attempt_of,
    retry_message,
    retry_queue_arguments,
    retry_queue_of,
)

__all__ = ["BrokerConnection", "QueueService"]

logger = logging.getLogger("fngate.queue")

# Outcome of one message: ack | retry | dlq | requeue (the metric's label values).
Outcome = Literal["ack", "retry", "dlq", "requeue"]
_FAILURES_DOWN = 3
# Times the gateway may fail on one message before it goes to the DLQ.
MAX_HANDLING_FAILURES = 5


def _message_key(message: AbstractIncomingMessage) -> str:
    """Names a message across deliveries: its id, else a digest of what it carries."""
    if message.message_id:
        return "id:" + message.message_id
    digest = hashlib.sha256(message.body)
    digest.update((message.routing_key or "").encode())
    return "body:" + digest.hexdigest()


class QueueService:
    """Consumes every enabled queue trigger and settles each message by its job."""

    def __init__(self, *, amqp_url: str | None, triggers: TriggerStore,
                 functions: FunctionStore, invoker: Invoker, reload_s: float = 2.0,
                 grace_s: float = 10.0, retry: RetryPolicy | None = None,
                 on_outcome: Callable[[str, Outcome], None] | None = None,
                 paused_functions: Callable[[], Awaitable[set[int]]] | None = None) -> None:
        self._url = amqp_url
        self._triggers = triggers
        self._functions = functions
        self._invoker = invoker
        self._retry = retry or RetryPolicy()
        self._reload_s = reload_s
        self._grace_s = grace_s
        self._on_outcome = on_outcome
        # Ids of functions whose consumers pause (their project is stopped).
        self._paused_functions = paused_functions
        self._connection: AbstractRobustConnection | None = None
        self._publisher: QueuePublisher | None = None
        self._consumers: dict[int, QueueConsumer] = {}
        self._broken: dict[int, Any] = {}  # trigger id -> updated_at of a config that failed
        self._task: asyncio.Task[None] | None = None
        self._stopping: set[asyncio.Task[None]] = set()
        self._retired: set[QueueConsumer] = set()  # stopped by a reload, jobs still running
        # Handling failures per message (a poison message: dead-lettered after a few).
        self._failed_handling: dict[str, int] = {}
        self._reload_lock = asyncio.Lock()
        self._poked = asyncio.Event()
        self._failures = 0

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        """Connect (retrying in the background) and keep the consumers in step."""
        if self._url:
            self._task = asyncio.create_task(self._run(), name="queue-triggers")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        consumers = [*self._consumers.values(), *self._retired]
        self._consumers.clear()
        await asyncio.gather(*(c.stop(self._grace_s) for c in consumers),
                             return_exceptions=True)
        for task in list(self._stopping):
            task.cancel()
        await asyncio.gather(*self._stopping, return_exceptions=True)
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None

    def status(self) -> Literal["ok", "down", "disabled"]:
        """``disabled`` without a broker URL; ``down`` while the broker is unreachable."""
        if not self._url:
            return "disabled"
        connection = self._connection
        if connection is None or connection.is_closed or not connection.connected.is_set():
            return "down"
        return "down" if self._failures >= _FAILURES_DOWN else "ok"

    def consuming_ids(self) -> set[int]:
        """Ids of the triggers this replica consumes (for tests and diagnostics)."""
        return set(self._consumers)

    async def _run(self) -> None:
        assert self._url
        while self._publisher is None:
            # Built and connected in two steps so a failed attempt is closed, not left
            # to the garbage collector outside the loop.
            connection = BrokerConnection(URL(self._url), reconnect_interval=1)
            try:
                await connection.connect()
                # Unroutable publishes (a deleted DLQ) raise instead of vanishing.
                self._publisher = QueuePublisher(
                    connection, await connection.channel(on_return_raises=True))
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    await connection.close()
                if not isinstance(exc, Exception):
                    raise  # cancelled (shutdown) while connecting: closed all the same
                logger.warning("broker unreachable; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)
                continue
            self._connection = connection
        while True:
            self._poked.clear()
            try:
                await self.reload()
            except Exception as exc:
                self._failures += 1
                logger.warning("reloading queue triggers failed", extra={"error": repr(exc)})
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._reload_s):
                    await self._poked.wait()

    def poke(self, kind: str, _ident: int | None, _sender: int | None = None) -> None:
        """A change subscriber: reload now when a trigger (or anything unknown) changed."""
        if kind in ("trigger", "function", "project", "*"):
            self._poked.set()

    async def _retire(self, consumer: QueueConsumer) -> None:
        try:
            await consumer.stop(None)
        finally:
            self._retired.discard(consumer)

    # -- reload -------------------------------------------------------------------

    async def reload(self) -> None:
        """Apply the enabled queue triggers as stored: start, restart and stop consumers."""
        async with self._reload_lock:
            records = {r.id: r for r in await self._triggers.enabled_of_type("queue")}
            if self._paused_functions is not None:
                paused = await self._paused_functions()
                records = {i: r for i, r in records.items() if r.function_id not in paused}
            self._failures = 0
            for trigger_id in list(self._consumers):
                record = records.get(trigger_id)
                current = self._consumers[trigger_id].trigger
                if record is None or record.updated_at != current.updated_at:
                    consumer = self._consumers.pop(trigger_id)
                    # Nothing new arrives; in-flight messages finish however long they
                    # take (cutting them short would run them again). Only a shutdown
                    # hands them back after the grace period.
                    self._retired.add(consumer)
                    task = asyncio.create_task(self._retire(consumer),
                                               name=f"queue-{trigger_id}-retire")
                    self._stopping.add(task)
                    task.add_done_callback(self._stopping.discard)
                    logger.info("queue trigger %s stopped", trigger_id)
            for record in records.values():
                if record.id in self._consumers or self._broken.get(record.id) == \
                        record.updated_at:
                    continue
                await self._start_consumer(record)

    async def _start_consumer(self, record: TriggerRecord) -> None:
        assert self._connection is not None
        try:
            config = queue_config_of(record.config)
        except QueueConfigError as exc:
            logger.error("queue trigger %s has an invalid config: %s", record.id, exc)
            self._broken[record.id] = record.updated_at
            return
        consumer = QueueConsumer(record, config, self._handle)
        try:
            await consumer.start(self._connection)
        except Exception as exc:
            # A broker refusal (an exchange of another type…) or a value the client
            # refuses is the config's fault: retried when the trigger changes. A lost
            # connection is retried at the next reload. Other triggers go on either way.
            if not isinstance(exc, aiormq.exceptions.AMQPConnectionError | ConnectionError):
                self._broken[record.id] = record.updated_at
            logger.error("queue trigger %s cannot consume '%s': %r", record.id, config.queue,
                         exc)
            await consumer.stop(0)
            return
        self._broken.pop(record.id, None)
        self._consumers[record.id] = consumer
        logger.info("queue trigger %s consuming '%s' (prefetch %s)", record.id, config.queue,
                    config.prefetch)

    # -- messages -----------------------------------------------------------------

    async def _handle(self, consumer: QueueConsumer, message: AbstractIncomingMessage) -> None:
        config = consumer.config
        try:
            outcome = await self._process(consumer, message)
        except asyncio.CancelledError:
            await asyncio.shield(self._settle(message, "requeue", copied_to_dlq=False))
            raise
        except Exception as exc:
            outcome = await self._failed_handling_of(consumer, message, exc)
        await self._settle(message, outcome, copied_to_dlq=config.dead_letter)
        if self._on_outcome is not None:
            self._on_outcome(config.queue, outcome)

    async def _failed_handling_of(self, consumer: QueueConsumer, message: AbstractIncomingMessage,
                                  exc: Exception) -> Outcome:
        """The gateway itself failed on a message: requeue it, dead-letter it after a few.

        A database outage fails every message for a while (each waits a second before it
        goes back); a message that fails alone again and again (one the store cannot take)
        must not circle forever, nor stop the queue.
        """
        key = _message_key(message)
        failures = self._failed_handling.get(key, 0) + 1
        logger.error("queue trigger %s: handling a message failed (%s time(s)): %r",
                     consumer.trigger.id, failures, exc)
        if failures < MAX_HANDLING_FAILURES:
            if len(self._failed_handling) >= 10_000:
                self._failed_handling.clear()
            self._failed_handling[key] = failures
            await asyncio.sleep(1.0)
            return "requeue"
        self._failed_handling.pop(key, None)
        error = {"code": "INTERNAL_ERROR",
                 "message": f"the gateway could not handle this message: {exc!r}"[:500],
                 "details": {}}
        try:
            return await self._dead_letter(consumer.config, message, error, None,
                                           reason="handling_failed")
        except Exception as dlq_exc:
            logger.error("dead-lettering a poison message failed: %r", dlq_exc)
            await asyncio.sleep(1.0)
            return "requeue"

    async def _process(self, consumer: QueueConsumer, message: AbstractIncomingMessage) -> Outcome:
        trigger, config = consumer.trigger, consumer.config
        # The store's cache: no query per message, dropped on any change of it.
        function = await self._functions.get(str(trigger.function_id))
        if function is None:
            # Deleted (its trigger goes with it, at the next reload): it will never run,
            # and requeued it would come straight back.
            error = {"code": "FUNCTION_NOT_FOUND",
                     "message": f"function {trigger.function_id} was deleted", "details": {}}
            return await self._dead_letter(config, message, error, None,
                                           reason="function_deleted")
        attempt = attempt_of(message)
        key = None
        if message.message_id:  # each attempt is its own job, found again by its key
            key = f"{trigger.id}:{message.message_id}"
            key += f":{attempt}" if attempt > 1 else ""
        try:
            invoked = await self._invoker.invoke(Invocation(
                function=function, event=queue_event(config.queue, message), trigger="queue",
                mode="held", source_key=key, redelivered=bool(message.redelivered),
                attempt=attempt,
            ))
        except ProjectStopped:
            # Its consumer is about to pause: the message waits in the queue, not the DLQ.
            await asyncio.sleep(1.0)
            return "requeue"
        except RuntimeLost:
            # The runtime vanished in mid-run (its job was let go): a handling failure,
            # requeued and dead-lettered after MAX_HANDLING_FAILURES like the others.
            raise
        except (Conflict, InvalidRuntime) as exc:
            # Refused by the runnable check, before any job exists.
            if function.status == "failed":  # its build failed: no run until it changes
                error = {"code": exc.code, "message": str(exc), "details": {}}
                return await self._dead_letter(config, message, error, None,
                                               reason="build_failed")
            # Still building, or its runtime is missing on this replica (another may
            # have it): the message waits in the queue.
            await asyncio.sleep(1.0)
            return "requeue"
        job = invoked.job
        self._failed_handling.pop(_message_key(message), None)
        if job.status not in ("success", "failed"):
            return "requeue"  # another delivery of it is running the job
        delay = None
        if job.status == "failed":
            delay = self._retry.delay(failures=attempt, max_retries=function.max_retries)
        if delay is not None:
            # Confirmed in the delay queue before the ack: never lost, never held.
            assert self._publisher is not None
            await self._publisher.publish(
                retry_message(message, attempt=attempt + 1, delay_s=delay),
                retry_queue_of(config.queue), arguments=retry_queue_arguments(config.queue))
            return "retry"
        if message.reply_to:
            assert self._publisher is not None
            await self._publisher.reply(
                reply_message(job, dumps(render_job(job)), message.correlation_id),
                message.reply_to)
        if job.status == "success":
            return "ack"
        return await self._dead_letter(config, message, job.error or {}, job.id,
                                       reason="failed")

    async def _dead_letter(self, config: QueueConfig, message: AbstractIncomingMessage,
                           error: dict[str, Any], job_id: str | None, *,
                           reason: str) -> Outcome:
        """Copy ``message`` to the DLQ with why (confirmed; a failure goes up and the
        message is requeued, never lost), or leave it to the queue's own policy."""
        if config.dead_letter:
            assert self._publisher is not None
            await self._publisher.publish(
                dead_letter_message(message, queue=config.queue, error=error, job_id=job_id,
                                    reason=reason, attempt=attempt_of(message)),
                config.dead_letter_queue)
        return "dlq"

    @staticmethod
    async def _settle(message: AbstractIncomingMessage, outcome: Outcome, *,
                      copied_to_dlq: bool) -> None:
        try:
            if outcome in ("ack", "retry") or (outcome == "dlq" and copied_to_dlq):
                await message.ack()
            elif outcome == "dlq":  # no dead_letter: the queue's own policy applies
                await message.reject(requeue=False)
            else:
                await message.nack(requeue=True)
        except Exception as exc:
            # The channel died: the broker requeued the message, and its key finds its job.
            logger.warning("settling a message (%s) failed", outcome, extra={"error": repr(exc)})
