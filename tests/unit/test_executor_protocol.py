"""The frame format shared with the runners: length-prefixed JSON, decoded incrementally."""

from __future__ import annotations

import orjson
import pytest

from executors import protocol


def raw(obj: object) -> bytes:
    body = orjson.dumps(obj)
    return protocol.HEADER.pack(len(body)) + body


def test_frames_split_anywhere_are_decoded_whole_and_in_order() -> None:
    data = raw({"type": "log", "stream": "stdout", "message": "héllo", "ts": 1.0}) + raw(
        {"type": "result", "ok": True, "result": [1, 2]}
    )
    for cut in range(len(data) + 1):
        dec = protocol.FrameDecoder()
        frames = dec.feed(data[:cut]) + dec.feed(data[cut:])
        assert [f["type"] for f in frames] == ["log", "result"]
        assert frames[0]["message"] == "héllo"  # type: ignore[typeddict-item]


def test_encode_writes_a_big_endian_length_header() -> None:
    frame: protocol.CallFrame = {
        "type": "call",
        "event": {"a": 1},
        "context": {
            "job_id": "j",
            "function_name": "f",
            "version": 1,
            "trigger": "http",
            "deadline_ms": 5,
            "sub": None,
            "extra": {},
        },
    }
    data = protocol.encode(frame)
    (size,) = protocol.HEADER.unpack(data[:4])
    assert size == len(data) - 4
    assert orjson.loads(data[4:]) == frame


@pytest.mark.parametrize(
    "data",
    [
        protocol.HEADER.pack(3) + b"{x}",
        raw([1, 2]),
        raw({"no": "type"}),
        protocol.HEADER.pack(protocol.MAX_FRAME_BYTES + 1),
    ],
)
def test_garbage_is_a_frame_error(data: bytes) -> None:
    with pytest.raises(protocol.FrameError):
        protocol.FrameDecoder().feed(data)
