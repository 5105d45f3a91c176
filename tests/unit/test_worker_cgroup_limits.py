"""A worker cgroup's limits (executors/limits.py): written once, not again when equal, and
written again after a write that failed. Plain directories stand in for cgroupfs."""

from __future__ import annotations

from pathlib import Path

import pytest

from executors.limits import WorkerCgroup

MiB = 1024 * 1024


@pytest.fixture
def cgroup(tmp_path: Path) -> WorkerCgroup:
    dirs = {name: tmp_path / name for name in ("memory", "pids", "cpu")}
    for path in dirs.values():
        path.mkdir()
    return WorkerCgroup(1, dirs["memory"], dirs["pids"], dirs["cpu"], None)


def _read(cgroup: WorkerCgroup, name: str) -> str:
    directory = cgroup.memory if name.startswith("memory") else cgroup.cpu
    assert directory is not None
    return (directory / name).read_text()


def test_an_equal_limit_is_not_written_again_and_another_is(cgroup: WorkerCgroup) -> None:
    assert cgroup.set_memory(256) and cgroup.set_cpu(1000)
    assert _read(cgroup, "memory.limit_in_bytes") == str(256 * MiB)
    assert _read(cgroup, "cpu.cfs_quota_us") == "100000"
    # Marked, to see whether the next equal limits touch the files.
    (cgroup.memory / "memory.limit_in_bytes").write_text("untouched")
    assert cgroup.cpu is not None
    (cgroup.cpu / "cpu.cfs_quota_us").write_text("untouched")
    assert cgroup.set_memory(256) and cgroup.set_cpu(1000)
    assert _read(cgroup, "memory.limit_in_bytes") == "untouched"
    assert _read(cgroup, "cpu.cfs_quota_us") == "untouched"
    assert cgroup.set_memory(128) and cgroup.set_cpu(250)
    assert _read(cgroup, "memory.limit_in_bytes") == str(128 * MiB)
    assert _read(cgroup, "cpu.cfs_quota_us") == "25000"


def test_a_limit_whose_write_failed_is_written_again(cgroup: WorkerCgroup) -> None:
    assert cgroup.set_memory(256) and cgroup.set_cpu(1000)
    memory_file = cgroup.memory / "memory.limit_in_bytes"
    memory_file.unlink()
    memory_file.mkdir()  # the kernel refusing a write: open() fails
    assert cgroup.cpu is not None
    quota_file = cgroup.cpu / "cpu.cfs_quota_us"
    quota_file.unlink()
    quota_file.mkdir()
    assert not cgroup.set_memory(128)
    assert not cgroup.set_cpu(500)
    memory_file.rmdir()
    quota_file.rmdir()
    # Back at the first values: unknown since the failures, so written.
    assert cgroup.set_memory(256) and cgroup.set_cpu(1000)
    assert _read(cgroup, "memory.limit_in_bytes") == str(256 * MiB)
    assert _read(cgroup, "cpu.cfs_quota_us") == "100000"
