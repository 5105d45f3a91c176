"""fngate_client without a gateway: its models match the gateway's /openapi.json, 503s are
retried after Retry-After, errors carry the API's code, the SSE decoder reads the log
stream's events."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from fngate_client import ApiError, BadResponse, Client, NotFound, Unavailable
from fngate_client._calls import retry_delay
from fngate_client._protocol import SseDecoder

ROOT = Path(__file__).resolve().parents[2]


def test_the_client_models_are_what_the_gateways_document_gives() -> None:
    """Fails when gateway/schemas change without regenerating fngate_client/models.py."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "clients/python/generate_models.py"), "--check"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def _answer(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={
        "error": {"code": "UNAVAILABLE", "message": "database down", "details": {"x": 1}},
        "request_id": "r-1"})


@pytest.mark.parametrize(("status", "headers", "attempt", "expected"), [
    (503, {"Retry-After": "2"}, 0, 2.0),
    (503, {}, 1, 1.0),
    (503, {"Retry-After": "3600"}, 0, 30.0),
    (503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0, 0.0),
    (503, {"Retry-After": "1"}, 3, None),
    (500, {"Retry-After": "1"}, 0, None),
    (429, {"Retry-After": "1"}, 0, None),
])
def test_only_a_503_is_tried_again_after_its_retry_after(
        status: int, headers: dict[str, str], attempt: int, expected: float | None) -> None:
    assert retry_delay(_answer(status, **headers), attempt, 3) == expected


def test_a_503_is_retried_then_the_answer_read() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if len(seen) < 3:
            return _answer(503, **{"Retry-After": "0"})
        return httpx.Response(200, json={"status": "ready"})

    with Client("http://gw", token="t0k", transport=httpx.MockTransport(handler)) as client:
        assert client.ready().status == "ready"
    assert seen == ["Bearer t0k"] * 3


def test_errors_carry_the_apis_code_status_details_and_request_id() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/gone"):
            return httpx.Response(404, json={"error": {
                "code": "FUNCTION_NOT_FOUND", "message": "function 'gone' does not exist",
                "details": {}}, "request_id": "abc"})
        if request.url.path == "/ready":
            return _answer(503, **{"Retry-After": "0"})
        return httpx.Response(502, text="<html>bad gateway</html>")

    with Client("http://gw", transport=httpx.MockTransport(handler), max_retries=1) as client:
        with pytest.raises(NotFound) as missing:
            client.get_function("gone")
        assert (missing.value.code, missing.value.status, missing.value.request_id) == (
            "FUNCTION_NOT_FOUND", 404, "abc")
        with pytest.raises(Unavailable) as down:
            client.ready()
        assert isinstance(down.value, ApiError) and down.value.details == {"x": 1}
        with pytest.raises(BadResponse, match="502 without the API's error body"):
            client.status()


def test_the_sse_decoder_yields_each_events_data_and_skips_comments() -> None:
    decoder = SseDecoder()
    lines = [": keep-alive", "", "data: {\"a\": 1}", "", "data:x", "data: y", "id: 3", ""]
    assert [decoder.feed(line) for line in lines] == [
        None, None, None, '{"a": 1}', None, None, None, "x\ny"]
