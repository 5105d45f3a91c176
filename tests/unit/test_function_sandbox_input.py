"""Sandbox settings of a function body (network, storage, CPU, `resources`) and their way
into the executor's CodeSpec; no I/O."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

from config import load
from gateway.core.errors import InvalidRequest
from gateway.core.models import FunctionRecord
from gateway.schemas.base import render
from gateway.schemas.function_view import function_view
from gateway.schemas.functions import FunctionCreate, FunctionUpdate
from gateway.schemas.validation import parse
from gateway.services.dispatcher import code_spec


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    return load({}, toml_path=tmp_path / "none.toml")


def _update(body: Any, settings: Any) -> FunctionUpdate:
    return parse(FunctionUpdate, body, context={"settings": settings})


def test_create_defaults(settings: Any) -> None:
    columns = parse(FunctionCreate, {"name": "f", "runtime": "python", "code": "x"},
                    context={"settings": settings}).columns()
    assert columns["network"] == "egress"
    assert columns["ephemeral_storage_mb"] == 512
    assert columns["cpu_millis"] == 1000 and columns["memory_mb"] == 256


def test_update_sets_only_what_was_sent(settings: Any) -> None:
    parsed = _update({"resources": {"cpu": "0.25", "memory": "1Gi"}, "network": "none"},
                     settings)
    assert parsed.columns() == {"cpu_millis": 250, "memory_mb": 1024, "network": "none"}
    assert not parsed.changes_code
    assert _update({"ephemeral_storage_mb": 64}, settings).columns() == {
        "ephemeral_storage_mb": 64}


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"network": "wifi"}, "network", "'egress' or 'none'"),
    ({"ephemeral_storage_mb": 0}, "ephemeral_storage_mb", "greater than or equal to 16"),
    ({"ephemeral_storage_mb": 10241}, "ephemeral_storage_mb", "between 16 and 10240"),
    ({"ephemeral_storage_mb": "x"}, "ephemeral_storage_mb", "integer"),
    ({"cpu_millis": 0}, "cpu_millis", "greater than or equal to 10"),
    ({"resources": {"cpu": "0"}}, "resources.cpu", "between 10m and 64000m"),
    ({"resources": {"cpu": "-1"}}, "resources.cpu", "CPU quantity"),
    ({"resources": {"cpu": "abc"}}, "resources.cpu", "CPU quantity"),
    ({"resources": {"cpu": "1.5x"}}, "resources.cpu", "CPU quantity"),
    ({"resources": {"memory": "12Qi"}}, "resources.memory", "memory quantity"),
    ({"resources": {"memory": "256"}}, "resources.memory", "'256Mi'"),
    ({"resources": {"memory": "4Gi"}}, "resources.memory", "between 16Mi and 2048Mi"),
    ({"memory_mb": 256, "resources": {"memory": "512Mi"}}, "resources.memory",
     "disagrees with 'memory_mb' (256)"),
    ({"cpu_millis": 100, "resources": {"cpu": "1"}}, "resources.cpu",
     "disagrees with 'cpu_millis' (100)"),
    ({"resources": {"ephemeral-storage": "1Gi"}}, "resources.ephemeral-storage",
     "only 'cpu' and 'memory'"),
])
def test_invalid_values_name_the_field(settings: Any, body: dict[str, Any], field: str,
                                       words: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        _update(body, settings)
    assert caught.value.details == {"field": field, "errors": [{"path": field, "message": ANY}]}
    assert caught.value.message.startswith(f"'{field}'") and words in caught.value.message


def _record(**overrides: Any) -> FunctionRecord:
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    record = FunctionRecord(
        id=7, name="calc", project="default", runtime="python", execution_type="sync",
        description="", environment={"A": "1"}, timeout_ms=30000, memory_mb=128,
        max_concurrency=5, min_warm=0, cache_ttl=0, cache_scope="caller", max_retries=0,
        rate_limit=None, schema=None, examples=[], labels={}, active_version=1,
        created_at=now, updated_at=now,
    )
    return dataclasses.replace(record, **overrides)


def test_code_spec_carries_the_sandbox_profile_and_cpu_quota() -> None:
    function = _record(network="none", ephemeral_storage_mb=64, cpu_millis=250)
    spec = code_spec(function, version=1, runtime="python", code="x", handler="handler")
    assert spec.network == "none" and spec.ephemeral_storage_mb == 64
    assert spec.cpu_millis == 250 and spec.memory_mb == 128
    default = code_spec(_record(), version=1, runtime="python", code="x", handler="handler")
    assert (default.network, default.ephemeral_storage_mb, default.cpu_millis) == (
        "egress", 512, 1000)
    # Workers of another profile are never shared.
    assert spec.key != default.key


def test_the_function_renders_them_with_resources() -> None:
    body = render(function_view(_record(cpu_millis=100, network="none"),
                                reveal_environment=True))
    assert body["network"] == "none" and body["ephemeral_storage_mb"] == 512
    assert body["cpu_millis"] == 100
    assert body["resources"] == {"cpu": "100m", "memory": "128Mi"}
