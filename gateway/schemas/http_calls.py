"""Wire models of a call to an HTTP trigger (``/fn/{path}``): its body and what it answers
are whatever the caller and the function make of them."""

from __future__ import annotations

from typing import Any

from pydantic import RootModel

__all__ = ["HttpTriggerBody", "HttpTriggerOutput"]


class HttpTriggerBody(RootModel[Any]):
    """Any body; JSON is parsed, other text passed as a string, anything else as base64
    (the event's `body`, with `isBase64Encoded`)."""


class HttpTriggerOutput(RootModel[Any]):
    """What the function returned: a result object with `statusCode` gives the status,
    `headers` and `body` (a string as it is, base64-decoded with `isBase64Encoded: true`,
    anything else as JSON); any other result is the body, as JSON."""
