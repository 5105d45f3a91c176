"""The delay queue's pieces: the attempt a delivery is, and the copy that waits out a
backoff."""

from __future__ import annotations

from typing import Any

import pytest
from aio_pika import DeliveryMode
from aio_pika.message import IncomingMessage
from aiormq.abc import DeliveredMessage
from pamqp.commands import Basic
from pamqp.header import ContentHeader

from triggers.queue_config import QueueConfigError, parse_queue_config
from triggers.queue_retry import (
    ATTEMPT_HEADER,
    attempt_of,
    retry_message,
    retry_queue_arguments,
    retry_queue_of,
)


def incoming(headers: dict[str, Any] | None, **properties: Any) -> Any:
    """A delivered message as the consumer gets it (no broker: nothing is settled)."""
    header = ContentHeader(properties=Basic.Properties(headers=headers, **properties))
    delivered = DeliveredMessage(
        delivery=Basic.Deliver(consumer_tag="t", delivery_tag=1, routing_key="orders"),
        header=header, body=b'{"n": 1}', channel=None)  # type: ignore[arg-type]
    return IncomingMessage(delivered, no_ack=True)


@pytest.mark.parametrize(("headers", "attempt"), [
    (None, 1), ({}, 1), ({ATTEMPT_HEADER: 3}, 3), ({ATTEMPT_HEADER: "2"}, 2),
    ({ATTEMPT_HEADER: b"4"}, 4), ({ATTEMPT_HEADER: "x"}, 1), ({ATTEMPT_HEADER: 0}, 1),
    ({ATTEMPT_HEADER: True}, 1), ({ATTEMPT_HEADER: 1.5}, 1),
])
def test_the_attempt_comes_from_the_header_and_defaults_to_the_first(
    headers: dict[str, Any] | None, attempt: int
) -> None:
    assert attempt_of(incoming(headers)) == attempt


def test_a_retry_copy_keeps_the_message_and_carries_its_next_attempt_and_backoff() -> None:
    original = incoming({"x-n": 1, ATTEMPT_HEADER: 1, "x-first-death-queue": "q.fngate.retry"},
                        message_id="m1", correlation_id="c1", reply_to="r",
                        content_type="application/json")
    copy = retry_message(original, attempt=2, delay_s=2.5)
    assert copy.body == original.body
    assert copy.headers == {"x-n": 1, ATTEMPT_HEADER: 2}
    assert (copy.message_id, copy.correlation_id, copy.reply_to) == ("m1", "c1", "r")
    assert copy.content_type == "application/json"
    assert copy.delivery_mode == DeliveryMode.PERSISTENT
    assert copy.properties.expiration == "2500"  # milliseconds, as the broker reads it


def test_the_delay_queue_dead_letters_back_to_its_source() -> None:
    assert retry_queue_of("orders") == "orders.fngate.retry"
    assert retry_queue_arguments("orders") == {"x-dead-letter-exchange": "",
                                               "x-dead-letter-routing-key": "orders"}


def test_a_delay_queue_cannot_be_a_trigger_s_queue() -> None:
    with pytest.raises(QueueConfigError, match="retry delay queue") as refused:
        parse_queue_config({"queue": "orders.fngate.retry"})
    assert refused.value.field == "config.queue"
