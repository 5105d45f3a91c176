"""Kubernetes-style resource quantities, as the seed documents write a function's
``resources``: CPU (``"100m"``, ``"0.5"``, ``0.5``, ``"2"``) and memory (``"256Mi"``,
``"1Gi"``, ``"512M"``).

Both parsers raise :class:`ValueError` with a message that completes the sentence
"'<field>' …"; bounds are the caller's to check.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_CEILING, Decimal

__all__ = ["cpu_millis", "memory_mib", "render_cpu", "render_memory"]

# Bounded lengths: a quantity is a few digits, never a number to compute with at length.
_CPU_MILLIS_RE = re.compile(r"(\d{1,9})m")
_CPU_CORES_RE = re.compile(r"\d{1,9}(\.\d{1,9})?|\.\d{1,9}")
_MEMORY_RE = re.compile(r"(\d{1,12}(?:\.\d{1,9})?|\.\d{1,9})(Ki|Mi|Gi|Ti|k|K|M|G|T)")
_MEMORY_UNITS = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
    "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
}
_MIB = 2**20
_CPU_EXAMPLES = "a CPU quantity such as '100m', '0.5' or '2'"
_MEMORY_EXAMPLES = "a memory quantity such as '256Mi', '1Gi' or '512M'"


def cpu_millis(value: object) -> int:
    """Thousandths of a core: ``"100m"`` → 100, ``"0.5"`` or ``0.5`` → 500, ``"2"`` or ``2``
    → 2000. A negative number comes back negative (the caller's bounds refuse it); a
    fraction of a millicore, a sign or exponent in a string, or any other text is refused."""
    if isinstance(value, bool):
        raise ValueError(f"must be {_CPU_EXAMPLES}")
    if isinstance(value, int):
        cores = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"must be {_CPU_EXAMPLES}")
        cores = Decimal(repr(value))
    elif isinstance(value, str):
        millis = _CPU_MILLIS_RE.fullmatch(value)
        if millis is not None:
            return int(millis.group(1))
        if _CPU_CORES_RE.fullmatch(value) is None:
            raise ValueError(f"is not {_CPU_EXAMPLES}")
        cores = Decimal(value)
    else:
        raise ValueError(f"must be {_CPU_EXAMPLES}")
    thousandths = cores * 1000
    if thousandths != thousandths.to_integral_value():
        raise ValueError("is finer than a millicore ('1m', 0.001 of a core)")
    return int(thousandths)


def memory_mib(value: object) -> int:
    """Whole MiB of a memory quantity, rounded up: ``"256Mi"`` → 256, ``"1Gi"`` → 1024,
    ``"512M"`` (decimal megabytes) → 489. A unit is required: a bare number would be bytes
    in Kubernetes and megabytes to many readers."""
    if not isinstance(value, str):
        raise ValueError(f"must be {_MEMORY_EXAMPLES} (a string with a unit)")
    match = _MEMORY_RE.fullmatch(value)
    if match is None:
        if value.isascii() and value.isdigit() and len(value) <= 12:
            raise ValueError(f"needs a unit, as in '{value}Mi'")
        raise ValueError(f"is not {_MEMORY_EXAMPLES}")
    amount = Decimal(match.group(1)) * _MEMORY_UNITS[match.group(2)]
    return int((amount / _MIB).to_integral_value(rounding=ROUND_CEILING))


def render_cpu(millis: int) -> str:
    """``cpu_millis`` as the ``resources.cpu`` of a response: ``"<n>m"``."""
    return f"{millis}m"


def render_memory(mib: int) -> str:
    """``memory_mb`` as the ``resources.memory`` of a response: ``"<n>Mi"``."""
    return f"{mib}Mi"
