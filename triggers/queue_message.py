"""What a queue message becomes: the function's event, and the messages sent back."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from collections.abc import Mapping
from typing import Any

import orjson
from aio_pika import DeliveryMode, Message
from aio_pika.abc import AbstractIncomingMessage

from gateway.core.models import Job

__all__ = ["queue_event", "reply_message", "dead_letter_message", "jsonable"]

JSON = "application/json"


def jsonable(value: Any) -> Any:
    """An AMQP header value as JSON: bytes as text, times as RFC 3339, decimals as numbers."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def _body(raw: bytes) -> tuple[Any, bool]:
    """The body as JSON when it is JSON, a string when it is text, else base64."""
    if raw:
        try:
            return orjson.loads(raw), False
        except orjson.JSONDecodeError:
            pass
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), True


def queue_event(queue: str, message: AbstractIncomingMessage) -> dict[str, Any]:
    """The event of API.md for a message taken from ``queue``."""
    body, is_base64 = _body(message.body)
    event: dict[str, Any] = {
        "trigger": "queue",
        "queue": queue,
        "routing_key": message.routing_key or "",
        "message_id": message.message_id,
        "correlation_id": message.correlation_id,
        "redelivered": bool(message.redelivered),
        "headers": jsonable(dict(message.headers or {})),
        "body": body,
    }
    if is_base64:
        event["isBase64Encoded"] = True
    if b"\\u0000" in orjson.dumps(event):
        # PostgreSQL cannot store NUL in jsonb: shown as U+FFFD, as in logs.
        event = _without_nul(event)
    return event


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def reply_message(job: Job, body: bytes, correlation_id: str | None) -> Message:
    """The finished job (``body``: its JSON), sent to a message's ``reply_to`` with its
    correlation id."""
    return Message(body, content_type=JSON,
                   correlation_id=correlation_id,
                   headers={"x-fngate-job-id": job.id, "x-fngate-status": job.status})


def dead_letter_message(message: AbstractIncomingMessage, *, queue: str,
                        error: dict[str, Any], job_id: str | None, reason: str,
                        attempt: int) -> Message:
    """A copy of a message that failed for good, with why it failed in its headers:
    ``x-fngate-reason`` (``failed``: its runs failed; ``function_deleted``,
    ``build_failed``, ``handling_failed``), ``x-fngate-attempt`` (the runs it had), the
    error's code and message, and the last job's id."""
    headers = dict(message.headers or {})
    headers.update({
        "x-fngate-queue": queue,
        "x-fngate-reason": reason,
        "x-fngate-attempt": attempt,
        "x-fngate-error-code": str(error.get("code", "RUNTIME_ERROR")),
        "x-fngate-error": str(error.get("message", ""))[:1000],
    })
    if job_id is not None:
        headers["x-fngate-job-id"] = job_id
    return Message(
        message.body, headers=headers, content_type=message.content_type,
        content_encoding=message.content_encoding, message_id=message.message_id,
        correlation_id=message.correlation_id, reply_to=message.reply_to,
        delivery_mode=DeliveryMode.PERSISTENT, type=message.type, app_id=message.app_id,
        timestamp=message.timestamp,
    )
