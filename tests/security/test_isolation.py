"""Issue 9's attacks, each tried by a tenant's function against a real ``fngate serve``
(as root, namespace sandbox by default) and each judged from outside the sandbox.

The test process is root in the host's namespaces: it sees every process in /proc, can
talk to the machine's PostgreSQL/Redis/RabbitMQ and the gateway (so each attack has a
target that really answers), and reads the host's /tmp and /dev/shm.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import struct
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import need_service
from tests.security.conftest import (
    CLK_TCK,
    DEFAULT_UID_RANGE,
    Canary,
    Gateway,
    HostProc,
    host_addresses,
    host_procs,
    procs_of_uid,
    tcp_exchange,
    unique,
    wait_until,
)

RUNTIMES = ["python", "nodejs"]
MiB = 1 << 20

# --- 1. loopback services ------------------------------------------------------------

_PG_STARTUP = b"user\0postgres\0database\0postgres\0\0"
PG_STARTUP = struct.pack("!II", len(_PG_STARTUP) + 8, 196608) + _PG_STARTUP
REDIS_PING = b"PING\r\n"
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"

PY_CONNECT = '''
import base64, socket, threading

def _one(host, port, payload, out):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    got, err = b"", None
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, port))
        s.sendall(payload)
        while len(got) < 256:
            chunk = s.recv(256)
            if not chunk:
                break
            got += chunk
    except OSError as exc:
        err = f"{type(exc).__name__}: {exc}"
    finally:
        s.close()
    out[f"{host} {port}"] = {"data": base64.b64encode(got).decode(), "error": err}

def handler(event):
    out = {}
    threads = [threading.Thread(target=_one, args=(h, p, base64.b64decode(b), out))
               for h, p, b in event["targets"]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out
'''

NODE_CONNECT = '''
const net = require('net');
function one(host, port, payload) {
  return new Promise((resolve) => {
    const chunks = [];
    let err = null;
    let done = false;
    const s = net.connect({ host, port });
    const finish = () => {
      if (done) return;
      done = true;
      s.destroy();
      resolve({ data: Buffer.concat(chunks).toString('base64'), error: err });
    };
    s.setTimeout(2000, () => { err = err || 'timeout'; finish(); });
    s.on('connect', () => s.write(Buffer.from(payload, 'base64')));
    s.on('data', (d) => { chunks.push(d); if (Buffer.concat(chunks).length >= 256) finish(); });
    s.on('error', (e) => { err = e.code || String(e); finish(); });
    s.on('close', finish);
  });
}
exports.handler = async (event) => {
  const out = {};
  await Promise.all(event.targets.map(async ([h, p, b]) => {
    out[`${h} ${p}`] = await one(h, p, b);
  }));
  return out;
};
'''

CONNECT_CODE = {"python": PY_CONNECT, "nodejs": NODE_CONNECT}


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_loopback_and_host_services_give_no_protocol_answer(
    gateway: Gateway, canary: Canary, runtime: str
) -> None:
    need_service("PostgreSQL", "127.0.0.1", 5432)
    need_service("Redis", "127.0.0.1", 6379)
    need_service("RabbitMQ", "127.0.0.1", 5672)
    http_get = f"GET /health HTTP/1.0\r\nHost: 127.0.0.1:{gateway.port}\r\n\r\n".encode()
    probes = {5432: PG_STARTUP, 6379: REDIS_PING, 5672: AMQP_HEADER, gateway.port: http_get,
              canary.port: b""}
    addresses = ["127.0.0.1", "::1", *host_addresses()]
    # From outside, every service answers its protocol (so the attack has real targets).
    answers = {port: tcp_exchange("127.0.0.1", port, payload, timeout_s=10)
               for port, payload in probes.items()}
    assert answers[5432][:1] in (b"R", b"E"), answers[5432]
    assert answers[6379].startswith(b"+PONG"), answers[6379]
    assert answers[5672][:1] == b"\x01" or answers[5672].startswith(b"AMQP"), answers[5672]
    assert answers[gateway.port].startswith(b"HTTP/1."), answers[gateway.port]
    for address in addresses:
        assert tcp_exchange(address, canary.port, b"") == canary.token, address

    name = unique(f"loop-{runtime[:2]}")
    gateway.create(name, CONNECT_CODE[runtime], runtime=runtime)
    targets = [[a, p, base64.b64encode(b).decode()] for a in addresses for p, b in probes.items()]
    hits = len(canary.hits)
    result = gateway.call(name, {"targets": targets})

    assert set(result) == {f"{a} {p}" for a, p, _ in targets}
    received = {k: base64.b64decode(v["data"]) for k, v in result.items()}
    answered = {k: v for k, v in received.items() if v}
    assert not answered, f"the function got protocol answers: {answered}"
    assert canary.hits[hits:] == [], "the host's canary saw a connection from the function"
    gateway.assert_healthy()


# --- 2. another function's code, environment and memory ------------------------------

PY_VICTIM = '''
import os, uuid
TOKEN = uuid.uuid4().hex  # one per process: a new one means a new worker
HELD = "in-memory:" + os.environ.get("SECRET", "")

def handler(event):
    return {"uid": os.getuid(), "token": TOKEN,
            "secret_ok": os.environ.get("SECRET") == event.get("expect")}
'''

PY_PROC_SNOOP = '''
import ctypes, os

def _read(path):
    with open(path, "rb") as fh:
        return fh.read(65536).decode("latin-1")

def _mem(pid):
    with open(f"/proc/{pid}/maps") as fh:
        start = int(fh.readline().split("-")[0], 16)
    with open(f"/proc/{pid}/mem", "rb") as fh:
        fh.seek(start)
        return fh.read(4096).decode("latin-1")

def _poke(pid):
    # Write a byte of A's heap back as it was: proves write access, corrupts nothing.
    with open(f"/proc/{pid}/maps") as fh:
        line = next(ln for ln in fh if ln.split()[1].startswith("rw"))
    start = int(line.split("-")[0], 16)
    with open(f"/proc/{pid}/mem", "r+b", buffering=0) as fh:
        fh.seek(start)
        byte = fh.read(1)
        fh.seek(start)
        fh.write(byte)
    return "written"

def _ptrace(pid):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(16, pid, 0, 0) != 0:  # PTRACE_ATTACH
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    os.waitpid(pid, 0x40000000)  # __WALL: the tracee's stop, then let it go
    libc.ptrace(17, pid, 0, 0)  # PTRACE_DETACH
    return "attached"

def _try(fn):
    try:
        return {"ok": True, "value": str(fn())[:20000].replace("\\0", "\\\\0")}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}

def handler(event):
    me = os.getpid()
    out = {"own_pid": me, "proc": sorted(e for e in os.listdir("/proc") if e.isdigit()),
           "tries": {}}
    for pid in event["pids"]:
        if pid == me:
            continue
        attempts = {
            "environ": lambda p=pid: _read(f"/proc/{p}/environ"),
            "cmdline": lambda p=pid: _read(f"/proc/{p}/cmdline"),
            "cwd": lambda p=pid: os.readlink(f"/proc/{p}/cwd"),
            "code": lambda p=pid: _read(f"/proc/{p}/cwd/handler.py"),
            "root": lambda p=pid: _read(f"/proc/{p}/root/tmp/handler.py"),
            "mem": lambda p=pid: _mem(p),
            "poke": lambda p=pid: _poke(p),
            "ptrace": lambda p=pid: _ptrace(p),
        }
        for what, fn in attempts.items():
            out["tries"][f"{pid} {what}"] = _try(fn)
    return out
'''

NODE_PROC_SNOOP = '''
const fs = require('fs');
function attempt(fn) {
  try { return { ok: true, value: String(fn()).slice(0, 20000).replace(/\\0/g, '\\\\0') }; }
  catch (e) { return { ok: false, error: e.code || String(e) }; }
}
function mem(pid) {
  const maps = fs.readFileSync(`/proc/${pid}/maps`, 'latin1');
  const start = parseInt(maps.split('-')[0], 16);
  const fd = fs.openSync(`/proc/${pid}/mem`, 'r');
  try {
    const b = Buffer.alloc(4096);
    fs.readSync(fd, b, 0, 4096, start);
    return b.toString('latin1');
  } finally { fs.closeSync(fd); }
}
exports.handler = async (event) => {
  const out = { own_pid: process.pid, tries: {},
    proc: fs.readdirSync('/proc').filter((e) => /^[0-9]+$/.test(e)).sort() };
  for (const pid of event.pids) {
    if (pid === process.pid) continue;
    out.tries[`${pid} environ`] = attempt(() => fs.readFileSync(`/proc/${pid}/environ`, 'latin1'));
    out.tries[`${pid} cmdline`] = attempt(() => fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
    out.tries[`${pid} cwd`] = attempt(() => fs.readlinkSync(`/proc/${pid}/cwd`));
    out.tries[`${pid} code`] = attempt(
      () => fs.readFileSync(`/proc/${pid}/cwd/handler.py`, 'latin1'));
    out.tries[`${pid} mem`] = attempt(() => mem(pid));
  }
  return out;
};
'''

SNOOP_CODE = {"python": PY_PROC_SNOOP, "nodejs": NODE_PROC_SNOOP}


def _warm_victim(gateway: Gateway, prefix: str) -> tuple[str, str, dict]:
    """Function A, warm, holding a secret in its environment and memory."""
    secret = "s3cr3t-" + uuid.uuid4().hex
    name = unique(prefix)
    gateway.create(name, PY_VICTIM, environment={"SECRET": secret})
    first = gateway.call(name, {"expect": secret})
    assert first["secret_ok"] is True
    return name, secret, first


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_another_functions_proc_environ_code_and_memory_are_out_of_reach(
    gateway: Gateway, runtime: str
) -> None:
    victim, secret, first = _warm_victim(gateway, f"vic-{runtime[:2]}")
    victim_pids = [p.pid for p in procs_of_uid(first["uid"])]
    assert victim_pids, "function A's worker is not visible from outside"
    # From outside (root on the host), A's memory does hold the secret.
    assert any(_memory_holds(pid, secret.encode()) for pid in victim_pids), \
        "the secret is not in A's memory: nothing to steal, the test proves nothing"

    snoop = unique(f"snoop-{runtime[:2]}")
    gateway.create(snoop, SNOOP_CODE[runtime], runtime=runtime)
    result = gateway.call(snoop, {"pids": victim_pids})

    assert set(result["proc"]) <= {"1", "2"}, f"B sees other processes: {result['proc']}"
    assert result["tries"], result
    succeeded = {k: v for k, v in result["tries"].items() if v["ok"]}
    assert not succeeded, f"B reached A's process: {json.dumps(succeeded)[:2000]}"
    assert secret not in json.dumps(result), "A's secret appears in B's result"
    # A is untouched: the same worker, the same secret.
    again = gateway.invoke(victim, {"expect": secret})
    assert again["status"] == "success" and again["result"]["token"] == first["token"], again
    assert again["result"]["secret_ok"] is True
    gateway.assert_healthy()


def _memory_holds(pid: int, needle: bytes, budget: int = 256 * MiB) -> bool:
    """Whether ``needle`` is in the writable memory of host process ``pid`` (read as root)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
        with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
            for line in maps:
                fields = line.split()
                if len(fields) < 2 or not fields[1].startswith("rw"):
                    continue
                start, end = (int(x, 16) for x in fields[0].split("-"))
                if end - start > budget:
                    continue
                budget -= end - start
                try:
                    mem.seek(start)
                    if needle in mem.read(end - start):
                        return True
                except OSError:
                    continue
    except OSError:
        return False
    return False


# --- 2b. other functions' dependency builds --------------------------------------------

PY_DEPS_SNOOP = '''
import os

def _read(path):
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("latin-1").replace("\\0", "\\\\0")
    except OSError as exc:
        return type(exc).__name__

def handler(event):
    out = {}
    for root in ("/opt/fngate/deps", event["host_path"]):
        try:
            names = sorted(os.listdir(root))
        except OSError as exc:
            names = type(exc).__name__
        found = {}
        for name in names if isinstance(names, list) else []:
            found[name] = _read(f"{root}/{name}/tenant_private/__init__.py")
        # The key that names the builds: with it, any build could be named.
        out[root] = {"names": names, "read": found, "key": _read(f"{root}/.name-key")}
    return out
'''


def test_other_functions_dependency_builds_are_not_visible(gateway: Gateway) -> None:
    # Another tenant's published build, as executors/build.py publishes one: a directory
    # of root-owned 0755 directories and 0644 files in the builds base, under a name the
    # attacking tenant cannot know.
    assert gateway.builds_dir.is_dir(), "the gateway published no builds base"
    marker = "private-code-" + uuid.uuid4().hex
    published = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    package = gateway.builds_dir / published / "tenant_private"
    package.mkdir(parents=True)
    for d in (gateway.builds_dir / published, package):
        d.chmod(0o755)
    (package / "__init__.py").write_text(f"TOKEN = {marker!r}\n")
    (package / "__init__.py").chmod(0o644)
    key = gateway.builds_dir / ".name-key"
    try:
        name = unique("deps")
        gateway.create(name, PY_DEPS_SNOOP)  # no dependencies of its own
        result = gateway.call(name, {"host_path": str(gateway.builds_dir)})
    finally:
        shutil.rmtree(gateway.builds_dir / published, ignore_errors=True)
    gateway.assert_healthy()
    shown = json.dumps(result)
    assert marker not in shown, f"another function's build is readable: {result}"
    assert published not in shown, f"other functions' builds are listed: {result}"
    if key.is_file():
        assert key.read_bytes().decode("latin-1") not in shown, "the naming key leaked"
        assert all(v["key"] != "" and "Error" in v["key"] for v in result.values()), result


# --- 4. /tmp and /dev/shm -------------------------------------------------------------

PY_TMP_WRITER = '''
import os

def handler(event):
    m = event["marker"]
    with open(f"/tmp/{m}-x", "w") as fh:
        fh.write("tmp secret " + m)
    with open(f"/dev/shm/{m}-y", "w") as fh:
        fh.write("shm secret " + m)
    return {"uid": os.getuid(), "tmp": sorted(os.listdir("/tmp")),
            "shm": sorted(os.listdir("/dev/shm"))}
'''

PY_TMP_READER = '''
import os

def _try(path):
    try:
        with open(path) as fh:
            return fh.read()
    except OSError as exc:
        return f"{type(exc).__name__}"

def handler(event):
    m = event["marker"]
    return {"tmp": sorted(os.listdir("/tmp")), "shm": sorted(os.listdir("/dev/shm")),
            "x": _try(f"/tmp/{m}-x"), "y": _try(f"/dev/shm/{m}-y")}
'''


def _entries(directory: str) -> dict[str, int]:
    """Top-level entries of a host directory and their owners."""
    out: dict[str, int] = {}
    for name in os.listdir(directory):
        try:
            out[name] = os.lstat(os.path.join(directory, name)).st_uid
        except OSError:
            continue
    return out


def _find_marker(marker: str, roots: tuple[str, ...] = ("/tmp", "/dev/shm"),
                 budget: int = 50_000) -> list[str]:
    found: list[str] = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            budget -= len(dirnames) + len(filenames)
            found += [os.path.join(dirpath, n) for n in dirnames + filenames if marker in n]
            if budget < 0:
                return found
    return found


def test_tmp_and_dev_shm_are_private_and_leave_nothing_on_the_host(gateway: Gateway) -> None:
    marker = "fgsec" + uuid.uuid4().hex[:12]
    before = {d: _entries(d) for d in ("/tmp", "/dev/shm")}
    writer, reader = unique("tmpw"), unique("tmpr")
    gateway.create(writer, PY_TMP_WRITER)
    gateway.create(reader, PY_TMP_READER)
    wrote = gateway.call(writer, {"marker": marker})
    assert f"{marker}-x" in wrote["tmp"] and f"{marker}-y" in wrote["shm"], wrote

    seen = gateway.call(reader, {"marker": marker})
    assert marker not in json.dumps(seen), f"B sees A's files: {seen}"
    assert _find_marker(marker) == [], "A's files are in the host's /tmp or /dev/shm"

    gateway.delete(writer)  # its worker ends
    gone = wait_until(lambda: not procs_of_uid(wrote["uid"]), timeout_s=10)
    assert gone, "A's worker outlived the function"
    assert _find_marker(marker) == []
    for directory, old in before.items():
        new = {n: uid for n, uid in _entries(directory).items() if n not in old}
        left = {n: uid for n, uid in new.items()
                if uid == wrote["uid"] or DEFAULT_UID_RANGE[0] <= uid <= DEFAULT_UID_RANGE[1]
                or marker in n}
        assert not left, f"left in the host's {directory}: {left}"
    gateway.assert_healthy()


# --- 5. no process outlives its call --------------------------------------------------

PY_DETACH = '''
import os, subprocess, time

def handler(event):
    a, b = event["marks"]
    child = subprocess.Popen(["sleep", a], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r, w = os.pipe()
    first = os.fork()
    if first == 0:  # a daemon: setsid, fork again, the middle one exits
        os.setsid()
        if os.fork() == 0:
            os.write(w, str(os.getpid()).encode())
            os.execvp("sleep", ["sleep", b])
        os._exit(0)
    os.waitpid(first, 0)
    os.close(w)
    daemon = int(os.read(r, 32) or 0)
    time.sleep(0.2)
    alive = []
    for pid in (child.pid, daemon):
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except OSError:
            pass
    child.returncode = 0  # never waited for: the gateway must clean it up
    return {"uid": os.getuid(), "alive": alive}
'''

NODE_DETACH = '''
const { spawn } = require('child_process');
exports.handler = async (event) => {
  const [a, b] = event.marks;
  const kids = [a, b].map((m) => {
    const c = spawn('sleep', [m], { detached: true, stdio: 'ignore' });
    c.unref();
    return c;
  });
  await new Promise((r) => setTimeout(r, 300));
  const alive = kids.filter((c) => { try { process.kill(c.pid, 0); return true; }
                                      catch (e) { return false; } }).map((c) => c.pid);
  return { uid: process.getuid(), alive };
};
'''

DETACH_CODE = {"python": PY_DETACH, "nodejs": NODE_DETACH}


def _sleepers(marks: list[str]) -> list[tuple[int, str, tuple[str, ...]]]:
    return [(p.pid, p.state, p.cmdline) for p in host_procs()
            if p.comm == "sleep" and any(m in p.cmdline for m in marks)]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_no_detached_process_outlives_its_call(gateway: Gateway, runtime: str) -> None:
    # sleep's argument is unique to this test: "300.<random>" seconds.
    marks = [f"300.{uuid.uuid4().int % 10**9:09d}" for _ in range(2)]
    name = unique(f"det-{runtime[:2]}")
    gateway.create(name, DETACH_CODE[runtime], runtime=runtime)
    result = gateway.call(name, {"marks": marks})
    assert len(result["alive"]) == 2, f"the children did not start: {result}"

    left = wait_until(lambda: not _sleepers(marks), timeout_s=3.0)
    assert left, f"processes outlived the call: {_sleepers(marks)}"
    # Nothing of the function's uid is a leftover either (zombies included).
    strays = [p for p in procs_of_uid(result["uid"]) if p.comm == "sleep"]
    assert not strays, strays
    gateway.assert_healthy()


PY_LEAVE_AND_END = '''
import os, subprocess, time

MARKS = {MARKS!r}
if MARKS.get("load"):  # a child started while the module loads, before any call
    subprocess.Popen(["sleep", MARKS["load"]], start_new_session=True)

def handler(event):
    subprocess.Popen(["sleep", MARKS["call"]], start_new_session=True)
    time.sleep(0.2)
    if event["how"] == "crash":
        os._exit(3)
    if event["how"] == "hang":
        while True:
            time.sleep(1)
    return {"uid": os.getuid()}
'''


@pytest.mark.parametrize("how", ["return", "crash", "hang"])
def test_no_process_outlives_a_call_however_it_ends(gateway: Gateway, how: str) -> None:
    marks = {k: f"300.{uuid.uuid4().int % 10**9:09d}" for k in ("load", "call")}
    name = unique(f"end-{how}")
    gateway.create(name, PY_LEAVE_AND_END.replace("{MARKS!r}", repr(marks)), timeout_ms=1500)
    body = gateway.invoke(name, {"how": how})
    expected = {"return": "success", "crash": "failed", "hang": "failed"}[how]
    assert body["status"] == expected, body
    gone = wait_until(lambda: not _sleepers(list(marks.values())), timeout_s=3.0)
    assert gone, f"processes outlived the call ({how}): {_sleepers(list(marks.values()))}"
    gateway.assert_healthy()


PY_THREADS_END = '''
import os, subprocess, threading, time

_threads = []
TOKEN = os.urandom(8).hex()  # this worker's

def handler(event):
    if event["op"] == "grow":  # threads that stay between calls, blocked
        for _ in range(3):
            stop = threading.Event()
            thread = threading.Thread(target=stop.wait, daemon=True)
            thread.start()
            _threads.append((thread, stop))
        return {"token": TOKEN}
    # One of them ends and one process stays: the task count is what it was before.
    thread, stop = _threads.pop()
    stop.set()
    thread.join()
    if event["op"] == "stray":
        subprocess.Popen(["sleep", event["mark"]], start_new_session=True)
    else:
        if os.fork() == 0:
            os._exit(0)
    time.sleep(0.1)
    return {"uid": os.getuid(), "token": TOKEN}
'''


@pytest.mark.parametrize("left", ["stray", "zombie"])
def test_a_process_left_as_a_thread_ends_is_found_on_a_busy_worker(
        gateway: Gateway, left: str) -> None:
    """Calls close together (the after-call check runs twice within a second): a thread
    of the runner ends and a process or zombie stays, so the worker's task count is the
    one the last check accepted. (A check through cgroup v1 pid-list files kept open
    accepted it: they answer the list built first for as long as they are read again
    within a second.)"""
    mark = f"300.{uuid.uuid4().int % 10**9:09d}"
    name = unique(f"thr-{left[:3]}")
    gateway.create(name, PY_THREADS_END)
    first = gateway.call(name, {"op": "grow"})
    result = gateway.call(name, {"op": left, "mark": mark})
    assert result["token"] == first["token"], "the two calls ran on different workers"
    if left == "stray":
        gone = wait_until(lambda: not _sleepers([mark]), timeout_s=3.0)
        assert gone, f"a process outlived the call: {_sleepers([mark])}"
    else:
        def zombies() -> list[int]:
            return [p.pid for p in procs_of_uid(result["uid"]) if p.state == "Z"]
        assert wait_until(lambda: not zombies(), timeout_s=3.0), zombies()
    after = gateway.call(name, {"op": "grow"})
    assert after["token"] != first["token"], "the worker that held it was kept"
    gateway.assert_healthy()


PY_FORKS_AFTER = '''
import os, subprocess, threading, time

TOKEN = os.urandom(8).hex()  # this worker's

def _later(mark):
    time.sleep(0.01)  # the call has returned, and its check has run, by then
    subprocess.Popen(["sleep", mark], start_new_session=True)

def handler(event):
    if event.get("mark"):
        threading.Thread(target=_later, args=(event["mark"],), daemon=True).start()
    return {"uid": os.getuid(), "token": TOKEN}
'''


def test_a_process_a_left_thread_starts_after_the_call_does_not_stay(gateway: Gateway) -> None:
    """A thread the call left starts a process once the call's own check has passed: the
    worker is frozen 50 ms later with it inside, and would keep it (frozen, then running
    again with the next call) for as long as the worker lives. It is found then, and the
    worker ends."""
    mark = f"300.{uuid.uuid4().int % 10**9:09d}"
    name = unique("fork-after")
    gateway.create(name, PY_FORKS_AFTER)
    first = gateway.call(name, {"mark": mark})
    time.sleep(0.3)  # the process starts 10 ms after the call, the worker freezes at 50 ms
    gone = wait_until(lambda: not _sleepers([mark]), timeout_s=3.0)
    assert gone, f"a process started after the call stayed: {_sleepers([mark])}"
    assert not [p for p in procs_of_uid(first["uid"]) if p.comm == "sleep"]
    after = gateway.call(name, {})
    assert after["token"] != first["token"], "the worker that held it was kept"
    gateway.assert_healthy()


PY_ZOMBIES = '''import os, time

def _state(pid):
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0]

def handler(event):
    kids = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        kids.append(pid)
    deadline = time.time() + 5
    while time.time() < deadline and any(_state(k) != "Z" for k in kids):
        time.sleep(0.01)
    return {"uid": os.getuid(), "states": [_state(k) for k in kids]}
'''


def test_no_zombie_outlives_its_call(gateway: Gateway) -> None:
    name = unique("zombie")
    gateway.create(name, PY_ZOMBIES)
    result = gateway.call(name)
    assert result["states"] == ["Z", "Z", "Z"], result

    def zombies() -> list[int]:
        return [p.pid for p in procs_of_uid(result["uid"]) if p.state == "Z"]

    cleared = wait_until(lambda: not zombies(), timeout_s=3.0)
    gateway.assert_healthy()
    assert cleared, f"zombies of the call are still there: {zombies()}"


PY_FORK_BOMB = '''
import os, time

def handler(event):
    kids, err = [], None
    for _ in range(500):
        try:
            pid = os.fork()
        except OSError as exc:
            err = exc.errno
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        kids.append(pid)
    return {"uid": os.getuid(), "forked": len(kids), "errno": err}
'''


def test_a_fork_bomb_is_capped_and_cleaned_up(gateway: Gateway) -> None:
    name = unique("forks")
    gateway.create(name, PY_FORK_BOMB)
    result = gateway.call(name)
    assert result["errno"] == 11 and result["forked"] < 64, result  # EAGAIN: pids.max

    def forked_left() -> list[HostProc]:
        return [p for p in procs_of_uid(result["uid"]) if p.comm.startswith("python")][1:]

    assert wait_until(lambda: not forked_left(), timeout_s=5.0), \
        f"{len(forked_left())} forked processes outlived the call"
    gateway.assert_healthy()


# --- 6. a CPU burner after return -----------------------------------------------------

PY_BURNER = '''
import os, threading, time
COUNT = [0]

def _spin():
    while True:
        COUNT[0] += 1

def handler(event):
    if event.get("start"):
        threading.Thread(target=_spin, daemon=True).start()
        time.sleep(0.3)
    return {"uid": os.getuid(), "count": COUNT[0]}
'''


def test_a_cpu_burner_left_running_gets_no_cpu_after_the_call(gateway: Gateway) -> None:
    name = unique("burn")
    gateway.create(name, PY_BURNER)
    first = gateway.call(name, {"start": True})
    assert first["count"] > 0, first
    uid = first["uid"]

    time.sleep(0.3)  # the call's own tail
    before = procs_of_uid(uid)
    assert before, "the warm worker is gone: nothing left to measure"
    time.sleep(1.0)
    after = {p.pid: p.ticks for p in procs_of_uid(uid)}
    used_s = sum(after.get(p.pid, p.ticks) - p.ticks for p in before) / CLK_TCK
    assert used_s < 0.2, f"the worker's processes used {used_s:.2f} s of CPU in 1 s after return"
    # The spinning thread was only stopped, not gone: it runs again inside the next call.
    again = gateway.call(name, {})
    assert again["uid"] == uid and again["count"] >= first["count"], (first, again)
    gateway.delete(name)
    gateway.assert_healthy()


# --- 7. ephemeral storage ---------------------------------------------------------------

PY_FILL = '''
import os

def _fill(path, mb):
    written, err = 0, None
    chunk = b"\\1" * (1 << 20)
    try:
        with open(path, "wb") as fh:
            for _ in range(mb):
                fh.write(chunk)
                fh.flush()
                written += len(chunk)
    except OSError as exc:
        err = exc.errno
    return {"written": written, "errno": err}

def handler(event):
    out = {}
    for path in event["paths"]:
        if event.get("dir"):
            try:
                os.makedirs(path, exist_ok=True)
            except OSError as exc:
                out[path] = {"written": 0, "errno": exc.errno}
                continue
            parts = [_fill(f"{path}/part{i}", 16) for i in range(event["mb"] // 16)]
            out[path] = {"written": sum(p["written"] for p in parts),
                         "errno": next((p["errno"] for p in parts if p["errno"]), None)}
        else:
            out[path] = _fill(path, event["mb"])
    return out
'''


def _free_bytes() -> dict[str, int]:
    out = {}
    for path in ("/", "/tmp", "/dev/shm"):
        st = os.statvfs(path)
        out[path] = st.f_bavail * st.f_frsize
    return out


def test_ephemeral_storage_is_capped(gateway: Gateway) -> None:
    name = unique("fill")
    gateway.create(name, PY_FILL, ephemeral_storage_mb=32)
    free_before = _free_bytes()
    result = gateway.call(name, {"paths": ["/tmp/big", "/dev/shm/big"], "mb": 100})
    free_after = _free_bytes()
    for path in ("/tmp/big", "/dev/shm/big"):
        assert result[path]["errno"] == 28, f"{path}: {result[path]} (expected ENOSPC)"
        assert result[path]["written"] <= 33 * MiB, result[path]
    dropped = {p: free_before[p] - free_after[p] for p in free_before}
    assert all(d < 50 * MiB for d in dropped.values()), f"host free space dropped: {dropped}"
    gateway.delete(name)
    gateway.assert_healthy()


def test_ephemeral_storage_cap_holds_outside_tmp(gateway: Gateway) -> None:
    name = unique("fillroot")
    gateway.create(name, PY_FILL, ephemeral_storage_mb=32)
    result = gateway.invoke(name, {"paths": ["/fill", "/dev/fill"], "mb": 48, "dir": True})
    gateway.assert_healthy()
    assert result["status"] == "success", result
    for path, outcome in result["result"].items():
        assert outcome["written"] <= 33 * MiB, f"{path}: wrote {outcome} past the 32 MB cap"


# --- 8. rlimits -------------------------------------------------------------------------

PY_RLIMITS = PY_FILL.replace("def handler(event):", "def _fill_handler(event):") + '''

def handler(event):
    with open("/proc/self/limits") as fh:
        limits = fh.read()
    fds, open_errno = [], None
    try:
        for _ in range(5000):
            fds.append(os.open("/dev/null", os.O_RDONLY))
    except OSError as exc:
        open_errno = exc.errno
    finally:
        for fd in fds:
            os.close(fd)
    big = _fill("/tmp/big", 100)
    os.remove("/tmp/big")
    return {"limits": limits, "opened": len(fds), "open_errno": open_errno, "big": big}
'''

NODE_RLIMITS = '''
const fs = require('fs');
exports.handler = async (event) => {
  if (event.big) {
    const fd = fs.openSync('/tmp/big', 'w');
    const chunk = Buffer.alloc(1 << 20, 1);
    let written = 0;
    try {
      for (let i = 0; i < 100; i++) { fs.writeSync(fd, chunk); written += chunk.length; }
      return { written, error: null };
    } catch (e) {
      return { written, error: e.code };
    } finally { fs.closeSync(fd); fs.unlinkSync('/tmp/big'); }
  }
  const limits = fs.readFileSync('/proc/self/limits', 'utf8');
  const fds = [];
  let openError = null;
  try { for (let i = 0; i < 5000; i++) fds.push(fs.openSync('/dev/null', 'r')); }
  catch (e) { openError = e.code; }
  finally { for (const fd of fds) fs.closeSync(fd); }
  return { limits, opened: fds.length, open_error: openError };
};
'''


def _limit_rows(text: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in text.splitlines()[1:]:
        parts = line[26:].split()
        if len(parts) >= 2:
            rows[line[:26].strip()] = (parts[0], parts[1])
    return rows


EXPECTED_LIMITS = {
    "Max open files": ("256", "256"),
    "Max file size": ("67108864", "67108864"),
    "Max core file size": ("0", "0"),
    "Max processes": ("4096", "4096"),
}


def test_python_rlimits_are_visible_and_enforced(gateway: Gateway) -> None:
    name = unique("lim-py")
    gateway.create(name, PY_RLIMITS)
    result = gateway.call(name)
    rows = _limit_rows(result["limits"])
    for row, value in EXPECTED_LIMITS.items():
        assert rows.get(row) == value, f"{row}: {rows.get(row)} in\n{result['limits']}"
    assert result["open_errno"] == 24 and result["opened"] < 256, result  # EMFILE
    assert result["big"]["errno"] == 27, result["big"]  # EFBIG (Python ignores SIGXFSZ)
    assert result["big"]["written"] <= 64 * MiB, result["big"]
    gateway.assert_healthy()


def test_nodejs_rlimits_are_visible_and_enforced(gateway: Gateway) -> None:
    name = unique("lim-js")
    gateway.create(name, NODE_RLIMITS, runtime="nodejs")
    result = gateway.call(name)
    rows = _limit_rows(result["limits"])
    for row, value in EXPECTED_LIMITS.items():
        assert rows.get(row) == value, f"{row}: {rows.get(row)} in\n{result['limits']}"
    assert result["open_error"] == "EMFILE" and result["opened"] < 256, result
    big = gateway.invoke(name, {"big": True})
    # Either SIGXFSZ kills the worker (the call fails) or the write fails with EFBIG.
    if big["status"] == "success":
        assert big["result"]["error"] == "EFBIG", big
        assert big["result"]["written"] <= 64 * MiB, big
    gateway.assert_healthy()


# --- 9. CPU quota (and the memory limit) seen from inside -------------------------------

PY_CGROUP = '''
import os

def _read(path):
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError as exc:
        return f"{type(exc).__name__}"

def _write(path, value):
    try:
        with open(path, "w") as fh:
            fh.write(value)
        return "written"
    except OSError as exc:
        return f"{type(exc).__name__}"

def handler(event):
    out = {name: _read(f"/sys/fs/cgroup/{name}") for name in (
        "cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us", "memory/memory.limit_in_bytes")}
    # Raise one's own limits, or leave the cgroup: all refused (read-only).
    out["uid"] = os.getuid()
    out["writes"] = {
        "quota": _write("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1"),
        "memory": _write("/sys/fs/cgroup/memory/memory.limit_in_bytes", str(8 << 30)),
        "pids": _write("/sys/fs/cgroup/pids/pids.max", "max"),
        "leave": _write("/sys/fs/cgroup/cpu/cgroup.procs", str(os.getpid())),
    }
    return out
'''

NODE_CGROUP = '''
const fs = require('fs');
exports.handler = async () => {
  const out = {};
  for (const n of ['cpu/cpu.cfs_quota_us', 'cpu/cpu.cfs_period_us',
                   'memory/memory.limit_in_bytes']) {
    try { out[n] = fs.readFileSync(`/sys/fs/cgroup/${n}`, 'utf8').trim(); }
    catch (e) { out[n] = e.code; }
  }
  return out;
};
'''


@pytest.mark.parametrize(("runtime", "fields", "quota", "memory_mb"), [
    ("python", {"resources": {"cpu": "250m"}, "memory_mb": 128}, "25000", 128),
    # The defaults: set on the pre-started worker already, not written at the hand-over.
    ("python", {}, "100000", 256),
    ("nodejs", {"cpu_millis": 500, "resources": {"memory": "192Mi"}}, "50000", 192),
])
def test_cpu_quota_and_memory_limit_are_visible_inside(
    gateway: Gateway, runtime: str, fields: dict, quota: str, memory_mb: int
) -> None:
    name = unique(f"cg-{runtime[:2]}")
    gateway.create(name, PY_CGROUP if runtime == "python" else NODE_CGROUP, runtime=runtime,
                   **fields)
    result = gateway.call(name)
    assert result["cpu/cpu.cfs_quota_us"] == quota, result
    assert result["cpu/cpu.cfs_period_us"] == "100000", result
    assert result["memory/memory.limit_in_bytes"] == str(memory_mb * MiB), result
    if runtime == "python":
        assert "written" not in result["writes"].values(), result["writes"]
        # From outside: the worker's cgroups still hold the function's limits.
        runner = next(p for p in procs_of_uid(result["uid"]) if p.comm.startswith("python"))
        paths = dict(line.split(":", 2)[1:] for line in
                     Path(f"/proc/{runner.pid}/cgroup").read_text().splitlines())
        host = Path("/sys/fs/cgroup")
        assert (host / "cpu" / paths["cpu"].lstrip("/") / "cpu.cfs_quota_us").read_text() \
            .strip() == quota
        assert (host / "memory" / paths["memory"].lstrip("/") / "memory.limit_in_bytes") \
            .read_text().strip() == str(memory_mb * MiB)
    gateway.assert_healthy()


# --- 10. a uid of its own, no capabilities --------------------------------------------------

PY_IDENTITY = '''
import ctypes, os

def _in_child(fn):
    """Run fn in a forked child (an unshare that worked must not change the worker)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(w, str(fn()).encode()[:200])
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    with os.fdopen(r, "rb") as fh:
        return fh.read().decode()

def _unshare(flag):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(flag) != 0:
        return "refused: " + os.strerror(ctypes.get_errno())
    return "unshared"

def _setuid0():
    try:
        os.setuid(0)
        return "root"
    except OSError as exc:
        return "refused: " + exc.strerror

def handler(event):
    with open("/proc/self/status") as fh:
        status = dict(line.split(":", 1) for line in fh.read().splitlines() if ":" in line)
    escapes = {
        "setuid0": _in_child(_setuid0),
        "userns": _in_child(lambda: _unshare(0x10000000)),  # CLONE_NEWUSER
        "mountns": _in_child(lambda: _unshare(0x00020000)),  # CLONE_NEWNS
        "netns": _in_child(lambda: _unshare(0x40000000)),  # CLONE_NEWNET
    }
    return {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(),
            "status": {k: v.strip() for k, v in status.items()}, "escapes": escapes}
'''

NODE_IDENTITY = '''
const fs = require('fs');
exports.handler = async () => {
  const status = {};
  for (const line of fs.readFileSync('/proc/self/status', 'utf8').split('\\n')) {
    const i = line.indexOf(':');
    if (i > 0) status[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return { uid: process.getuid(), euid: process.geteuid(), gid: process.getgid(), status };
};
'''


def test_each_worker_has_its_own_uid_and_no_capabilities(gateway: Gateway) -> None:
    low, high = DEFAULT_UID_RANGE
    seen: dict[str, dict] = {}
    for runtime, code in (("python", PY_IDENTITY), ("nodejs", NODE_IDENTITY),
                          ("python", PY_IDENTITY)):
        name = unique(f"id-{runtime[:2]}")
        gateway.create(name, code, runtime=runtime)
        seen[name] = gateway.call(name)
    uids = [r["uid"] for r in seen.values()]
    assert all(low <= uid <= high for uid in uids), uids
    assert len(set(uids)) == len(uids), f"two live workers share a uid: {uids}"
    for name, r in seen.items():
        assert r["euid"] == r["uid"] and r["gid"] == r["uid"], r
        status = r["status"]
        for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            assert int(status[cap], 16) == 0, (name, cap, status[cap])
        assert status["NoNewPrivs"] == "1", status
        for what, outcome in r.get("escapes", {}).items():
            assert outcome.startswith("refused"), (name, what, outcome)
        # From outside: the warm worker's processes (all of them) run as that uid, not root.
        procs = procs_of_uid(r["uid"])
        assert procs, f"no host process runs as {r['uid']}"
        assert any(p.comm.startswith(("python", "node")) for p in procs), procs
    gateway.assert_healthy()


# --- 11. (test_egress.py) -- 12. the sandbox is reported --------------------------------------


def test_the_sandbox_is_reported(gateway: Gateway) -> None:
    health = gateway.get("/health")
    assert health.status_code == 200, health.text
    body = health.json()
    assert body["isolation"] == "namespaces", body
    assert body["sandbox"]["status"] == "ok" and body["sandbox"]["error"] is None, body
    assert body["sandbox"]["network_egress"] == "filtered", body
    caps = gateway.get("/api/v1/provider/capabilities", headers=gateway.headers)
    assert caps.status_code == 200, caps.text
    assert caps.json()["isolation"] == "namespaces", caps.json()
    status = gateway.get("/status", headers=gateway.headers)
    if status.status_code == 200:
        assert status.json()["isolation"] == "namespaces", status.json()


# --- 3. signals (last: on an unsandboxed gateway they kill every worker) ---

PY_KILLER = '''
import os, signal

def handler(event):
    me = os.getpid()
    sent = []
    try:
        os.kill(-1, signal.SIGKILL)
        sent.append(-1)
    except OSError:
        pass
    for pid in list(range(1, 5001)) + list(event["pids"]):
        if pid == me:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
            sent.append(pid)
        except OSError:
            pass
    return {"own_pid": me, "sent": sent[:100]}
'''

NODE_KILLER = '''
exports.handler = async (event) => {
  const sent = [];
  try { process.kill(-1, 'SIGKILL'); sent.push(-1); } catch (e) { /* refused */ }
  const pids = [];
  for (let p = 1; p <= 5000; p++) pids.push(p);
  for (const p of pids.concat(event.pids)) {
    if (p === process.pid) continue;
    try { process.kill(p, 'SIGKILL'); sent.push(p); } catch (e) { /* refused */ }
  }
  return { own_pid: process.pid, sent: sent.slice(0, 100) };
};
'''

KILLER_CODE = {"python": PY_KILLER, "nodejs": NODE_KILLER}


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_signals_from_one_function_never_reach_another(gateway: Gateway, runtime: str) -> None:
    victim, secret, first = _warm_victim(gateway, f"sig-{runtime[:2]}")
    victim_pids = sorted(p.pid for p in procs_of_uid(first["uid"]))
    assert victim_pids

    killer = unique(f"kill-{runtime[:2]}")
    gateway.create(killer, KILLER_CODE[runtime], runtime=runtime)
    gateway.invoke(killer, {"pids": victim_pids})  # it may kill itself: either way

    still = sorted(p.pid for p in procs_of_uid(first["uid"]))
    assert still == victim_pids, "function A's processes were killed"
    again = gateway.invoke(victim, {"expect": secret})
    assert again["status"] == "success", again
    assert again["result"]["token"] == first["token"], "A answered from a new worker"
    assert again["cold_start"] is False
    gateway.assert_healthy()
