"""Queue retries that release the message: a delay queue per trigger queue.

A failed run with retries left is not slept on while the delivery is held (past the
broker's ``consumer_timeout`` the channel would be closed and the message run again).
Its copy is published, confirmed, to ``<queue>.fngate.retry`` with a per-message
``expiration`` (the backoff) and the attempt it will be in ``x-fngate-attempt``; then the
original is acknowledged. The delay queue has no consumer: an expired copy is
dead-lettered by the broker back to the source queue through the default exchange, and
runs as the next attempt. The attempt travels with the message, so a restarted gateway
goes on counting where the last one stopped.

Expiry happens at the head of the queue only: a copy waits at least its backoff, and at
most the longest backoff queued ahead of it.
"""

from __future__ import annotations

from typing import Any

from aio_pika import DeliveryMode, Message
from aio_pika.abc import AbstractIncomingMessage

from triggers.queue_config import RETRY_SUFFIX

__all__ = ["ATTEMPT_HEADER", "RETRY_SUFFIX", "attempt_of", "retry_message",
           "retry_queue_arguments", "retry_queue_of"]

ATTEMPT_HEADER = "x-fngate-attempt"
# Headers the broker adds on dead-lettering; a copy starts without the last round's.
_BROKER_HEADERS = ("x-first-death-exchange", "x-first-death-queue", "x-first-death-reason")


def retry_queue_of(queue: str) -> str:
    """The delay queue of ``queue``."""
    return queue + RETRY_SUFFIX


def retry_queue_arguments(queue: str) -> dict[str, Any]:
    """Arguments of ``queue``'s delay queue: expired copies go back to ``queue``."""
    return {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue}


def attempt_of(message: AbstractIncomingMessage) -> int:
    """Which attempt this delivery is (1 for a message as its producer sent it)."""
    value = (message.headers or {}).get(ATTEMPT_HEADER)
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("ascii", "replace")
    if isinstance(value, bool) or not isinstance(value, int | str):
        return 1  # absent, or not a count: the producer's own header
    try:
        return max(1, int(value))
    except ValueError:
        return 1


def retry_message(message: AbstractIncomingMessage, *, attempt: int,
                  delay_s: float) -> Message:
    """A copy of ``message`` to run as ``attempt`` after ``delay_s`` in the delay queue."""
    headers = {k: v for k, v in (message.headers or {}).items() if k not in _BROKER_HEADERS}
    headers[ATTEMPT_HEADER] = attempt
    return Message(
        message.body, headers=headers, content_type=message.content_type,
        content_encoding=message.content_encoding, message_id=message.message_id,
        correlation_id=message.correlation_id, reply_to=message.reply_to,
        delivery_mode=DeliveryMode.PERSISTENT, type=message.type, app_id=message.app_id,
        timestamp=message.timestamp, priority=message.priority,
        expiration=max(1, round(delay_s * 1000)) / 1000,
    )
