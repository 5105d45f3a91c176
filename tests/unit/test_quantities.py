"""CPU and memory quantities in the forms of the seed documents' `resources`."""

from __future__ import annotations

import pytest

from gateway.core.quantities import cpu_millis, memory_mib, render_cpu, render_memory


@pytest.mark.parametrize(("value", "millis"), [
    ("100m", 100), ("1m", 1), ("0.5", 500), (0.5, 500), ("2", 2000), (2, 2000),
    ("1.5", 1500), (".25", 250), ("0.001", 1), (0, 0), (-1, -1000),
])
def test_cpu_quantities(value: object, millis: int) -> None:
    assert cpu_millis(value) == millis


@pytest.mark.parametrize("value", [
    "abc", "1.5x", "-1", "", " 1", "1e3", "0.0005", "1.5m", "m", "2 cores", True, None,
    float("inf"), float("nan"), [1], {"cpu": 1}, "1" * 40,
])
def test_cpu_garbage_is_refused(value: object) -> None:
    with pytest.raises(ValueError):
        cpu_millis(value)


@pytest.mark.parametrize(("value", "mib"), [
    ("256Mi", 256), ("1Gi", 1024), ("1.5Gi", 1536), ("512M", 489), ("1G", 954),
    ("65536Ki", 64), ("1000k", 1), ("1Ti", 1024 * 1024), ("0Mi", 0),
])
def test_memory_quantities_round_up_to_whole_mib(value: str, mib: int) -> None:
    assert memory_mib(value) == mib


@pytest.mark.parametrize("value", ["12Qi", "256", "Mi", "-1Gi", "1 Gi", "1gi", "1e3Mi", 256,
                                   None, "9" * 40 + "Mi"])
def test_memory_garbage_is_refused(value: object) -> None:
    with pytest.raises(ValueError):
        memory_mib(value)


def test_rendered_forms_parse_back() -> None:
    assert cpu_millis(render_cpu(250)) == 250 and memory_mib(render_memory(384)) == 384
