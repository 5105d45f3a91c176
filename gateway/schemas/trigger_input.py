"""A trigger create body into what the store keeps, for the ``triggers`` of a function
create (:mod:`gateway.schemas.function_input`); the model is
:class:`gateway.schemas.triggers.TriggerCreate`."""

from __future__ import annotations

from typing import Any

from config import Settings
from gateway.schemas.trigger_configs import HTTP_METHODS
from gateway.schemas.triggers import TriggerCreate, TriggerInput
from gateway.schemas.validation import parse

__all__ = ["TriggerInput", "parse_trigger", "HTTP_METHODS"]


def parse_trigger(body: Any, settings: Settings) -> TriggerInput:
    """A trigger create body as stored, or the API's 400 (``InvalidRequest``)."""
    return parse(TriggerCreate, body, context={"settings": settings}).root.stored()
