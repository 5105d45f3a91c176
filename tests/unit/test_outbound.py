"""Outgoing requests: the address rules, signatures, URL checks, the guarded transport,
the retry policy, and a webhook's secret kept out of output."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress

import httpx
import pytest

from gateway.core.errors import InvalidRequest
from gateway.schemas.webhooks import EVENTS
from gateway.services.outbound import BlockedAddress, UrlRefused, address_allowed, check_url, sign
from gateway.services.outbound import outbound_client as make_client
from gateway.services.webhooks import MAX_RETRIES, DeliveryRetry
from gateway.store.webhooks import WebhookRecord


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "192.0.2.1", "::1", "::",
    "fe80::1", "fc00::1", "fd12:3456::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "ff02::1",
    # IPv6 that embeds a private IPv4: NAT64, 6to4, IPv4-compatible, SIIT
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "::127.0.0.1", "::ffff:0:7f00:1",
])
def test_non_public_addresses_are_not_allowed(address: str) -> None:
    assert not address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_allowed(ipaddress.ip_address(address))


def test_sign_is_the_hex_hmac_sha256_of_the_body() -> None:
    body = b'{"event":"job.failed"}'
    expected = hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert sign("k3y", body) == "sha256=" + expected


@pytest.mark.parametrize(("url", "reason"), [
    ("ftp://example.com/", "scheme"), ("file:///etc/passwd", "scheme"),
    ("gopher://example.com/", "scheme"), ("", "invalid"), ("http://", "invalid"),
    ("http://" + "a" * 2050 + ".com/", "invalid"),
    ("http://127.0.0.1/", "private_address"), ("http://[::1]:8080/", "private_address"),
    ("http://10.0.0.8/", "private_address"), ("https://169.254.169.254/", "private_address"),
    ("http://[::ffff:192.168.0.1]/", "private_address"), ("http://localhost/",
                                                           "private_address"),
])
async def test_check_url_refuses(url: str, reason: str) -> None:
    with pytest.raises(UrlRefused) as caught:
        await check_url(url, allow_private=False)
    assert caught.value.reason == reason


async def test_check_url_allows_private_targets_when_configured() -> None:
    assert await check_url("http://127.0.0.1:9/x", allow_private=True) == "http://127.0.0.1:9/x"
    with pytest.raises(UrlRefused):
        await check_url("ftp://127.0.0.1/", allow_private=True)


async def test_check_url_accepts_a_public_literal_address() -> None:
    assert await check_url("https://8.8.8.8/hook?a=1", allow_private=False) == (
        "https://8.8.8.8/hook?a=1")


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/", "http://localhost:9/",
                                 "http://[::1]:9/"])
async def test_the_guarded_client_refuses_to_connect_to_private_addresses(url: str) -> None:
    async with make_client(allow_private=False, timeout_s=2) as client:
        with pytest.raises(BlockedAddress):
            await client.post(url, content=b"{}")


async def test_the_guarded_client_ignores_proxy_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://8.8.8.8:3128")
    monkeypatch.setenv("ALL_PROXY", "http://8.8.8.8:3128")
    async with make_client(allow_private=False, timeout_s=2) as client:
        assert client.follow_redirects is False
        with pytest.raises(BlockedAddress):  # the check, not a proxy, decides
            await client.get("http://127.0.0.1:9/")


async def test_an_unresolvable_host_is_a_connect_error() -> None:
    async with make_client(allow_private=True, timeout_s=2) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://no-such-host.invalid/")


def test_retry_doubles_then_gives_up_after_five_retries() -> None:
    policy = DeliveryRetry(2.0)
    assert [policy.delay(n) for n in range(1, MAX_RETRIES + 2)] == [2, 4, 8, 16, 32, None]
    assert DeliveryRetry(1000.0, cap_s=1500.0).delay(3) == 1500.0


def test_a_webhook_never_shows_its_secret() -> None:
    record = WebhookRecord(id=1, url="https://example.com/h", events=("job.failed",),
                           secret="very-secret", created_by="root",
                           created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    assert "very-secret" not in repr(record)
    from gateway.api.routes.webhooks import webhook_view
    from gateway.schemas.base import render

    assert render(webhook_view(record)) == {"id": 1, "url": "https://example.com/h",
                               "events": ["job.failed"], "secret": "***",
                               "project": None, "created_at": "2024-01-01T00:00:00.000Z"}


def test_openapi_documents_the_webhook_object_and_events() -> None:
    from gateway.api.openapi import build_openapi
    from gateway.api.routes import all_routes

    document = build_openapi("1", all_routes())
    schemas = document["components"]["schemas"]
    assert schemas["Webhook"]["required"] == ["id", "url", "events", "secret", "project",
                                                  "created_at"]
    assert schemas["WebhookEvent"]["enum"] == list(EVENTS)
    assert set(document["webhooks"]) == {"webhookDelivery", "jobCallback"}
    assert "X-Callback-URL" in document["components"]["parameters"]
    assert "not available" not in document["components"]["parameters"]["X-Callback-URL"][
        "description"]


def test_a_refused_url_is_a_400_naming_where_it_was_and_why() -> None:
    error = UrlRefused("the URL must be http or https", reason="scheme").invalid_request(
        header="X-Callback-URL")
    assert isinstance(error, InvalidRequest) and error.status == 400
    assert error.message == "the URL must be http or https"
    assert error.details == {"header": "X-Callback-URL", "reason": "scheme"}
