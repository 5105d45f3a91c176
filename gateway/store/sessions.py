"""Repository for initialize/execute sessions."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from gateway.store.batches import BatchWriter

__all__ = ["SessionRecord", "SessionStore"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRecord:
    """A session as stored; ``status`` is ``active``, ``expired`` or ``closed``."""

    id: str
    owner: str
    function_id: int
    language_title: str
    version: int
    context: dict[str, Any]
    timeout_ms: int
    retain_session: bool
    status: str
    created_at: dt.datetime
    expires_at: dt.datetime
    execution_count: int
    last_executed_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SessionRecord:
        status = row["status"]
        if status == "active" and row["expired"]:
            status = "expired"
        return cls(
            id=str(row["id"]), owner=row["owner"], function_id=row["function_id"],
            language_title=row["language_title"], version=row["version"],
            context=row["context"] or {}, timeout_ms=row["timeout_ms"],
            retain_session=row["retain_session"], status=status, created_at=row["created_at"],
            expires_at=row["expires_at"], execution_count=row["execution_count"],
            last_executed_at=row["last_executed_at"],
        )


_COLUMNS = "*, (expires_at <= now()) AS expired"
_CACHE_TTL_S = 30.0
_CACHE_MAX = 10_000


class SessionStore:
    """Sessions in PostgreSQL."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._cache: dict[str, tuple[SessionRecord, float]] = {}
        # Executes of one session that arrive together are counted by one UPDATE: on
        # its row they would otherwise wait for each other's commit, one by one.
        self._counters: dict[tuple[str, str], BatchWriter[None, SessionRecord | None]] = {}

    async def create(
        self, *, session_id: uuid.UUID, owner: str, function_id: int, language_title: str,
        version: int, context: dict[str, Any], timeout_ms: int, retain_session: bool,
        ttl_s: int,
    ) -> tuple[bool, SessionRecord]:
        """Insert a session; if the id exists, return ``(False, existing)`` instead.

        Timestamps are stored to the millisecond, the precision the API shows, so the
        ``expires_at`` a client is given is the instant the session expires.
        """
        try:
            row = await self._pool.fetchrow(
                "INSERT INTO sessions (id, owner, function_id, language_title, version, context,"
                " timeout_ms, retain_session, created_at, expires_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, date_trunc('milliseconds', now()),"
                " date_trunc('milliseconds', now() + make_interval(secs => $9)))"
                f" RETURNING {_COLUMNS}",
                session_id, owner, function_id, language_title, version, context, timeout_ms,
                retain_session, float(ttl_s),
            )
            return True, SessionRecord.from_row(row)
        except asyncpg.UniqueViolationError:
            existing = await self.get(str(session_id))
            assert existing is not None
            return False, existing

    async def get(self, session_id: str) -> SessionRecord | None:
        try:
            ident = uuid.UUID(session_id)
        except ValueError:
            return None
        row = await self._pool.fetchrow(f"SELECT {_COLUMNS} FROM sessions WHERE id = $1", ident)
        return None if row is None else SessionRecord.from_row(row)

    async def get_cached(self, session_id: str) -> SessionRecord | None:
        """``get``, cached for a while: for what never changes in a session (its owner,
        pinned version, context), read before each execute. ``begin_execute`` then checks
        what does change (status, expiry) in the database."""
        now = time.monotonic()
        cached = self._cache.get(session_id)
        if cached is not None and now - cached[1] < _CACHE_TTL_S:
            return cached[0]
        record = await self.get(session_id)
        if record is not None:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[session_id] = (record, now)
        return record

    async def begin_execute(self, session_id: str, owner: str) -> SessionRecord | None:
        """Count one execute of an active session of ``owner``; close it if not retained.

        Atomic, so a session with ``retain_session: false`` runs exactly once even when
        executes race. None when the session is unknown, another owner's, expired or closed.
        """
        key = (session_id, owner)
        counter = self._counters.get(key)
        if counter is None:

            def forget() -> None:
                self._counters.pop(key, None)

            counter = self._counters[key] = BatchWriter(
                lambda many: self._count_executes(session_id, owner, len(many)),
                lambda _: self._count_one(session_id, owner), on_idle=forget)
        return await counter.write(None)

    async def _count_one(self, session_id: str, owner: str) -> SessionRecord | None:
        return (await self._count_executes(session_id, owner, 1))[0]

    async def _count_executes(self, session_id: str, owner: str,
                              n: int) -> list[SessionRecord | None]:
        """Count ``n`` executes at once: all of them on a retained session, else the first."""
        row = await self._pool.fetchrow(
            "UPDATE sessions SET execution_count = execution_count"
            " + CASE WHEN retain_session THEN $3 ELSE 1 END,"
            " last_executed_at = date_trunc('milliseconds', now()),"
            " status = CASE WHEN retain_session THEN status ELSE 'closed' END"
            " WHERE id = $1 AND owner = $2 AND status = 'active' AND expires_at > now()"
            f" RETURNING {_COLUMNS}",
            uuid.UUID(session_id), owner, n,
        )
        if row is None:
            return [None] * n
        record = SessionRecord.from_row(row)
        if not record.retain_session:
            return [record] + [None] * (n - 1)
        return [record] * n

    async def close(self, session_id: str) -> None:
        await self._pool.execute(
            "UPDATE sessions SET status = 'closed' WHERE id = $1", uuid.UUID(session_id)
        )

    async def prune(self, older_than_s: float) -> int:
        """Delete sessions that ended (expired or closed) more than ``older_than_s`` ago."""
        status = await self._pool.execute(
            "DELETE FROM sessions WHERE expires_at < now() - make_interval(secs => $1)",
            older_than_s,
        )
        return int(status.split()[-1])
