"""fngate's Python client: :class:`Client` and :class:`AsyncClient`, the API's models
(:mod:`fngate_client.models`, generated from ``/openapi.json``) and its errors."""

from fngate_client._ops_functions import AnyTrigger
from fngate_client._version import VERSION
from fngate_client.async_client import AsyncClient
from fngate_client.client import Client
from fngate_client.errors import (
    ApiError,
    BadResponse,
    Conflict,
    ConnectionFailed,
    FngateClientError,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
    WaitTimeout,
)

__all__ = ["VERSION", "AnyTrigger", "ApiError", "AsyncClient", "BadResponse", "Client",
           "Conflict", "ConnectionFailed", "FngateClientError", "Forbidden", "InvalidRequest",
           "NotFound", "RateLimited", "Unauthorized", "Unavailable", "WaitTimeout"]
