"""``executors.spawn`` on uvloop (the suite's loop, as in ``fngate serve``): identities,
inherited descriptors, process groups, and no process lost with a cancelled caller."""

from __future__ import annotations

import asyncio
import mmap
import os
import resource
import signal
import subprocess
import sys
import tempfile
from typing import Any

import pytest

from executors import spawn
from tests.conftest import wait_for

NOBODY = 65534
ENV = {"PATH": "/usr/bin:/bin"}
ID = "id -u; id -g; id -G"

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another uid needs root")


@as_root
async def test_spawn_runs_as_the_uid_without_roots_groups() -> None:
    proc = await spawn.spawn(["/bin/sh", "-c", ID], env=ENV, cwd="/",
                             uid=NOBODY, gid=NOBODY, stdout=spawn.PIPE)
    out, _ = await asyncio.to_thread(proc.communicate)
    assert out.decode().split() == [str(NOBODY)] * 3


@as_root
def test_run_runs_as_the_uid_and_gid_defaults_to_it() -> None:
    proc = spawn.run(["/bin/sh", "-c", ID], env=ENV, cwd="/", uid=NOBODY, timeout=20)
    assert proc.returncode == 0 and proc.stdout.decode().split() == [str(NOBODY)] * 3


@as_root
def test_a_program_the_uid_cannot_reach_is_not_run() -> None:
    """Executed as the uid, not as root: a binary under a directory only root may enter is
    refused (126), never started with root's reach and left to fail on its own files."""
    with tempfile.TemporaryDirectory() as private:
        os.chmod(private, 0o700)
        program = os.path.join(private, "true")
        os.symlink("/usr/bin/true", program)
        proc = spawn.run([program], env=ENV, cwd="/", uid=NOBODY, timeout=20)
    assert proc.returncode == 126, proc.stderr


@pytest.mark.parametrize("env", [
    {**ENV, "LD_PRELOAD": "/tmp/evil.so"},
    {**ENV, "LD_LIBRARY_PATH": "/tmp"},
    {**ENV, "GCONV_PATH": "/tmp"},
])
def test_what_the_loader_reads_never_reaches_a_drop_to_a_uid(env: dict[str, str]) -> None:
    """setpriv and env hold root's capabilities until their exec, and glibc does not treat
    them as privileged: a library named in their environment would run as root."""
    with pytest.raises(ValueError, match="not passed to a process dropping to a uid"):
        spawn.run(["/usr/bin/true"], env=env, uid=NOBODY, timeout=20)
    with pytest.raises(ValueError, match="not passed"):
        spawn.start(["/usr/bin/true"], env=env, cwd="/", uid=NOBODY)


@pytest.mark.parametrize("program", ["true", "/tmp/a=b/true"])
def test_a_program_run_as_a_uid_is_an_absolute_path_without_equals(program: str) -> None:
    """env would look a bare name up in PATH, and take one with '=' for a variable."""
    with pytest.raises(ValueError, match="absolute path"):
        spawn.run([program], env=ENV, uid=NOBODY, timeout=20)


@as_root
async def test_spawning_as_a_uid_leaves_the_gateways_memory_unshared() -> None:
    """A start as another uid must not fork the gateway: a fork marks each of its pages
    copy-on-write, and the gateway's next writes to them each fault (a thousand on the
    request after a worker start, 1.2 ms). A vfork shares nothing to write back."""
    pages = 4096
    # Private, as the gateway's heap is (a shared mapping is never copied on write).
    memory = mmap.mmap(-1, pages * mmap.PAGESIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    touch = bytes(range(256)) * (mmap.PAGESIZE // 256)
    for page in range(pages):  # every page present and written before the start
        memory[page * mmap.PAGESIZE : (page + 1) * mmap.PAGESIZE] = touch
    proc = await spawn.spawn(["/usr/bin/true"], env=ENV, cwd="/", uid=NOBODY, gid=NOBODY)
    await asyncio.to_thread(proc.wait)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for page in range(pages):
        memory[page * mmap.PAGESIZE] = 1
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    memory.close()
    assert faults < pages // 4, f"{faults} page faults writing {pages} pages after the start"


def test_a_gid_without_a_uid_is_refused() -> None:
    with pytest.raises(ValueError, match="gid without a uid"):
        spawn.run(["/usr/bin/true"], env=ENV, gid=NOBODY, timeout=20)


async def test_spawn_passes_fds_closes_the_childs_ends_and_starts_a_session() -> None:
    r, w = os.pipe()
    report = (  # its pid and session id to the inherited fd, then cwd and env to stdout
        "import os, sys; fd = int(sys.argv[1]);"
        " os.write(fd, b'%d %d' % (os.getpid(), os.getsid(0)));"
        " print(os.getcwd(), os.environ['X'])"
    )
    proc = await spawn.spawn(
        [sys.executable, "-I", "-c", report, str(w)],
        env={**ENV, "X": "y"}, cwd="/tmp", stdout=spawn.PIPE, pass_fds=(w,), close_after=(w,),
    )
    with pytest.raises(OSError):
        os.fstat(w)  # the parent's copy of the child's end is closed: EOF comes with the child
    out, _ = await asyncio.to_thread(proc.communicate)
    with os.fdopen(r, "rb") as reader:
        pid, sid = (await asyncio.to_thread(reader.read)).decode().split()
    assert int(pid) == proc.pid and int(sid) == proc.pid  # its own session and group
    assert out.decode().split() == ["/tmp", "y"]


async def test_a_caller_cancelled_during_the_spawn_leaves_no_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[subprocess.Popen[bytes]] = []

    def recording_start(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        started.append(real_start(*args, **kwargs))
        return started[-1]

    real_start = spawn.start
    monkeypatch.setattr(spawn, "start", recording_start)
    task = asyncio.create_task(spawn.spawn(["/bin/sleep", "60"], env=ENV, cwd="/"))
    await asyncio.sleep(0)  # the fork is under way in its thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_for(lambda: started and started[0].returncode is not None, timeout_s=20)
    assert started[0].returncode == -signal.SIGKILL  # killed and reaped, not left running


def test_run_feeds_input_and_times_out() -> None:
    proc = spawn.run(["/bin/cat"], env=ENV, input=b"frame", timeout=20)
    assert proc.stdout == b"frame"
    with pytest.raises(subprocess.TimeoutExpired):
        spawn.run(["/bin/sleep", "30"], env=ENV, timeout=0.2)


def test_run_without_env_passes_the_gateways(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FNGATE_SPAWN_TEST", "inherited")
    proc = spawn.run(["/bin/sh", "-c", "echo $FNGATE_SPAWN_TEST"], env=None, timeout=20)
    assert proc.stdout.decode().strip() == "inherited"
    proc = spawn.run(["/bin/sh", "-c", "echo ${FNGATE_SPAWN_TEST:-clean}"], env=ENV, timeout=20)
    assert proc.stdout.decode().strip() == "clean"
