"""What a function's resources may be: the limits of time, memory, storage, CPU and
concurrency a body may ask for, and the Kubernetes-style quantities ``resources`` sends.

Limits that come from the configuration (``FNGATE_MAX_TIMEOUT_MS`` …) are checked against
the :class:`~config.Settings` in the validation context (``{"settings": …}``, the defaults
without one); the document shows the default caps as ``maximum``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, WithJsonSchema

from config import Settings
from gateway.core import quantities
from gateway.schemas.validation import bad_value

__all__ = [
    "CPU_PATTERN", "DEFAULT_SETTINGS", "MAX_CPU_MILLIS", "MEMORY_PATTERN", "MIN_CPU_MILLIS",
    "MIN_EPHEMERAL_STORAGE_MB", "MIN_MEMORY_MB", "CpuMillis", "CpuQuantity",
    "EphemeralStorageMb", "MaxConcurrency", "MemoryMb", "MemoryQuantity", "MinWarm",
    "RateLimit", "TimeoutMs", "settings_of",
]

# The forms gateway/core/quantities.py accepts.
CPU_PATTERN = r"^(\d{1,9}m|\d{1,9}(\.\d{1,9})?|\.\d{1,9})$"
MEMORY_PATTERN = r"^(\d{1,12}(\.\d{1,9})?|\.\d{1,9})(Ki|Mi|Gi|Ti|k|K|M|G|T)$"

MIN_MEMORY_MB = 16
MIN_EPHEMERAL_STORAGE_MB = 16
# A quota above the machine's cores is no limit at all, not an error; a fixed cap keeps
# what a body may say the same on every replica.
MIN_CPU_MILLIS, MAX_CPU_MILLIS = 10, 64_000

#: The caps a body is checked against without settings in the context, and the
#: ``maximum`` the document shows.
DEFAULT_SETTINGS = Settings()


def settings_of(info: ValidationInfo) -> Settings:
    """The settings of the validation context (the defaults without one)."""
    settings = (info.context or {}).get("settings", DEFAULT_SETTINGS)
    assert isinstance(settings, Settings)
    return settings


# -- limits -------------------------------------------------------------------------------

def _capped(low: int, setting: str) -> Callable[[int, ValidationInfo], int]:
    """The check of an integer from ``low`` up to the context's ``setting`` (never
    clamped); ``low`` is the field's ``ge`` as well, so it reads in the message."""

    def check(value: int, info: ValidationInfo) -> int:
        cap: int = getattr(settings_of(info), setting)
        if value > cap:
            raise bad_value("capped", f"must be between {low} and {cap}")
        return value

    return check


TimeoutMs = Annotated[int, Field(ge=1, json_schema_extra={
    "maximum": DEFAULT_SETTINGS.max_timeout_ms}), AfterValidator(_capped(1, "max_timeout_ms"))]
MemoryMb = Annotated[int, Field(ge=MIN_MEMORY_MB, json_schema_extra={
    "maximum": DEFAULT_SETTINGS.max_memory_mb}),
    AfterValidator(_capped(MIN_MEMORY_MB, "max_memory_mb"))]
EphemeralStorageMb = Annotated[int, Field(ge=MIN_EPHEMERAL_STORAGE_MB, json_schema_extra={
    "maximum": DEFAULT_SETTINGS.max_ephemeral_storage_mb}),
    AfterValidator(_capped(MIN_EPHEMERAL_STORAGE_MB, "max_ephemeral_storage_mb"))]
CpuMillis = Annotated[int, Field(ge=MIN_CPU_MILLIS, le=MAX_CPU_MILLIS)]
MaxConcurrency = Annotated[int, Field(ge=1, le=1000)]
MinWarm = Annotated[int, Field(ge=0, le=100)]


def _rate(value: str | None) -> str | None:
    from limits import parse

    if value is None:
        return None
    try:
        parse(value)
    except ValueError:
        raise bad_value("rate", f"'{value}' is not a rate such as '1000/minute'") from None
    return value


RateLimit = Annotated[str | None, AfterValidator(_rate)]


# -- resources ----------------------------------------------------------------------------

def _cpu(value: Any) -> Any:
    try:
        millis = quantities.cpu_millis(value)
    except ValueError as exc:
        raise bad_value("quantity", str(exc)) from None
    if not MIN_CPU_MILLIS <= millis <= MAX_CPU_MILLIS:
        raise bad_value("quantity", f"must be between {MIN_CPU_MILLIS}m and {MAX_CPU_MILLIS}m")
    return millis


def _memory(value: Any, info: ValidationInfo) -> Any:
    try:
        mib = quantities.memory_mib(value)
    except ValueError as exc:
        raise bad_value("quantity", str(exc)) from None
    cap = settings_of(info).max_memory_mb
    if not MIN_MEMORY_MB <= mib <= cap:
        raise bad_value("quantity", f"must be between {MIN_MEMORY_MB}Mi and {cap}Mi")
    return mib


#: Millicores, from ``"100m"``, ``"0.5"``, ``0.5`` or ``2``.
CpuQuantity = Annotated[int, BeforeValidator(_cpu), WithJsonSchema({
    "oneOf": [{"type": "string", "pattern": CPU_PATTERN}, {"type": "number"}],
    "examples": ["100m", "0.5", 0.5, "2"],
})]
#: MiB, from ``"256Mi"``, ``"1Gi"``, ``"512M"``.
MemoryQuantity = Annotated[int, BeforeValidator(_memory), WithJsonSchema({
    "type": "string", "pattern": MEMORY_PATTERN, "examples": ["256Mi", "1Gi", "512M"],
})]
