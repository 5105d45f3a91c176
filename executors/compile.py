"""Compiles Go and Rust functions at deploy: one binary per (source, handler, toolchain).

- Go: ``go build`` of the user's file with the runtime (standard library only,
  ``GOPROXY=off``, ``CGO_ENABLED=0``, a private ``GOCACHE``; a Debian Go ships its
  standard library compiled, so a function builds in well under a second).
- Rust: the runtime crate and its dependencies (``serde_json`` from Debian's
  packaged crates, an offline directory source) are built once per toolchain with
  ``cargo`` and published; a function is then one ``rustc`` run against those
  rlibs, its file ``include!``-d (:mod:`executors.compile_sources`).

Every step runs like a dependency build (:mod:`executors.buildrun`): inside the
build sandbox with **no network**, as a uid of the worker range, in a staging
directory; the output is published root-owned and read-only under the builds
base, named by a keyed hash of the digest (source, handler, toolchain version,
runtime library source). A cached build is found by that name; concurrent
compiles of one digest share one task; failures are not cached.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from executors import compile_sources as src
from executors import spawn
from executors.build import BuildResult
from executors.buildrun import (
    BUILD_RLIMITS,
    BUILD_TMP_MB,
    BuildSlot,
    SharedBuilds,
    in_slot,
    name_key,
    no_slot,
    publish_tree,
    published_name,
    run_tool,
)
from executors.limits import WorkerUser
from executors.models import Runtime
from executors.runtimes import SYSTEM_PATH, RuntimeCommand
from executors.sandbox import Sandbox, SandboxUnavailable, UidPool

__all__ = ["BINARY_NAME", "Compiler"]

logger = logging.getLogger("fngate.executors")

BINARY_NAME = "fn"  # the function's binary inside its published build
_FORMAT = "1"  # bump when the layout of a compiled build changes
_FOUND_MAX = 4096  # sources whose published build Compiler.cached remembers


class Compiler:
    """Builds and caches compiled functions for one gateway replica."""

    def __init__(self, *, slot: BuildSlot = no_slot) -> None:
        """``slot``: held while a compiler process runs (the worker pools' budget)."""
        self._slot = slot
        self._user = WorkerUser(name=None, uid=None, gid=None)
        self._commands: dict[Runtime, RuntimeCommand | None] = {}
        self._sandbox: Sandbox | None = None
        self._uids: UidPool | None = None
        self._refuse: str | None = None
        self._base: Path | None = None
        self._key: bytes | None = None
        self._versions: dict[Runtime, str | None] = {}
        # Where :meth:`cached` found a source's published build: a warm call then hashes
        # nothing, and only looks whether it is still there.
        self._found: dict[tuple[Runtime, str, str], str] = {}
        self._version_lock = asyncio.Lock()
        self._running: SharedBuilds[BuildResult] = SharedBuilds("compile")
        self._rust_base: asyncio.Task[BuildResult] | None = None
        self.builds_run = 0  # compiler processes started (a cache hit starts none)

    def configure(self, *, user: WorkerUser, commands: Mapping[Runtime, RuntimeCommand | None],
                  base: Path, sandbox: Sandbox | None = None, uids: UidPool | None = None,
                  refuse: str | None = None) -> None:
        """Use what the worker pools found; ``base`` is the builds base (0711)."""
        self._user = user
        self._commands = dict(commands)
        self._base = base
        self._refuse = refuse
        if sandbox is not None and sandbox.mode == "namespaces":
            self._sandbox = sandbox
            self._uids = uids

    async def close(self) -> None:
        """Cancel compiles in progress (their processes are killed, nothing is published)."""
        tasks: list[asyncio.Task[Any]] = list(self._running.tasks())
        if self._rust_base is not None:
            tasks.append(self._rust_base)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- toolchains and names ---------------------------------------------------

    async def toolchain_version(self, runtime: Runtime) -> str | None:
        """The toolchain's version line(s) (part of every digest); None: not runnable."""
        async with self._version_lock:
            if runtime not in self._versions:
                self._versions[runtime] = await asyncio.to_thread(self._probe, runtime)
            return self._versions[runtime]

    def _probe(self, runtime: Runtime) -> str | None:
        command = self._commands.get(runtime)
        if command is None or not command.compiled:
            return None
        argvs = [[command.interpreter, "version" if runtime == "go" else "--version"]]
        if command.cargo is not None:
            argvs.append([command.cargo, "--version"])
        lines = []
        for argv in argvs:
            try:
                proc = spawn.run(argv, env={"PATH": SYSTEM_PATH, "LANG": "C.UTF-8",
                                            "HOME": "/nonexistent"},
                                 cwd="/", timeout=30, uid=self._user.uid, gid=self._user.gid)
            except (OSError, subprocess.SubprocessError):
                return None
            if proc.returncode != 0:
                return None
            lines.append(proc.stdout.decode("utf-8", "replace").strip())
        return " | ".join(lines)

    def _name(self, digest: str) -> Path:
        assert self._base is not None, "configure() first"
        if self._key is None:
            self._key = name_key(self._base)
        return self._base / published_name(self._key, digest)

    @staticmethod
    def _digest(runtime: Runtime, version: str, code: str, handler: str) -> str:
        raw = orjson.dumps({"format": _FORMAT, "runtime": runtime, "toolchain": version,
                            "library": src.runtime_source_digest(runtime),
                            "handler": handler, "code": code})
        return hashlib.sha256(raw).hexdigest()[:32]

    def cached(self, runtime: Runtime, code: str, handler: str) -> str | None:
        """The published build of this source, if this replica has one (else None)."""
        key = (runtime, code, handler)
        found = self._found.get(key)
        if found is not None and os.path.isfile(os.path.join(found, BINARY_NAME)):
            return found
        version = self._versions.get(runtime)
        if version is None or self._base is None:
            return None
        path = self._name(self._digest(runtime, version, code, handler))
        if not (path / BINARY_NAME).is_file():
            return None
        if len(self._found) >= _FOUND_MAX:
            del self._found[next(iter(self._found))]  # the oldest found
        self._found[key] = found = str(path)
        return found

    # --- compiling ----------------------------------------------------------------

    async def compile(self, runtime: Runtime, code: str, handler: str, *,
                      slot_wait_s: float | None = None) -> BuildResult:
        """Compile (or find cached) one function; never raises for the user's faults.
        ``slot_wait_s``: how long a caller waits for the compile to get a slot of the
        worker budget, then :class:`~executors.budget.BuildQueued` (None: as long as it
        takes)."""
        if self._refuse is not None:
            return BuildResult(ok=False, path=None,
                               log=f"the sandbox could not be set up: {self._refuse}")
        version = await self.toolchain_version(runtime)
        if version is None or self._base is None:
            return BuildResult(ok=False, path=None,
                               log=f"no {runtime} toolchain the build user can run here")
        digest = self._digest(runtime, version, code, handler)
        final = self._name(digest)
        if (final / BINARY_NAME).is_file():
            return BuildResult(ok=True, log="cached", path=str(final))
        return await self._running.join(
            digest, lambda: self._compile(runtime, code, handler, final),
            slot_wait_s=slot_wait_s)

    async def _compile(self, runtime: Runtime, code: str, handler: str,
                       final: Path) -> BuildResult:
        began = time.monotonic()
        base_log = ""
        deps: Path | None = None
        if runtime == "rust":
            built = await self._rust_runtime()
            if not built.ok or built.path is None:
                return BuildResult(ok=False, path=None,
                                   log="building the Rust runtime crate failed:\n" + built.log)
            deps = Path(built.path)
            base_log = "" if built.log == "cached" else built.log
        tree = (src.go_sources(code, handler) if runtime == "go"
                else src.rust_main(code, handler))
        if isinstance(tree, src.CompileError):
            return BuildResult(ok=False, path=None, log=tree.message)
        async with _Staging(self) as stage:
            stage.write(tree.files)
            command = self._commands[runtime]
            assert command is not None
            argv, env = (self._go_argv(command, stage) if runtime == "go"
                         else self._rust_argv(command, stage, deps))
            ro = ((str(deps), str(deps)),) if deps is not None else ()
            code_, log = await self._run(argv, env, stage, ro)
            if code_ != 0:
                error = src.first_error(runtime, log, tree)
                return BuildResult(ok=False, path=None,
                                   log=src.readable_log(runtime, log, tree, error),
                                   line=error.line, column=error.column, message=error.message)
            await stage.publish(final)
        logger.info("compiled a %s function in %.2fs", runtime, time.monotonic() - began)
        return BuildResult(ok=True, log=base_log + log, path=str(final))

    def _go_argv(self, command: RuntimeCommand,
                 stage: _Staging) -> tuple[list[str], dict[str, str]]:
        go = command.interpreter
        env = {
            "PATH": f"{os.path.dirname(go)}:{SYSTEM_PATH}", "HOME": str(stage.home),
            "TMPDIR": str(stage.home), "LANG": "C.UTF-8",
            "GOCACHE": str(stage.root / "gocache"), "GOPATH": str(stage.root / "gopath"),
            "GOPROXY": "off", "GOFLAGS": "-mod=mod -buildvcs=false", "CGO_ENABLED": "0",
            "GOENV": "off", "GOTOOLCHAIN": "local", "GOTELEMETRY": "off", "GO111MODULE": "on",
        }
        return [go, "build", "-o", str(stage.out / BINARY_NAME), "."], env

    def _rust_argv(self, command: RuntimeCommand, stage: _Staging,
                   deps: Path | None) -> tuple[list[str], dict[str, str]]:
        assert deps is not None
        rustc = command.interpreter
        env = {"PATH": f"{os.path.dirname(rustc)}:{SYSTEM_PATH}", "HOME": str(stage.home),
               "TMPDIR": str(stage.home), "LANG": "C.UTF-8"}
        manifest = orjson.loads((deps / "manifest.json").read_bytes())
        externs: list[str] = []
        for crate, file in sorted(manifest.items()):
            externs += ["--extern", f"{crate}={deps / 'deps' / file}"]
        argv = [rustc, "--edition", "2021", "--crate-type", "bin", "--crate-name", "function",
                "-C", "opt-level=2", "-C", "debuginfo=0", "-L", f"dependency={deps / 'deps'}",
                *externs, "-o", str(stage.out / BINARY_NAME), "main.rs"]
        return argv, env

    async def _rust_runtime(self) -> BuildResult:
        """The runtime crate and serde_json, built once per toolchain (shared task)."""
        version = self._versions.get("rust")
        assert version is not None
        digest = hashlib.sha256(orjson.dumps({
            "format": _FORMAT, "runtime-crate": src.runtime_source_digest("rust"),
            "toolchain": version})).hexdigest()[:32]
        final = self._name(digest)
        if (final / "manifest.json").is_file():
            return BuildResult(ok=True, log="cached", path=str(final))
        if self._rust_base is None or self._rust_base.done():
            self._rust_base = asyncio.create_task(self._build_rust_runtime(final),
                                                  name="fngate-compile-rust-runtime")
        return await asyncio.shield(self._rust_base)

    async def _build_rust_runtime(self, final: Path) -> BuildResult:
        command = self._commands["rust"]
        assert command is not None and command.cargo is not None
        began = time.monotonic()
        async with _Staging(self) as stage:
            stage.write(src.rust_base_sources())
            env = {"PATH": f"{os.path.dirname(command.interpreter)}:{SYSTEM_PATH}",
                   "HOME": str(stage.home), "TMPDIR": str(stage.home), "LANG": "C.UTF-8",
                   "CARGO_HOME": str(stage.root / "cargo-home"), "RUSTC": command.interpreter,
                   "CARGO_TARGET_DIR": str(stage.root / "target"),
                   "CARGO_NET_OFFLINE": "true", "CARGO_TERM_COLOR": "never"}
            argv = [command.cargo, "build", "--release", "--offline", "--lib"]
            code, log = await self._run(argv, env, stage, ())
            if code != 0:
                return BuildResult(ok=False, log=log, path=None)
            await asyncio.to_thread(_collect_rlibs, stage.root / "target" / "release" / "deps",
                                    stage.out)
            await stage.publish(final)
        logger.info("built the Rust runtime crate in %.1fs", time.monotonic() - began)
        return BuildResult(ok=True, log=log, path=str(final))

    async def _run(self, argv: list[str], env: dict[str, str], stage: _Staging,
                   ro: tuple[tuple[str, str], ...]) -> tuple[int, str]:
        """One compiler run in the build sandbox (no network) as the staging's uid, in a
        slot of the worker budget."""
        uid, gid = stage.uid, stage.gid
        if self._sandbox is not None:
            argv = self._sandbox.command(
                argv, uid=uid if uid is not None else os.getuid(), network="none",
                storage_mb=BUILD_TMP_MB, rlimits=BUILD_RLIMITS, ro_binds=ro,
                rw_binds=((str(stage.root), str(stage.root)),), build=True,
                chdir=str(stage.src))
        async with in_slot(self._slot):
            self.builds_run += 1
            return await run_tool(argv, env=env, cwd=str(stage.src), uid=uid, gid=gid)


def _collect_rlibs(deps: Path, out: Path) -> None:
    """Copy the rlibs of a release build into ``out/deps`` with a manifest of the crates
    a function links (``name → file``); the rest are found through ``-L dependency``."""
    (out / "deps").mkdir()
    manifest: dict[str, str] = {}
    for rlib in sorted(deps.glob("lib*.rlib")):
        if rlib.is_symlink() or not rlib.is_file():
            continue  # the build's uid made it: only its own regular files are taken
        shutil.copyfile(rlib, out / "deps" / rlib.name, follow_symlinks=False)
        crate = rlib.name[3:].rsplit("-", 1)[0]
        if crate in ("fngate_runtime", "serde_json", "serde"):
            manifest[crate] = rlib.name
    (out / "manifest.json").write_bytes(orjson.dumps(manifest))


def _publish(out: Path, final: Path) -> None:
    publish_tree(out)
    try:
        os.rename(out, final)
    except OSError:
        if not final.is_dir():  # another replica/process published it first: fine
            raise


class _Staging:
    """A private directory for one compile (``src``, ``home``, ``out``), owned by the
    build's uid, removed at the end; :meth:`publish` moves ``out`` into place."""

    def __init__(self, compiler: Compiler) -> None:
        self._compiler = compiler
        self.uid: int | None = None
        self.gid: int | None = None
        self._lease: Any = None
        self.root = Path()

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def out(self) -> Path:
        return self.root / "out"

    async def __aenter__(self) -> _Staging:
        c = self._compiler
        assert c._base is not None
        if c._sandbox is not None and c._uids is not None:
            try:
                self._lease = c._uids.acquire()
            except (SandboxUnavailable, OSError) as exc:
                raise RuntimeError(f"no uid for the build: {exc}") from exc
            self.uid = self.gid = self._lease.uid
        else:
            self.uid, self.gid = c._user.uid, c._user.gid
        self.root = Path(await asyncio.to_thread(
            tempfile.mkdtemp, prefix="compile-", dir=c._base / ".staging"))
        for d in (self.src, self.home, self.out):
            d.mkdir(mode=0o700)
        return self

    def write(self, files: Mapping[str, str]) -> None:
        """Write the sources and hand the whole staging tree to the build's uid."""
        for rel, text in files.items():
            path = self.src / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if self.uid is not None:
            for dirpath, _dirs, names in os.walk(self.root):
                for name in [*names, ""]:
                    os.chown(os.path.join(dirpath, name) if name else dirpath,
                             self.uid, self.gid if self.gid is not None else self.uid)

    async def publish(self, final: Path) -> None:
        """Make ``out`` root's and read-only, then rename it to ``final`` (atomic)."""
        await asyncio.to_thread(_publish, self.out, final)

    async def __aexit__(self, *_exc: object) -> None:
        try:
            if self.root != Path():
                await asyncio.to_thread(shutil.rmtree, self.root, True)
        finally:
            if self._lease is not None:
                self._lease.release()
