"""The gateway's version string."""

from __future__ import annotations

from importlib import metadata

__all__ = ["VERSION"]

try:
    VERSION = metadata.version("fngate")
except metadata.PackageNotFoundError:  # running from a source tree
    VERSION = "0.1.0"
