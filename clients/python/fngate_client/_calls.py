"""One API call as data (:class:`Call`), the retry policy, and :class:`Op`, which turns a
function describing a call into a method of both clients: declared once, typed as ``T`` on
:class:`~fngate_client.Client` and as ``Awaitable[T]`` on
:class:`~fngate_client.AsyncClient`."""

from __future__ import annotations

import email.utils
import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, ParamSpec, TypeVar, overload
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from fngate_client.errors import BadResponse, error_from_response

__all__ = ["NO_BODY", "AsyncSender", "Call", "Op", "SyncSender", "as_model", "nothing",
           "retry_delay", "segment"]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
P = ParamSpec("P")

#: A call without a request body (``None`` would be JSON ``null``).
NO_BODY: Any = object()

#: Longest wait between two tries of a 503, whatever ``Retry-After`` says.
MAX_RETRY_WAIT_S = 30.0


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """A request and how to read its successful answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] | None = None
    json: Any = NO_BODY
    headers: Mapping[str, str] = field(default_factory=dict)

    def request(self, client: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        params = {k: v for k, v in (self.params or {}).items() if v is not None}
        kwargs: dict[str, Any] = {"params": params, "headers": dict(self.headers)}
        if self.json is not NO_BODY:
            kwargs["json"] = self.json
        return client.build_request(self.method, self.path, **kwargs)

    def read(self, response: httpx.Response) -> T:
        """The parsed answer; the API's error as an exception."""
        if response.status_code >= 400:
            raise error_from_response(response)
        try:
            return self.parse(response)
        except (ValidationError, ValueError) as exc:
            raise BadResponse(f"{self.method} {self.path}: unexpected answer: {exc}") from None


def segment(value: str | int) -> str:
    """A path segment: a function's id, name or language_title, a job's id, …"""
    return quote(str(value), safe="")


def as_model(model: type[M], key: str | None = None) -> Callable[[httpx.Response], Any]:
    """Parse the body as ``model``; with ``key``, return that field of it."""

    def parse(response: httpx.Response) -> Any:
        value = model.model_validate_json(response.content)
        return getattr(value, key) if key else value

    return parse


def nothing(response: httpx.Response) -> None:
    """A 204."""
    return None


def retry_delay(response: httpx.Response, attempt: int, max_retries: int) -> float | None:
    """Seconds to wait before trying again, or None to give the answer back: a 503 is tried
    up to ``max_retries`` more times, after its ``Retry-After`` (seconds or an HTTP date)
    or an exponential backoff, never more than :data:`MAX_RETRY_WAIT_S`."""
    if response.status_code != 503 or attempt >= max_retries:
        return None
    backoff = 0.5 * 2 ** attempt
    header = response.headers.get("Retry-After", "").strip()
    if header.isdigit():
        backoff = float(header)
    elif header:
        when = email.utils.parsedate_to_datetime(header) if "," in header else None
        if when is not None:
            backoff = max(0.0, when.timestamp() - time.time())
    return float(min(backoff, MAX_RETRY_WAIT_S))


class SyncSender:
    """What :class:`Op` needs of a blocking client."""

    def _send(self, call: Call[T]) -> T:
        raise NotImplementedError


class AsyncSender:
    """What :class:`Op` needs of an asyncio client."""

    async def _send(self, call: Call[T]) -> T:
        raise NotImplementedError


class Op(Generic[P, T]):
    """A method of both clients made from ``build``, a function returning the :class:`Call`:
    the same parameters, its docstring, and the call's result (awaitable on the async one)."""

    def __init__(self, build: Callable[P, Call[T]]) -> None:
        self._build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Op[P, T]: ...

    @overload
    def __get__(self, obj: SyncSender, owner: type[Any]) -> Callable[P, T]: ...

    @overload
    def __get__(self, obj: AsyncSender, owner: type[Any]) -> Callable[P, Awaitable[T]]: ...

    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        if obj is None:
            return self
        build = self._build

        @functools.wraps(build)
        def method(*args: P.args, **kwargs: P.kwargs) -> Any:
            return obj._send(build(*args, **kwargs))

        return method
