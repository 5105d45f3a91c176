"""The wire protocol between the gateway and a worker's runner program.

Every frame is a 4-byte big-endian length followed by that many bytes of
UTF-8 JSON (one object with a ``type`` tag). The gateway writes on one pipe
and reads on another; neither is the worker's stdin/stdout, which stay free
for whatever the function (or a child of it) prints. The runners
(``runners/python_runner.py``, ``runners/node_runner.js``) implement the same
frames by hand.

Sequence: runner → ``ready``; gateway → ``specialize``; runner →
``specialized``; then any number of gateway → ``call``, runner → ``log``* +
``result``. A load error (syntax error, missing handler) is remembered by
the runner and returned as the error of every call.
"""

from __future__ import annotations

import struct
from typing import Any, Literal, NotRequired, TypedDict

import orjson

__all__ = [
    "HEADER",
    "MAX_FRAME_BYTES",
    "CallContextFrame",
    "CallFrame",
    "ErrorFrame",
    "FrameDecoder",
    "FrameError",
    "InboundFrame",
    "LogFrame",
    "ReadyFrame",
    "ResultFrame",
    "SpecializeFrame",
    "SpecializedFrame",
    "encode",
]

HEADER = struct.Struct(">I")
# A frame can carry an event (request body) or a result; both are capped far
# below this by the gateway's settings. Anything bigger is a broken runner.
MAX_FRAME_BYTES = 64 * 1024 * 1024


class FrameError(Exception):
    """A peer sent something that is not a valid frame."""


# --- gateway → runner ------------------------------------------------------


class SpecializeFrame(TypedDict):
    """Load the function's code; sent once to a generic worker."""

    type: Literal["specialize"]
    code: str
    handler: str
    environment: dict[str, str]
    function_name: str
    version: int
    max_log_bytes: int
    max_result_bytes: int
    dependencies_path: NotRequired[str | None]


class CallContextFrame(TypedDict):
    """What the runner turns into the handler's ``context``."""

    job_id: str
    function_name: str
    version: int
    trigger: str
    deadline_ms: int
    sub: str | None
    extra: dict[str, Any]


class CallFrame(TypedDict):
    """Run the handler once."""

    type: Literal["call"]
    event: Any
    context: CallContextFrame


# --- runner → gateway ------------------------------------------------------


class ReadyFrame(TypedDict):
    """The runner started and waits for ``specialize``."""

    type: Literal["ready"]
    pid: int


class ErrorFrame(TypedDict):
    """An error of the user's code, as the runner saw it."""

    type: str
    message: str
    stack_trace: NotRequired[str | None]
    line: NotRequired[int | None]
    column: NotRequired[int | None]


class SpecializedFrame(TypedDict):
    """The code is loaded (``error`` set when loading failed)."""

    type: Literal["specialized"]
    error: NotRequired[ErrorFrame | None]
    # How long loading took in the worker: a call sent right behind the specialize
    # frame started that much after it was sent.
    load_ms: NotRequired[float]


class LogFrame(TypedDict):
    """One line the function printed."""

    type: Literal["log"]
    stream: Literal["stdout", "stderr"]
    message: str
    ts: float


class ResultFrame(TypedDict):
    """The outcome of one call; ``result`` when ``ok``, else ``error``."""

    type: Literal["result"]
    ok: bool
    result: NotRequired[Any]
    error: NotRequired[ErrorFrame]
    cpu_ms: NotRequired[float]
    max_rss: NotRequired[int]
    logs_truncated: NotRequired[bool]
    # The runner's state is unknown after this call (a Go or Rust panic): replace it.
    retire: NotRequired[bool]


InboundFrame = ReadyFrame | SpecializedFrame | LogFrame | ResultFrame


def encode(frame: SpecializeFrame | CallFrame) -> bytes:
    """Serialize one gateway → runner frame, header included."""
    body = orjson.dumps(frame, option=orjson.OPT_NON_STR_KEYS)
    return HEADER.pack(len(body)) + body


class FrameDecoder:
    """Incremental decoder: feed bytes, get whole frames (runner → gateway)."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[InboundFrame]:
        """Add bytes; return every frame now complete, in order."""
        buf = self._buf
        buf += data
        frames: list[InboundFrame] = []
        pos = 0
        end = len(buf)
        while end - pos >= 4:
            (size,) = HEADER.unpack_from(buf, pos)
            if size > MAX_FRAME_BYTES:
                raise FrameError(f"frame of {size} bytes")
            if end - pos - 4 < size:
                break
            body = memoryview(buf)[pos + 4 : pos + 4 + size]
            try:
                frame = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise FrameError(f"invalid frame: {exc}") from exc
            finally:
                body.release()
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise FrameError("frame without a type")
            frames.append(frame)  # type: ignore[arg-type]
            pos += 4 + size
        if pos:
            del buf[:pos]
        return frames
