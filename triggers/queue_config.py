"""Queue trigger configs: validated and normalized, with a clear reason when not."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["QueueConfig", "QueueConfigError", "parse_queue_config", "queue_config_of",
           "DEFAULT_PREFETCH", "DLQ_SUFFIX", "MAX_PREFETCH", "NAME_PATTERN", "RETRY_SUFFIX"]

DLQ_SUFFIX = ".dlq"
RETRY_SUFFIX = ".fngate.retry"  # the delay queue of triggers.queue_retry
MAX_PREFETCH = 1000
DEFAULT_PREFETCH = 10
_KEYS = {"queue", "exchange", "routing_key", "prefetch", "dead_letter"}
# AMQP short strings: up to 255 bytes; keep names printable and free of spaces.
NAME_PATTERN = r"^[A-Za-z0-9_.:/@-]{1,240}$"
_NAME_RE = re.compile(NAME_PATTERN)


class QueueConfigError(ValueError):
    """A queue trigger config that cannot be consumed; the message says why and ``field``
    which field of the trigger body it is about (``config`` when no one field)."""

    def __init__(self, message: str, *, field: str = "config") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueConfig:
    queue: str
    exchange: str
    routing_key: str
    prefetch: int
    dead_letter: bool

    @property
    def dead_letter_queue(self) -> str:
        return self.queue + DLQ_SUFFIX

    @property
    def binding_key(self) -> str:
        """The key the queue is bound with: the routing key, else the queue's name."""
        return self.routing_key or self.queue


def _name(config: dict[str, Any], key: str, *, required: bool) -> str:
    value = config.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise QueueConfigError(f"'config.{key}' must be a string", field=f"config.{key}")
    if not value:
        if required:
            raise QueueConfigError(f"'config.{key}' is required, e.g. \"orders\"",
                                   field=f"config.{key}")
        return ""
    if not _NAME_RE.fullmatch(value):
        raise QueueConfigError(
            f"'config.{key}' must be 1 to 240 characters among letters, digits and _.:/@-",
            field=f"config.{key}")
    if value.startswith("amq.") and key == "queue":
        raise QueueConfigError(f"'config.{key}' cannot start with 'amq.' (reserved by the "
                               "broker)", field=f"config.{key}")
    return value


def parse_queue_config(config: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a queue trigger's config; raises ``QueueConfigError``."""
    unknown = sorted(set(config) - _KEYS)
    if unknown:
        raise QueueConfigError(f"unknown queue config field(s): {', '.join(unknown)}"
                               f" (allowed: {', '.join(sorted(_KEYS))})")
    queue = _name(config, "queue", required=True)
    if queue.endswith(DLQ_SUFFIX):
        raise QueueConfigError(f"'config.queue' cannot be a dead-letter queue "
                               f"('{DLQ_SUFFIX}')", field="config.queue")
    if queue.endswith(RETRY_SUFFIX):
        raise QueueConfigError(f"'config.queue' cannot be a retry delay queue "
                               f"('{RETRY_SUFFIX}')", field="config.queue")
    exchange = _name(config, "exchange", required=False)
    routing_key = config.get("routing_key", "")
    if routing_key is None:
        routing_key = ""
    if not isinstance(routing_key, str) or len(routing_key.encode("utf-8")) > 255:
        raise QueueConfigError("'config.routing_key' must be a string of at most 255 bytes"
                               " (UTF-8)", field="config.routing_key")
    if routing_key and not exchange:
        raise QueueConfigError("'config.routing_key' needs 'config.exchange' to bind to",
                               field="config.routing_key")
    prefetch = config.get("prefetch", DEFAULT_PREFETCH)
    if isinstance(prefetch, bool) or not isinstance(prefetch, int) or not (
        1 <= prefetch <= MAX_PREFETCH
    ):
        raise QueueConfigError(f"'config.prefetch' must be an integer from 1 to "
                               f"{MAX_PREFETCH}", field="config.prefetch")
    dead_letter = config.get("dead_letter", True)
    if not isinstance(dead_letter, bool):
        raise QueueConfigError("'config.dead_letter' must be a boolean",
                               field="config.dead_letter")
    return {"queue": queue, "exchange": exchange, "routing_key": routing_key,
            "prefetch": prefetch, "dead_letter": dead_letter}


def queue_config_of(config: dict[str, Any]) -> QueueConfig:
    """A stored config as a ``QueueConfig`` (validated again: stored data may be old)."""
    return QueueConfig(**parse_queue_config(config))
