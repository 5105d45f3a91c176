"""Dependency builds: install a function's packages once per replica, share the result.

A build installs pip requirement specifiers (python) or npm ``name@range``
(nodejs) into a directory the workers can read, then the runner puts it on
``sys.path`` / the user module's ``require()`` paths. Only names and version
ranges are accepted (checked again here, whatever the gateway checked).

- Where: ``<tmp>/fngate-builds/<hash>`` beside ``<tmp>/fngate-work`` (outside the
  gateway's 0700 data directory, which workers cannot reach). The hash covers
  the runtime, the interpreter's version and the sorted specifiers.
- How: as root, the tool runs as the worker user (no root for package code), in
  its own process group, with a clean environment, a private HOME and a 300 s
  limit. pip installs wheels only (``--only-binary=:all:``) and npm runs no
  install scripts (``--ignore-scripts``), so installing runs no package code.
  When the workers' Python has no pip, the gateway's own pip installs wheels
  for the workers' interpreter and platform (``--python-version``/``--platform``).
- Publishing: the tool writes into a staging directory (inside a 0711 root
  directory, so other processes of the worker user cannot find it); the result
  is made root-owned, 0755/0644, and renamed into place, so the cache never holds
  a half-built entry and functions cannot modify what other functions load.
- Sharing: concurrent builds of the same hash await one task; failures are not
  cached (the next build retries).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

import config
from executors import limits, spawn
from executors.buildrun import (
    BUILD_RLIMITS,
    BUILD_TIMEOUT_S,
    BUILD_TMP_MB,
    MAX_BUILD_LOG_BYTES,
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
from executors.models import COMPILED_RUNTIMES, RUNTIMES, Runtime
from executors.runtimes import SYSTEM_PATH, RuntimeCommand, detect_runtimes
from executors.sandbox import Sandbox, SandboxUnavailable, UidPool

__all__ = [
    "BUILD_TIMEOUT_S",
    "MAX_BUILD_LOG_BYTES",
    "BuildResult",
    "Builder",
    "InvalidDependency",
    "builds_base",
    "check_dependencies",
]

logger = logging.getLogger("fngate.executors")

MAX_DEPENDENCIES = 200
MAX_SPECIFIER_CHARS = 200
_FORMAT = "1"  # bump when the layout of a build changes

# Variables copied from the gateway's environment into a build's (any case for proxies).
_PASS_ENV = {
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CONFIG_FILE",
    "PIP_CERT",
    "NPM_CONFIG_REGISTRY",
    "NPM_CONFIG_CAFILE",
    # Trust roots (a TLS-inspecting proxy's CA): npm needs NODE_EXTRA_CA_CERTS for one.
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
}
_PASS_ENV_ANY_CASE = {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"}

_PEP508_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_PY_VERSION = r"(?:===|==|!=|<=|>=|~=|<|>)\s*[A-Za-z0-9][A-Za-z0-9.*+!_-]*"
_PY_SPEC = re.compile(
    rf"{_PEP508_NAME}(?:\[\s*{_PEP508_NAME}(?:\s*,\s*{_PEP508_NAME})*\s*\])?"
    rf"\s*(?:{_PY_VERSION}(?:\s*,\s*{_PY_VERSION})*)?",
    re.ASCII,
)
_NPM_NAME = r"(?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*"
# Ranges: versions, x/*, ^ ~ comparators, hyphen ranges, ||, or a dist-tag.
_NPM_RANGE = r"[A-Za-z0-9.*^~<>=|+ -]*[A-Za-z0-9.*]"
_NPM_SPEC = re.compile(rf"({_NPM_NAME})(?:@({_NPM_RANGE}))?", re.ASCII)


class InvalidDependency(ValueError):
    """A specifier is not a plain package name with an optional version range."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildResult:
    """The outcome of a build: ``path`` to hand the runner when ``ok`` (None: no deps)."""

    ok: bool
    log: str
    path: str | None
    # A failed compile (executors/compile.py): its first error, in the user's file.
    message: str | None = None
    line: int | None = None
    column: int | None = None


def check_dependencies(runtime: Runtime, dependencies: Sequence[str]) -> list[str]:
    """Return the specifiers stripped, sorted and deduplicated; raise InvalidDependency."""
    if runtime not in RUNTIMES:
        raise InvalidDependency(f"unknown runtime {runtime!r}")
    if runtime in COMPILED_RUNTIMES and dependencies:
        raise InvalidDependency(f"{runtime} functions take no dependencies")
    if isinstance(dependencies, str):
        raise InvalidDependency("dependencies must be a list of strings")
    if len(dependencies) > MAX_DEPENDENCIES:
        raise InvalidDependency(f"more than {MAX_DEPENDENCIES} dependencies")
    out: set[str] = set()
    for raw in dependencies:
        if not isinstance(raw, str):
            raise InvalidDependency(f"dependency {raw!r} is not a string")
        spec = raw.strip()
        if not spec or len(spec) > MAX_SPECIFIER_CHARS:
            raise InvalidDependency(f"dependency {raw!r} is empty or too long")
        if spec.startswith("-") or ":" in spec or "\\" in spec or not spec.isprintable():
            raise InvalidDependency(f"dependency {raw!r}: options, URLs and paths are not allowed")
        if runtime == "python":
            if "/" in spec or not _PY_SPEC.fullmatch(spec):
                raise InvalidDependency(
                    f"dependency {raw!r} is not a pip name with an optional version range"
                )
        else:
            m = _NPM_SPEC.fullmatch(spec)
            # One '/' only, in an '@scope/name' (anything else is a path or a git shorthand).
            if m is None or spec.count("/") > (1 if spec.startswith("@") else 0):
                raise InvalidDependency(
                    f"dependency {raw!r} is not an npm name with an optional @range"
                )
        out.add(spec)
    return sorted(out)


def builds_base(base: Path | None = None) -> Path:
    """The 0711 directory of published builds (default: beside the workers' directories):
    a build is reachable by its path, never listed."""
    if base is None:
        base = Path(tempfile.gettempdir()) / limits.per_user("fngate-builds")
    base.mkdir(mode=0o711, exist_ok=True)
    st = base.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise RuntimeError(f"{base} is not a directory of this user")
    os.chmod(base, 0o711)
    staging = base / ".staging"
    staging.mkdir(mode=0o711, exist_ok=True)
    st = staging.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise RuntimeError(f"{staging} is not a directory of this user")
    os.chmod(staging, 0o711)
    return base


def build_env(home: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A build's environment: PATH, HOME, LANG, TMPDIR plus index/proxy/trust settings."""
    source = os.environ if environ is None else environ
    env = {"PATH": SYSTEM_PATH, "HOME": str(home), "TMPDIR": str(home), "LANG": "C.UTF-8"}
    for key, value in source.items():
        if key.startswith("FNGATE_"):
            continue
        if key in _PASS_ENV or key.upper() in _PASS_ENV_ANY_CASE:
            env[key] = value
    return env


def _glibc_minor() -> int:
    libc, version = platform.libc_ver()
    if libc == "glibc":
        with contextlib.suppress(ValueError, IndexError):
            return int(version.split(".")[1])
    return 17


def _wheel_platform_args(version: str) -> list[str]:
    """pip options that pick wheels for the workers' CPython ``X.Y`` on this machine."""
    machine = platform.machine()
    major, minor = version.split(".")[:2]
    args = [
        "--python-version", f"{major}.{minor}",
        "--implementation", "cp",
        "--abi", f"cp{major}{minor}",
    ]  # fmt: skip
    plats = [f"manylinux_2_{m}_{machine}" for m in range(_glibc_minor(), 4, -1)]
    plats += [f"manylinux2014_{machine}", f"linux_{machine}"]
    if machine in ("x86_64", "i686"):
        plats += [f"manylinux2010_{machine}", f"manylinux1_{machine}"]
    for plat in plats:
        args += ["--platform", plat]
    return args


@dataclass(frozen=True, slots=True, kw_only=True)
class _Tool:
    runtime: Runtime
    interpreter: str
    version: str  # the interpreter's version, part of the hash
    pip_as_worker: bool = True  # python: the workers' interpreter has pip


class Builder:
    """Builds and caches dependency directories for one gateway replica."""

    def __init__(self, settings: config.Settings, *, base: Path | None = None,
                 slot: BuildSlot = no_slot) -> None:
        """``base``: where builds are published (default ``<tmp>/fngate-builds``); it must
        be reachable by the worker user, so never inside the 0700 data directory.
        ``slot``: held while a build process runs (the worker pools' budget)."""
        self._settings = settings
        self._slot = slot
        self._base_arg = base
        self._user: WorkerUser | None = None
        self._commands: dict[Runtime, RuntimeCommand | None] | None = None
        self._tools: dict[Runtime, _Tool | None] = {}
        self._base: Path | None = None
        self._running: SharedBuilds[BuildResult] = SharedBuilds("build")
        self._prepare_lock = asyncio.Lock()
        self._preparing: asyncio.Task[None] | None = None
        self.builds_run = 0  # build processes started (a cache hit starts none)
        self._sandbox: Sandbox | None = None
        self._uids: UidPool | None = None
        self._key: bytes | None = None
        # Why no build may run here (the sandbox could not be set up), else None.
        self._refuse: str | None = None

    @property
    def _sandboxed(self) -> bool:
        return self._sandbox is not None

    # --- setup ---------------------------------------------------------------

    def configure(
        self,
        *,
        user: WorkerUser,
        commands: Mapping[Runtime, RuntimeCommand | None],
        sandbox: Sandbox | None = None,
        uids: UidPool | None = None,
        refuse: str | None = None,
    ) -> None:
        """Use what the worker pools found (else :meth:`build` detects it on first use);
        call from the event loop: the tools are probed in the background. With a
        namespace ``sandbox`` every build runs in one, as a uid of ``uids``."""
        self._user = user
        self._refuse = refuse
        if sandbox is not None and sandbox.mode == "namespaces":
            self._sandbox = sandbox
            self._uids = uids
        self._commands = dict(commands)
        if self._preparing is None:
            # In the background: pool start-up does not wait for pip/npm probes.
            self._preparing = asyncio.get_running_loop().create_task(
                self._prepare_quietly(), name="fngate-build-prepare"
            )

    async def prepare(self) -> None:
        """Probe every runtime's build tools now (else on first build); :meth:`cached`
        answers None for a runtime until this or a build of it has run."""
        for runtime in RUNTIMES:
            await self._tool(runtime)

    async def _prepare_quietly(self) -> None:
        try:
            await self.prepare()
        except Exception:
            logger.exception("could not prepare dependency builds")

    @property
    def base(self) -> Path:
        """Where published builds live (created on first use)."""
        if self._base is None:
            self._base = builds_base(self._base_arg)
        return self._base

    async def _tool(self, runtime: Runtime) -> _Tool | None:
        async with self._prepare_lock:
            if runtime in self._tools:
                return self._tools[runtime]
            if self._user is None:
                self._user = await asyncio.to_thread(
                    limits.ensure_worker_user, self._settings.worker_user
                )
            if self._commands is None:
                self._commands = await asyncio.to_thread(detect_runtimes, self._user)
            if self._base is None:
                self._base = await asyncio.to_thread(builds_base, self._base_arg)
            command = self._commands.get(runtime)
            tool = None if command is None else await asyncio.to_thread(self._probe, command)
            self._tools[runtime] = tool
            return tool

    def _probe(self, command: RuntimeCommand) -> _Tool | None:
        """The interpreter's version, and (python) whether it has pip (blocking); None for
        Go and Rust, which install nothing (executors/compile.py builds them)."""
        if command.compiled:
            return None
        if command.runtime == "python":
            code = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
            out = self._run_probe([command.interpreter, "-I", "-c", code])
            if out is None:
                return None
            has_pip = self._run_probe([command.interpreter, "-I", "-m", "pip", "--version"])
            if has_pip is None:
                logger.warning(
                    "%s has no pip: builds use %s -m pip for it (wheels only, as %s)",
                    command.interpreter,
                    sys.executable,
                    "this user",
                )
            return _Tool(
                runtime="python",
                interpreter=command.interpreter,
                version=out.strip(),
                pip_as_worker=has_pip is not None,
            )
        out = self._run_probe([command.interpreter, "--version"])
        npm = shutil.which("npm", path=SYSTEM_PATH)
        if out is None or npm is None:
            return None
        return _Tool(runtime="nodejs", interpreter=command.interpreter, version=out.strip())

    def _run_probe(self, argv: list[str]) -> str | None:
        user = self._user or WorkerUser(name=None, uid=None, gid=None)
        try:
            proc = spawn.run(
                argv,
                env={"PATH": SYSTEM_PATH, "LANG": "C.UTF-8"},
                cwd="/",
                timeout=30,
                uid=user.uid,
                gid=user.gid,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else None

    # --- cache ---------------------------------------------------------------

    def _published_name(self, digest: str) -> str:
        """The directory name of a published build: a keyed hash of its digest.

        The base is 0711 (no listing) and the key is root's alone, so a worker finds only
        the build whose path it was handed: another function's build cannot be named
        from its dependency list."""
        if self._key is None:
            self._key = name_key(self.base)
        return published_name(self._key, digest)

    @staticmethod
    def _hash(tool: _Tool, specs: Sequence[str]) -> str:
        raw = orjson.dumps(
            {
                "format": _FORMAT,
                "runtime": tool.runtime,
                "interpreter": tool.version,
                "machine": platform.machine(),
                "dependencies": sorted(specs),
            }
        )
        return hashlib.sha256(raw).hexdigest()[:32]

    def cached(self, runtime: Runtime, dependencies: Sequence[str]) -> str | None:
        """The published build of these dependencies, if this replica has one (no deps: None)."""
        tool = self._tools.get(runtime)
        if not dependencies or tool is None:
            return None
        try:
            specs = check_dependencies(runtime, dependencies)
        except InvalidDependency:
            return None
        path = self.base / self._published_name(self._hash(tool, specs))
        return str(path) if path.is_dir() else None

    # --- building --------------------------------------------------------------

    async def build(self, runtime: Runtime, dependencies: Sequence[str], *,
                    slot_wait_s: float | None = None) -> BuildResult:
        """Install ``dependencies`` (or find them cached); never raises for bad packages.
        ``slot_wait_s``: how long a caller waits for the build to get a slot of the worker
        budget, then :class:`~executors.budget.BuildQueued` (None: as long as it takes)."""
        if not dependencies:
            return BuildResult(ok=True, log="", path=None)
        try:
            specs = check_dependencies(runtime, dependencies)
        except InvalidDependency as exc:
            return BuildResult(ok=False, log=str(exc), path=None)
        if self._refuse is not None:
            return BuildResult(ok=False, log=f"the sandbox could not be set up: {self._refuse}",
                               path=None)
        tool = await self._tool(runtime)
        if tool is None:
            return BuildResult(
                ok=False, log=f"runtime {runtime!r} cannot build dependencies here", path=None
            )
        digest = self._hash(tool, specs)
        final = self.base / self._published_name(digest)
        if final.is_dir():
            return BuildResult(ok=True, log="cached", path=str(final))
        return await self._running.join(digest, lambda: self._build(tool, specs, digest),
                                        slot_wait_s=slot_wait_s)

    async def close(self) -> None:
        """Cancel builds in progress (their processes are killed, nothing is published)."""
        tasks: list[asyncio.Task[Any]] = list(self._running.tasks())
        if self._preparing is not None:
            tasks.append(self._preparing)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _build(self, tool: _Tool, specs: list[str], digest: str) -> BuildResult:
        started = time.monotonic()
        base = self.base
        try:
            lease = self._uids.acquire() if self._sandboxed and self._uids is not None else None
        except (SandboxUnavailable, OSError) as exc:
            return BuildResult(ok=False, log=f"no uid for the build: {exc}", path=None)
        user = self._user or WorkerUser(name=None, uid=None, gid=None)
        if lease is not None:
            user = WorkerUser(name=None, uid=lease.uid, gid=lease.uid)
        as_worker = tool.runtime == "nodejs" or tool.pip_as_worker or self._sandboxed
        staging = Path(
            await asyncio.to_thread(
                tempfile.mkdtemp, prefix=f"{digest[:12]}-", dir=base / ".staging"
            )
        )
        try:
            home = staging / "home"
            out = staging / "out"
            for d in (home, out):
                d.mkdir(mode=0o700)
                if as_worker and user.uid is not None and user.gid is not None:
                    os.chown(d, user.uid, user.gid)
            if as_worker and user.uid is not None and user.gid is not None:
                os.chown(staging, user.uid, user.gid)
            argv = self._argv(tool, specs, out)
            if self._sandboxed:
                argv = self._sandbox_argv(argv, staging, home, user)
            code, log = await self._run_tool(argv, home, user if as_worker else None)
            if code != 0:
                logger.info("build %s (%s) failed", digest[:12], tool.runtime)
                return BuildResult(ok=False, log=log, path=None)
            final = base / self._published_name(digest)
            await asyncio.to_thread(publish_tree, out)
            try:
                os.rename(out, final)
            except OSError:
                if not final.is_dir():  # another replica/process published it first: fine
                    raise
            logger.info(
                "build %s (%s) published in %.1fs",
                digest[:12],
                tool.runtime,
                time.monotonic() - started,
            )
            return BuildResult(ok=True, log=log, path=str(final))
        finally:
            await asyncio.to_thread(shutil.rmtree, staging, True)
            if lease is not None:
                lease.release()

    def _sandbox_argv(self, argv: list[str], staging: Path, home: Path,
                      user: WorkerUser) -> list[str]:
        """The tool inside the build sandbox: egress (public addresses) when this replica
        has it, the staging directory writable, local package indexes read-only."""
        assert self._sandbox is not None
        ro: list[tuple[str, str]] = [(p, p) for p in _local_package_sources()]
        if argv[0] == sys.executable:  # the gateway's pip builds for the workers' Python
            ro += [(p, p) for p in {sys.base_prefix, sys.prefix} if not p.startswith("/usr")]
        return self._sandbox.command(
            argv,
            uid=user.uid if user.uid is not None else os.getuid(),
            network="none" if self._sandbox.egress_unavailable else "egress",
            storage_mb=BUILD_TMP_MB,
            rlimits=BUILD_RLIMITS,
            ro_binds=tuple(ro),
            rw_binds=((str(staging), str(staging)),),
            build=True,
            chdir=str(home),
        )

    def _argv(self, tool: _Tool, specs: list[str], out: Path) -> list[str]:
        if tool.runtime == "nodejs":
            npm = shutil.which("npm", path=SYSTEM_PATH) or "npm"
            return [
                npm, "install",
                "--prefix", str(out),
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--omit=dev",
                "--no-save",
                "--no-package-lock",
                "--no-update-notifier",
                "--loglevel=warn",
                "--",
                *specs,
            ]  # fmt: skip
        common = [
            "install",
            "--target", str(out),
            "--only-binary=:all:",
            "--no-compile",
            "--no-input",
            "--disable-pip-version-check",
            "--no-warn-script-location",
            "--progress-bar=off",
        ]  # fmt: skip
        if tool.pip_as_worker:
            return [tool.interpreter, "-I", "-m", "pip", *common, *specs]
        return [
            sys.executable, "-I", "-m", "pip", *common,
            *_wheel_platform_args(tool.version),
            *specs,
        ]  # fmt: skip

    async def _run_tool(
        self, argv: list[str], home: Path, user: WorkerUser | None
    ) -> tuple[int, str]:
        """Run the tool in its own session, in a slot of the worker budget; (exit code,
        log tail); -9 on timeout."""
        async with in_slot(self._slot):
            self.builds_run += 1
            return await run_tool(argv, env=build_env(home), cwd=str(home),
                                  uid=user.uid if user is not None else None,
                                  gid=user.gid if user is not None else None,
                                  timeout_s=BUILD_TIMEOUT_S)


def _local_package_sources() -> list[str]:
    """Local directories the system's pip configuration points at (``find-links``,
    ``file://`` indexes, a constraints file): a build sandbox shows them read-only."""
    import configparser

    found: set[str] = set()
    for conf in ("/etc/pip.conf", "/etc/xdg/pip/pip.conf"):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(conf)
        except configparser.Error:
            continue
        for section in parser.sections():
            for value in parser[section].values():
                for word in value.split():
                    path = word.removeprefix("file://")
                    if path.startswith("/") and os.path.exists(path):
                        found.add(os.path.realpath(path))
    return sorted(found)
