"""The operator and provider views rendered from their models: the bodies they had."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from gateway.api.probes import ComponentStates
from gateway.schemas.base import render
from gateway.schemas.health import Health, RuntimeStates, SandboxStatus
from gateway.schemas.provider import Capabilities

_SANDBOX: dict[str, Any] = {
    "isolation": "namespaces", "status": "down", "error": "no user namespaces",
    "network_egress": "filtered", "per_worker_uid": True, "cpu_quota": False,
    "memory_limit": "rss-watchdog", "freezer": False,
}


def test_components_render_as_before() -> None:
    states = ComponentStates(database="ok", broker="disabled", scheduler="ok",
                             rate_limiter="down", sandbox="down",
                             runtimes={"python": "ok", "nodejs": "disabled"})
    assert render(states.view()) == {
        "database": "ok", "broker": "disabled", "scheduler": "ok", "rate_limiter": "down",
        "sandbox": "down", "runtimes": {"python": "ok", "nodejs": "disabled"},
        "controller": "ok", "postgres": "ok", "redis": "disabled",
    }


def test_components_also_carry_the_lambda_microservice_names() -> None:
    states = ComponentStates(database="down", broker="ok", scheduler="ok", rate_limiter="down",
                             redis="down", runtimes={"python": "ok", "nodejs": "ok"})
    body = render(states.view())
    assert (body["controller"], body["postgres"], body["redis"]) == ("ok", "down", "down")
    # The document's names add nothing to what is down.
    assert states.down() == ["database", "rate_limiter"]


def test_a_runtime_the_gateway_learns_is_listed_with_its_state() -> None:
    runtimes = RuntimeStates(python="ok", nodejs="ok", go="down")
    assert render(runtimes) == {"python": "ok", "nodejs": "ok", "go": "down"}
    with pytest.raises(ValidationError):
        RuntimeStates(python="ok", nodejs="ok", go="sleeping")


def test_health_renders_the_pools_sandbox_status_as_it_is() -> None:
    states = ComponentStates(database="down", broker="ok", scheduler="ok", rate_limiter="ok",
                             runtimes={"python": "ok", "nodejs": "ok"})
    body = render(Health(status=states.overall, version="1.2.3", components=states.view(),
                         isolation="namespaces", sandbox=SandboxStatus(**_SANDBOX)))
    assert list(body) == ["status", "version", "components", "isolation", "sandbox"]
    assert body["status"] == "down" and body["sandbox"] == _SANDBOX


def test_capabilities_keep_their_order_and_null_cold_start() -> None:
    body = render(Capabilities(
        name="fngate", version="1.2.3", supported_runtimes=["python"],
        supported_trigger_types=["http", "cron"], supports_async=True,
        supports_versioning=True, isolation="process", network_policies=["egress"],
        max_timeout_ms=300000, max_memory_mb=2048, max_payload_bytes=6291456,
        typical_cold_start_ms=None,
    ))
    assert list(body) == [
        "name", "version", "supported_runtimes", "supported_trigger_types", "supports_async",
        "supports_versioning", "isolation", "network_policies", "max_timeout_ms",
        "max_memory_mb", "max_payload_bytes", "typical_cold_start_ms"]
    assert body["typical_cold_start_ms"] is None and body["supports_async"] is True
