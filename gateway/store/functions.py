"""Repository for functions and their versions."""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from gateway.core.errors import Conflict, InvalidRequest, NotFound, project_not_found
from gateway.core.identifiers import numeric_id
from gateway.core.models import FunctionRecord, VersionRecord
from gateway.core.projects import COMPILED, layered_dependencies
from gateway.core.quotas import quota_exceeded
from gateway.core.secretbox import SecretBox, fingerprint
from gateway.store.replicas import write_cleanup

__all__ = ["FunctionStore", "NewVersion", "VersionChange", "CHANGES_CHANNEL", "notify_change",
           "function_not_found", "version_not_found"]

CHANGES_CHANNEL = "fngate_changes"

_CACHE_MAX = 10_000
# However alive the change listener, a cached function is read again this long after:
# it bounds how many functions' code the cache holds.
_CACHE_KEEP_S = 60.0

# With what its project and the system layer beneath it (0008_projects.sql).
_SELECT = """
SELECT f.*, v.code, v.handler, v.dependencies, v.build_status, v.resolved_dependencies,
       p.status AS project_status, p.max_concurrency AS project_max_concurrency,
       coalesce(s.environment, '{}') || coalesce(p.environment, '{}') AS inherited_environment,
       coalesce(s.dependencies, '[]') || coalesce(p.dependencies, '[]')
           AS inherited_dependencies,
       s.secrets AS system_secrets, p.secrets AS project_secrets
FROM functions f
LEFT JOIN function_versions v ON v.function_id = f.id AND v.version = f.active_version
LEFT JOIN projects p ON p.name = f.project
LEFT JOIN system_settings s ON s.id = 0
"""

# Columns a create or an in-place update may set.
COLUMNS = (
    "project",
    "runtime",
    "execution_type",
    "description",
    "environment",
    "timeout_ms",
    "memory_mb",
    "network",
    "ephemeral_storage_mb",
    "cpu_millis",
    "max_concurrency",
    "min_warm",
    "cache_ttl",
    "cache_scope",
    "max_retries",
    "rate_limit",
    "schema",
    "examples",
    "labels",
    "secrets",
    "secret_names",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewVersion:
    """The code of a new version."""

    runtime: str
    code: str
    handler: str
    dependencies: list[str] = field(default_factory=list)

    @property
    def needs_build(self) -> bool:
        """Dependencies to install, or a Go or Rust source to compile."""
        return bool(self.dependencies) or self.runtime in COMPILED


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionChange:
    """What an update changes of the code; None keeps the newest usable version's value."""

    runtime: str | None = None
    code: str | None = None
    handler: str | None = None
    dependencies: list[str] | None = None


def _record(row: Mapping[str, Any], box: SecretBox) -> FunctionRecord:
    layers = (row["system_secrets"], row["project_secrets"], row["secrets"])
    secrets: dict[str, str] = {}
    for token in layers:  # system, then project, then the function's own
        secrets.update(box.open(token))
    return FunctionRecord(
        id=row["id"],
        name=row["name"],
        project=row["project"],
        runtime=row["runtime"],
        execution_type=row["execution_type"],
        description=row["description"],
        environment=row["environment"],
        timeout_ms=row["timeout_ms"],
        memory_mb=row["memory_mb"],
        max_concurrency=row["max_concurrency"],
        min_warm=row["min_warm"],
        cache_ttl=row["cache_ttl"],
        cache_scope=row["cache_scope"],
        max_retries=row["max_retries"],
        rate_limit=row["rate_limit"],
        schema=row["schema"],
        examples=row["examples"],
        labels=row["labels"],
        active_version=row["active_version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        network=row["network"],
        ephemeral_storage_mb=row["ephemeral_storage_mb"],
        cpu_millis=row["cpu_millis"],
        code=row["code"] or "",
        handler=row["handler"] or "handler",
        dependencies=row["dependencies"] or [],
        build_status=row["build_status"] or "success",
        resolved_dependencies=row["resolved_dependencies"],
        project_status=row["project_status"] or "running",
        project_max_concurrency=row["project_max_concurrency"],
        inherited_environment=row["inherited_environment"] or {},
        inherited_dependencies=row["inherited_dependencies"] or [],
        secret_names=list(row["secret_names"]), secrets=secrets,
        secrets_fingerprint=fingerprint(*layers),
    )


def _sealed(fields: Mapping[str, Any], box: SecretBox) -> dict[str, Any]:
    """``fields`` with a ``secrets`` map replaced by its sealed token and its names."""
    if "secrets" not in fields:
        return dict(fields)
    values: Mapping[str, str] = fields["secrets"] or {}
    return {**fields, "secrets": box.seal(values), "secret_names": sorted(values)}


@dataclass(slots=True, eq=False)
class _OwnChange:
    """A change of one function made by this replica, its notification not back yet."""

    function_id: int
    sender: int  # the backend process id of the connection that made it
    committed_at: float | None = None  # time.monotonic() once its transaction committed


class _Changing:
    """The connection of a transaction that changes functions, and what it announced."""

    def __init__(self, conn: Any, expected: dict[int, deque[_OwnChange]]) -> None:
        self.conn = conn
        self.changes: list[_OwnChange] = []
        self._expected = expected

    async def announce(self, function_id: int) -> None:
        """NOTIFY every replica (this one too) of a change of ``function_id`` at commit."""
        if len(self._expected) >= _CACHE_MAX:  # notifications lost with the listener
            self._expected.clear()
        change = _OwnChange(function_id, self.conn.get_server_pid())
        self._expected.setdefault(function_id, deque()).append(change)
        self.changes.append(change)
        await notify_change(self.conn, "function", function_id)

    def abandon(self) -> None:
        """The transaction did not commit (as far as this replica knows)."""
        for change in self.changes:
            own = self._expected.get(change.function_id)
            if own is not None and change in own:
                own.remove(change)
                if not own:
                    del self._expected[change.function_id]


class FunctionStore:
    """Functions and versions in PostgreSQL."""

    def __init__(self, pool: Any, *, box: SecretBox, cache_ttl_s: float = 0.0) -> None:
        self._pool = pool
        self._box = box
        # ref -> (record, read at): found functions only. A change of one function drops
        # its entries (this replica's writes at once, every replica's through ``forget``
        # from the change listener); a change of anything else drops them all. An entry
        # is trusted for ``cache_ttl_s`` after it was read or after the change listener
        # last proved every change before it was told (``listener_alive``), whichever
        # is later (a listener that stops hearing changes bounds staleness as before),
        # and for at most _CACHE_KEEP_S.
        self._cache_ttl_s = cache_ttl_s
        self._cache: dict[str, tuple[FunctionRecord, float]] = {}
        # The refs each function was cached under (some may have moved on since), and
        # those resolved by language title.
        self._refs: dict[int, set[str]] = {}
        self._titles: set[str] = set()
        self._alive_at = -math.inf
        # A read is not cached when its function was forgotten after the read began.
        self._all_forgotten_at = -math.inf
        self._forgotten_at: dict[int, float] = {}
        # Per function, this replica's own changes of it, until the listener hands their
        # notifications back.
        self._own_changes: dict[int, deque[_OwnChange]] = {}
        self._built: dict[int, dict[int, VersionRecord]] = {}  # function id -> version -> it

    def forget(self, kind: str = "*", ident: int | None = None,
               sender: int | None = None) -> None:
        """A change subscriber: drop what a change of ``kind`` ``ident`` makes stale (a
        function's: that function; anything else's: every cached function).

        The notification of a change this replica made itself (``_changing``; told by
        ``sender``, its connection's backend) drops only what was read before that
        change committed: the rest was read after it."""
        now = time.monotonic()
        if kind != "function" or ident is None:
            self._clear()
            self._built.clear()  # a rebuild changes what a built version serves with
            self._forgotten_at.clear()
            self._all_forgotten_at = now
            self._own_changes.clear()  # their notifications now count as others'
            return
        committed = None
        own = self._own_changes.get(ident)
        # One connection's changes commit, and are told, in the order they were made.
        change = next((c for c in own or () if c.sender == sender), None)
        if own is not None and change is not None:
            own.remove(change)
            if not own:
                del self._own_changes[ident]
            committed = change.committed_at  # None: told before its writer saw the commit
        self._drop(ident, now if committed is None else committed)

    @contextlib.asynccontextmanager
    async def _changing(self) -> AsyncIterator[_Changing]:
        """A transaction that changes functions (``announce`` each): once it committed,
        each is forgotten here and its notification expected back."""
        async with self._pool.acquire() as conn:
            changing = _Changing(conn, self._own_changes)
            try:
                async with conn.transaction():
                    yield changing
            except BaseException:
                changing.abandon()  # no notification comes back (or it counts as another's)
                raise
        now = time.monotonic()
        for change in changing.changes:
            change.committed_at = now
            self._drop(change.function_id, now)

    def _clear(self) -> None:
        self._cache.clear()
        self._refs.clear()
        self._titles.clear()

    def _drop(self, function_id: int, before: float) -> None:
        """Forget ``function_id`` as read before ``before``, and every ref resolved by
        language title (another function's rename may take one over)."""
        refs = self._refs.pop(function_id, set())
        for ref in list(refs):
            entry = self._cache.get(ref)
            if entry is None or entry[0].id != function_id:
                refs.discard(ref)  # cached for another function since
            elif entry[1] < before:
                del self._cache[ref]
                refs.discard(ref)
        if refs:
            self._refs[function_id] = refs
        for ref in self._titles:
            self._cache.pop(ref, None)
        self._titles.clear()
        self._built.pop(function_id, None)
        if len(self._forgotten_at) >= _CACHE_MAX:
            self._forgotten_at.clear()
            self._all_forgotten_at = max(self._all_forgotten_at, before)
        self._forgotten_at[function_id] = max(self._forgotten_at.get(function_id, -math.inf),
                                              before)

    def listener_alive(self, since: float) -> None:
        """The change listener has been told every change committed before ``since``
        (``time.monotonic()``)."""
        self._alive_at = max(self._alive_at, since)

    def _trusted(self, read_at: float, now: float) -> bool:
        return (now - max(read_at, self._alive_at) < self._cache_ttl_s
                and now - read_at < max(_CACHE_KEEP_S, self._cache_ttl_s))

    async def get(self, ref: str) -> FunctionRecord | None:
        """Resolve ``ref`` as the id (all digits), then the name, then the language_title."""
        if self._cache_ttl_s > 0:
            cached = self._cache.get(ref)
            now = time.monotonic()
            if cached is not None and self._trusted(cached[1], now):
                return cached[0]
            began = time.monotonic()
            record = await self._read(ref)
            if record is not None:
                self._remember(record, began, ref)
            return record
        return await self._read(ref)

    def _remember(self, record: FunctionRecord, began: float, *refs: str) -> None:
        """Cache ``record``, read from ``began`` on, under ``refs``, its id and its name
        (they all resolve to it); not when a change came since: it may be the old row."""
        if began < self._all_forgotten_at or began < self._forgotten_at.get(record.id, -math.inf):
            return
        if len(self._cache) >= _CACHE_MAX:
            self._clear()
        entry = (record, began)
        own = self._refs.setdefault(record.id, set())
        for ref in {*refs, str(record.id), record.name}:
            self._cache[ref] = entry
            own.add(ref)
            if ref != record.name and numeric_id(ref) is None:
                self._titles.add(ref)

    async def _read(self, ref: str) -> FunctionRecord | None:
        function_id = numeric_id(ref)
        if function_id is not None:
            row = await self._pool.fetchrow(_SELECT + "WHERE f.id = $1", function_id)
            if row is not None:
                return _record(row, self._box)
        # Case-insensitive, as names are unique (0011_function_names.sql): at most one
        # function has the name, and none other has it as its language_title.
        row = await self._pool.fetchrow(
            _SELECT + "WHERE lower(f.name) = lower($1)"
            " OR lower(f.runtime || '-' || f.name) = lower($1)"
            " ORDER BY (lower(f.name) = lower($1)) DESC LIMIT 1",
            ref,
        )
        return None if row is None else _record(row, self._box)

    async def get_by_id(self, function_id: int) -> FunctionRecord | None:
        """Always read (callers use it right after a change); the result is cached."""
        began = time.monotonic()
        row = await self._pool.fetchrow(_SELECT + "WHERE f.id = $1", function_id)
        record = None if row is None else _record(row, self._box)
        if record is not None and self._cache_ttl_s > 0:
            self._remember(record, began)  # a function just created is invoked next, by name
        return record

    async def built_version(self, function_id: int, version: int) -> VersionRecord | None:
        """A version whose build succeeded, else None; cached, as such a version's code
        never changes (its ``is_active`` is as first read: do not rely on it)."""
        record = self._built.get(function_id, {}).get(version)
        if record is None:
            record = await self.get_version(function_id, version)
            if record is None or record.build_status != "success":
                return None
            if len(self._built) >= _CACHE_MAX:
                self._built.clear()
            self._built.setdefault(function_id, {})[version] = record
        return record

    async def project_of(self, function_id: int) -> str | None:
        """The project of a function; None when it no longer exists."""
        project: str | None = await self._pool.fetchval(
            "SELECT project FROM functions WHERE id = $1", function_id)
        return project

    async def get_version(self, function_id: int, version: int) -> VersionRecord | None:
        row = await self._pool.fetchrow(
            "SELECT v.*, (f.active_version = v.version) AS is_active"
            " FROM function_versions v JOIN functions f ON f.id = v.function_id"
            " WHERE v.function_id = $1 AND v.version = $2",
            function_id,
            version,
        )
        return None if row is None else _version(row)

    async def list_page(
        self,
        *,
        project: str | None,
        language: str | None,
        labels: dict[str, str],
        page: int,
        per_page: int,
        within: Collection[str] | None = None,
    ) -> tuple[int, list[FunctionRecord]]:
        """One page of functions (by id) and the total that match the filters, of the
        projects ``within`` only (None: of every project)."""
        where: list[str] = ["TRUE"]
        args: list[Any] = []
        if within is not None:
            args.append(sorted(within))
            where.append(f"f.project = ANY(${len(args)}::text[])")
        if project is not None:
            args.append(project)
            where.append(f"f.project = ${len(args)}")
        if language is not None:
            args.append(language)
            where.append(f"f.runtime = ${len(args)}")
        if labels:
            args.append(labels)
            where.append(f"f.labels @> ${len(args)}::jsonb")
        cond = " AND ".join(where)
        total = await self._pool.fetchval(f"SELECT count(*) FROM functions f WHERE {cond}", *args)
        args.extend([per_page, (page - 1) * per_page])
        rows = await self._pool.fetch(
            _SELECT + f"WHERE {cond} ORDER BY f.id LIMIT ${len(args) - 1} OFFSET ${len(args)}",
            *args,
        )
        return int(total), [_record(r, self._box) for r in rows]

    async def _check_unambiguous(
        self, conn: Any, name: str, runtime: str, exclude_id: int | None
    ) -> None:
        # Case-insensitively, as refs resolve (:meth:`_read`).
        clash = await conn.fetchval(
            "SELECT name FROM functions WHERE id IS DISTINCT FROM $3"
            " AND (lower(name) = lower($1) OR lower(name) = lower($2 || '-' || $1)"
            " OR lower(runtime || '-' || name) = lower($1))"
            " LIMIT 1",
            name,
            runtime,
            exclude_id,
        )
        if clash is not None:
            if clash.lower() == name.lower():
                raise Conflict(f"function name '{name}' is already in use"
                               + ("" if clash == name else f" (by '{clash}')"),
                               details={"conflicts_with": clash})
            raise Conflict(
                f"function name '{name}' would be ambiguous with function '{clash}'",
                details={"conflicts_with": clash},
            )

    async def create(self, name: str, fields: Mapping[str, Any], version: NewVersion,
                     *, also: Callable[[Any, int], Awaitable[Any]] | None = None) -> int:
        """Insert a function and its first version (active); returns the id.

        ``also(conn, function_id)`` runs in the same transaction (its triggers): if it
        raises, nothing is created.
        """
        fields = _sealed(fields, self._box)
        cols = [c for c in COLUMNS if c in fields]
        values = [fields[c] for c in cols]
        placeholders = ", ".join(f"${i + 2}" for i in range(len(cols)))
        async with self._changing() as changing:
            conn = changing.conn
            # Serialize name checks so two racing creates cannot both pass them.
            await conn.execute("LOCK TABLE functions IN SHARE ROW EXCLUSIVE MODE")
            await self._check_unambiguous(conn, name, str(fields["runtime"]), None)
            project = str(fields.get("project", "default"))
            await _ensure_project(conn, project)
            await _within_quotas(conn, project, memory_mb=fields.get("memory_mb"), adding=True,
                                 action=f"creating function '{name}'")
            try:
                function_id = await conn.fetchval(
                    f"INSERT INTO functions (name, {', '.join(cols)}) "
                    f"VALUES ($1, {placeholders}) RETURNING id",
                    name,
                    *values,
                )
            except asyncpg.UniqueViolationError as exc:
                raise Conflict(f"function name '{name}' is already in use") from exc
            except asyncpg.ForeignKeyViolationError as exc:
                raise project_not_found(fields.get("project")) from exc
            await self._insert_version(conn, function_id, 1, version)
            await conn.execute(
                "UPDATE functions SET active_version = 1 WHERE id = $1", function_id
            )
            if also is not None:
                await also(conn, function_id)
            await changing.announce(function_id)
        return int(function_id)

    async def update(
        self,
        function_id: int,
        fields: Mapping[str, Any],
        change: VersionChange | None,
        *,
        rename: str | None = None,
        also: Callable[[Any, int | None], Awaitable[Any]] | None = None,
    ) -> tuple[bool, int | None, NewVersion | None]:
        """Change fields in place and optionally add a new version.

        ``also(conn, new version number or None)`` runs in the same transaction.

        A version that needs no build is activated at once; one with dependencies is
        activated by :meth:`finish_build` when its build succeeds. Returns whether the
        function still exists, the new version's number and its merged code.

        The merge with the newest usable version happens under the function's row lock,
        so concurrent updates never lose each other's changes.
        """
        fields = _sealed(fields, self._box)
        cols = [c for c in COLUMNS if c in fields]
        new_version: int | None = None
        async with self._changing() as changing:
            conn = changing.conn
            current = await conn.fetchrow(
                "SELECT name, project, runtime, min_warm, max_concurrency, memory_mb"
                " FROM functions WHERE id = $1 FOR UPDATE",
                function_id,
            )
            if current is None:
                return False, None, None
            if fields.get("min_warm", current["min_warm"]) > fields.get(
                "max_concurrency", current["max_concurrency"]
            ):
                raise InvalidRequest("'min_warm' cannot exceed max_concurrency",
                                     details={"field": "min_warm"})
            version: NewVersion | None = None
            if change is not None:
                version = await self._merge(conn, function_id, change)
            if rename is not None or "runtime" in fields:
                await conn.execute("LOCK TABLE functions IN SHARE ROW EXCLUSIVE MODE")
                await self._check_unambiguous(
                    conn,
                    rename or current["name"],
                    str(fields.get("runtime", current["runtime"])),
                    function_id,
                )
            project = str(fields.get("project", current["project"]))
            moving = project != current["project"]
            if moving:
                # As a create: the move into the project is counted under the lock that
                # serializes every create and move (taken before any project row's).
                await conn.execute("LOCK TABLE functions IN SHARE ROW EXCLUSIVE MODE")
                await _ensure_project(conn, project)
            if moving or "memory_mb" in fields:
                action = (f"moving function '{current['name']}' into it" if moving
                          else f"setting memory_mb of function '{current['name']}'")
                await _within_quotas(conn, project,
                                     memory_mb=fields.get("memory_mb", current["memory_mb"]),
                                     adding=moving, action=action)
            sets = [f"{c} = ${i + 2}" for i, c in enumerate(cols)]
            args: list[Any] = [function_id, *[fields[c] for c in cols]]
            if rename is not None:
                args.append(rename)
                sets.append(f"name = ${len(args)}")
                await write_cleanup(conn, function_id, current["name"], "renamed")
            if version is not None:
                number = await conn.fetchval(
                    "SELECT coalesce(max(version), 0) + 1 FROM function_versions"
                    " WHERE function_id = $1",
                    function_id,
                )
                await self._insert_version(conn, function_id, number, version)
                if not version.needs_build:
                    # Built versions are activated by finish_build when they succeed.
                    args.append(number)
                    sets.append(f"active_version = ${len(args)}")
                new_version = number
            sets.append("updated_at = now()")
            try:
                await conn.execute(
                    f"UPDATE functions SET {', '.join(sets)} WHERE id = $1", *args
                )
            except asyncpg.UniqueViolationError as exc:
                raise Conflict(f"function name '{rename}' is already in use") from exc
            except asyncpg.ForeignKeyViolationError as exc:
                raise project_not_found(fields.get("project")) from exc
            if also is not None:
                await also(conn, new_version)
            await changing.announce(function_id)
        return True, new_version, version

    @staticmethod
    async def _merge(conn: Any, function_id: int, change: VersionChange) -> NewVersion:
        base = await conn.fetchrow(
            "SELECT runtime, code, handler, dependencies FROM function_versions"
            " WHERE function_id = $1"
            # The newest that did not fail its build; only failed ones: the newest.
            " ORDER BY (build_status <> 'failed') DESC, version DESC LIMIT 1",
            function_id,
        )
        return NewVersion(
            runtime=change.runtime or base["runtime"],
            code=change.code if change.code is not None else base["code"],
            handler=change.handler or base["handler"],
            dependencies=(change.dependencies if change.dependencies is not None
                          else list(base["dependencies"])),
        )

    async def finish_build(self, function_id: int, version: int, *, ok: bool, log: str,
                           resolved: list[str] | None = None, duration_ms: int | None = None,
                           also: Callable[[Any, bool], Awaitable[Any]] | None = None) -> bool:
        """Record a build's outcome (its log, duration and, on success, the ``resolved``
        set the version serves with); a success activates the version unless a newer one
        is active or it was added with ``activate=False`` (:meth:`add_version`).

        Returns whether the version was activated. ``also(conn, activated)`` runs in the
        same transaction when this call recorded the outcome.
        """
        async with self._changing() as changing:
            conn = changing.conn
            status = await conn.execute(
                "UPDATE function_versions SET build_status = $3, build_log = $4,"
                " resolved_dependencies = $5, build_duration_ms = $6, build_finished_at = now()"
                " WHERE function_id = $1 AND version = $2 AND build_status = 'building'",
                function_id, version, "success" if ok else "failed", log,
                resolved if ok else None, duration_ms,
            )
            if not status.endswith(" 1"):
                return False
            if not ok:
                if also is not None:
                    await also(conn, False)
                return False
            # Not a version made with ``"activate": false`` (it waits to be activated by
            # hand), nor over a newer active one.
            activated = await conn.execute(
                "UPDATE functions SET active_version = $2, updated_at = now()"
                " WHERE id = $1 AND (active_version IS NULL OR active_version <= $2)"
                " AND EXISTS (SELECT 1 FROM function_versions WHERE function_id = $1"
                " AND version = $2 AND activate_on_build)",
                function_id, version,
            )
            if also is not None:
                await also(conn, activated.endswith(" 1"))
            await changing.announce(function_id)
        return bool(activated.endswith(" 1"))

    async def list_versions(self, function_id: int) -> list[VersionRecord]:
        """Every version of a function, newest first, ``is_active`` as of now."""
        rows = await self._pool.fetch(
            "SELECT v.*, (f.active_version = v.version) AS is_active"
            " FROM function_versions v JOIN functions f ON f.id = v.function_id"
            " WHERE v.function_id = $1 ORDER BY v.version DESC",
            function_id,
        )
        return [_version(r) for r in rows]

    async def add_version(
        self,
        function_id: int,
        change: VersionChange,
        *,
        activate: bool,
        expected_number: int | None = None,
        also: Callable[[Any, str, int, int | None, bool], Awaitable[Any]] | None = None,
    ) -> tuple[int, NewVersion, bool] | None:
        """Add a version merged over the newest usable one (as :meth:`update` does).

        With ``activate`` it becomes active at once when it needs no build, else when
        its build succeeds (:meth:`finish_build`); without, it stays inactive until
        :meth:`activate_version`. ``also(conn, name, number, previous active version,
        activated now)`` runs in the same transaction. Returns the number, the merged
        code and whether it was activated now; None when the function is gone. With
        ``expected_number``, a new version that would get another number → ``CONFLICT``
        (nothing is added).
        """
        async with self._changing() as changing:
            conn = changing.conn
            current = await _lock_for_activation(conn, function_id)
            if current is None:
                return None
            version = await self._merge(conn, function_id, change)
            number = int(await conn.fetchval(
                "SELECT coalesce(max(version), 0) + 1 FROM function_versions"
                " WHERE function_id = $1",
                function_id,
            ))
            if expected_number is not None and expected_number != number:
                raise Conflict(
                    f"function '{current['name']}' would get version {number}, not the "
                    f"version {expected_number} the request expects",
                    details={"version": expected_number, "next_version": number})
            await self._insert_version(conn, function_id, number, version,
                                       activate_on_build=activate)
            activated = activate and not version.needs_build
            if activated:
                await self._activate_on(conn, function_id, current, number, version.runtime)
            if also is not None:
                await also(conn, current["name"], number, current["active_version"], activated)
            await changing.announce(function_id)
        return number, version, activated

    async def activate_version(
        self,
        function_id: int,
        version: int | None,
        *,
        also: Callable[[Any, str, int | None, int], Awaitable[Any]] | None = None,
    ) -> tuple[int | None, int] | None:
        """Make ``version`` active; with None, roll back: the highest successfully built
        version below the active one.

        Returns ``(previous active version, active version now)``, or None when the
        function is gone. An unknown version → ``VERSION_NOT_FOUND``; one that is
        building or failed its build, or a rollback with nothing to go back to →
        ``CONFLICT``. Activating the active version changes nothing (and runs no
        ``also``); otherwise ``also(conn, name, previous, now)`` runs in the same
        transaction.
        """
        async with self._changing() as changing:
            conn = changing.conn
            current = await _lock_for_activation(conn, function_id)
            if current is None:
                return None
            name, previous = current["name"], current["active_version"]
            if version is None:
                row = await conn.fetchrow(
                    "SELECT version, runtime, build_status FROM function_versions"
                    " WHERE function_id = $1 AND version < $2 AND build_status = 'success'"
                    " ORDER BY version DESC LIMIT 1",
                    function_id, previous or 0,
                )
                if row is None:
                    raise Conflict(
                        f"function '{name}' has no successfully built version below its "
                        f"active version {previous} to roll back to",
                        details={"active_version": previous})
            else:
                row = await conn.fetchrow(
                    "SELECT version, runtime, build_status FROM function_versions"
                    " WHERE function_id = $1 AND version = $2",
                    function_id, version,
                )
                if row is None:
                    raise version_not_found(name, version)
                if row["build_status"] != "success":
                    state = ("is still building" if row["build_status"] == "building"
                             else "failed its build")
                    raise Conflict(
                        f"version {version} of function '{name}' {state} and cannot be "
                        "activated",
                        details={"version": version, "build_status": row["build_status"]})
            number = int(row["version"])
            if number == previous:
                return previous, number
            await self._activate_on(conn, function_id, current, number, row["runtime"])
            if also is not None:
                await also(conn, name, previous, number)
            await changing.announce(function_id)
        return previous, number

    async def _activate_on(self, conn: Any, function_id: int, current: Mapping[str, Any],
                           number: int, runtime: str) -> None:
        """Point the function (locked by the caller) at version ``number``; the function
        takes the version's runtime, which must not make its ref ambiguous."""
        if runtime != current["runtime"]:
            await conn.execute("LOCK TABLE functions IN SHARE ROW EXCLUSIVE MODE")
            await self._check_unambiguous(conn, current["name"], runtime, function_id)
        await conn.execute(
            "UPDATE functions SET active_version = $2, runtime = $3, updated_at = now()"
            " WHERE id = $1",
            function_id, number, runtime,
        )

    async def pending_builds(self) -> list[VersionRecord]:
        """Versions still marked ``building`` (a replica may have died mid-build)."""
        rows = await self._pool.fetch(
            "SELECT v.*, (f.active_version = v.version) AS is_active"
            " FROM function_versions v JOIN functions f ON f.id = v.function_id"
            " WHERE v.build_status = 'building' ORDER BY v.id"
        )
        return [_version(r) for r in rows]

    async def delete(self, function_id: int, *,
                     also: Callable[[Any], Awaitable[Any]] | None = None) -> bool:
        """Remove a function and its versions; its jobs stay. ``also(conn)`` runs in the
        same transaction when the function existed."""
        async with self._changing() as changing:
            conn = changing.conn
            name = await conn.fetchval(
                "DELETE FROM functions WHERE id = $1 RETURNING name", function_id)
            if name is not None:
                # Every replica's share of the clean-up, committed with the delete.
                await write_cleanup(conn, function_id, name, "deleted")
                if also is not None:
                    await also(conn)
            await changing.announce(function_id)
        return name is not None

    async def active_versions(self, function_ids: Iterable[int]) -> dict[int, int | None]:
        """Of ``function_ids``, those that exist, each with its active version."""
        rows = await self._pool.fetch(
            "SELECT id, active_version FROM functions WHERE id = ANY($1::bigint[])",
            list(function_ids))
        return {int(r["id"]): r["active_version"] for r in rows}

    async def count(self) -> int:
        return int(await self._pool.fetchval("SELECT count(*) FROM functions"))

    async def totals(self) -> tuple[int, int]:
        """``(functions, running projects that have at least one function)``."""
        row = await self._pool.fetchrow(
            "SELECT (SELECT count(*) FROM functions) AS functions,"
            " (SELECT count(*) FROM projects p WHERE p.status = 'running'"
            "  AND EXISTS (SELECT 1 FROM functions f WHERE f.project = p.name)) AS projects")
        return int(row["functions"]), int(row["projects"])

    async def existing_names(self, names: Collection[str]) -> set[str]:
        """Those of ``names`` that name a function now (metric series of the rest go)."""
        rows = await self._pool.fetch(
            "SELECT name FROM functions WHERE name = ANY($1::text[])", list(names))
        return {r["name"] for r in rows}

    @staticmethod
    async def _insert_version(conn: Any, function_id: int, number: int, v: NewVersion,
                              *, activate_on_build: bool = True) -> None:
        # A version built by its own build records its set when the build ends; one with
        # nothing to install, beneath or its own, serves with none from the start.
        resolved: list[str] | None = None
        if not v.needs_build:
            if not layered_dependencies(
                    v.runtime, await _inherited_dependencies(conn, function_id), []):
                resolved = []
            else:
                # Under layers that install something: the set the active version serves
                # with, when it was built for the same (empty) list of its own, so no run
                # builds on the request path; a change of the layers since is followed in
                # the background (gateway/services/builds.py).
                resolved = await conn.fetchval(
                    "SELECT v.resolved_dependencies FROM functions f JOIN function_versions v"
                    " ON v.function_id = f.id AND v.version = f.active_version"
                    " WHERE f.id = $1 AND v.runtime = $2 AND v.dependencies = '[]'::jsonb",
                    function_id, v.runtime)
        await conn.execute(
            "INSERT INTO function_versions (function_id, version, runtime, code, handler,"
            " dependencies, build_status, activate_on_build, resolved_dependencies)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            function_id,
            number,
            v.runtime,
            v.code,
            v.handler,
            v.dependencies,
            "building" if v.needs_build else "success",
            activate_on_build,
            resolved,
        )


def _version(row: Mapping[str, Any]) -> VersionRecord:
    return VersionRecord(
        id=row["id"],
        function_id=row["function_id"],
        version=row["version"],
        runtime=row["runtime"],
        code=row["code"],
        handler=row["handler"],
        dependencies=row["dependencies"],
        build_status=row["build_status"],
        build_log=row["build_log"],
        created_at=row["created_at"],
        is_active=bool(row["is_active"]),
        resolved_dependencies=row["resolved_dependencies"],
        build_duration_ms=row["build_duration_ms"],
        build_finished_at=row["build_finished_at"],
        rebuild_dependencies=row["rebuild_dependencies"],
        rebuild_status=row["rebuild_status"],
        rebuild_log=row["rebuild_log"],
        rebuild_started_at=row["rebuild_started_at"],
    )


async def _inherited_dependencies(conn: Any, function_id: int) -> list[str]:
    """The system's then the function's project's dependencies, as they are now."""
    inherited = await conn.fetchval(
        "SELECT coalesce(s.dependencies, '[]') || coalesce(p.dependencies, '[]')"
        " FROM functions f LEFT JOIN projects p ON p.name = f.project"
        " LEFT JOIN system_settings s ON s.id = 0 WHERE f.id = $1", function_id)
    return list(inherited or [])


async def _ensure_project(conn: Any, name: str) -> None:
    """A function's project is created with it when it does not exist yet."""
    created = await conn.fetchval(
        "INSERT INTO projects (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id",
        name)
    if created is not None:
        await notify_change(conn, "project", int(created))


async def _within_quotas(conn: Any, project: str, *, memory_mb: int | None, adding: bool,
                         action: str) -> None:
    """429 ``QUOTA_EXCEEDED`` when ``project``'s quotas refuse a function with
    ``memory_mb`` (``adding``: one more function). A caller that adds holds ``LOCK TABLE
    functions IN SHARE ROW EXCLUSIVE MODE`` (as every create and move does), so two creates
    or moves into the project cannot both pass the count."""
    row = await conn.fetchrow(
        "SELECT max_functions, max_memory_mb FROM projects WHERE name = $1", project)
    if row is None:
        return
    limit = row["max_memory_mb"]
    if memory_mb is not None and limit is not None and memory_mb > limit:
        raise quota_exceeded(project, "max_memory_mb", limit, int(memory_mb), action=action)
    limit = row["max_functions"]
    if adding and limit is not None:
        count = int(await conn.fetchval(
            "SELECT count(*) FROM functions WHERE project = $1", project))
        if count >= limit:
            raise quota_exceeded(project, "max_functions", limit, count, action=action)


def function_not_found(ref: str) -> NotFound:
    return NotFound(f"function '{ref}' does not exist", code="FUNCTION_NOT_FOUND")


def version_not_found(name: str, version: object) -> NotFound:
    return NotFound(f"version {version} of function '{name}' does not exist",
                    code="VERSION_NOT_FOUND")


async def _lock_for_activation(conn: Any, function_id: int) -> Any:
    """The function's row, locked against racing activations; None when it is gone."""
    return await conn.fetchrow(
        "SELECT name, runtime, active_version FROM functions WHERE id = $1 FOR UPDATE",
        function_id,
    )


async def notify_change(conn: Any, kind: str, ident: int) -> None:
    """Announce a change of ``kind`` ``ident`` to every replica (delivered at commit)."""
    await conn.execute("SELECT pg_notify($1, $2)", CHANGES_CHANNEL, f"{kind}:{ident}")
