"""``fngate serve`` lifts its own open-file limit: every worker holds several files open
in the gateway, and a service manager's soft limit (1024) is reached first."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

PROBE = """
import resource
from gateway.server import _raise_open_files
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
_raise_open_files()
print(*resource.getrlimit(resource.RLIMIT_NOFILE))
"""


def test_the_soft_open_file_limit_is_raised_to_the_hard_one() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard <= 256:
        pytest.skip(f"the hard open-file limit here is {hard}: nothing to raise to")
    out = subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True,
                         text=True, timeout=60).stdout.split()
    assert [int(v) for v in out] == [hard, hard]
