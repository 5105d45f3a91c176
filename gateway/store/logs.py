"""Repository for a function's log lines (``job_logs``): queries, following, retention.

Lines land in ``job_logs`` when their job's attempt ends (see :mod:`gateway.store.jobs`);
lines of runs still going on this replica come from :mod:`gateway.services.logstream`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

__all__ = ["LogStore", "StoredLine"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredLine:
    """One stored log line of a function."""

    id: int
    timestamp: dt.datetime
    job_id: str
    stream: str
    message: str


def _line(row: Any) -> StoredLine:
    return StoredLine(id=row["id"], timestamp=row["timestamp"], job_id=str(row["job_id"]),
                      stream=row["stream"], message=row["message"])


class LogStore:
    """Function log lines in PostgreSQL."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def latest(
        self,
        function_id: int,
        *,
        since: dt.datetime | None,
        until: dt.datetime | None,
        job_id: uuid.UUID | None,
        limit: int,
        max_id: int | None = None,
    ) -> list[StoredLine]:
        """The newest ``limit`` lines matching the filters, oldest first.

        ``since`` is inclusive, ``until`` exclusive; ``max_id`` bounds the ids (a follower
        reads the backlog up to where it starts following).
        """
        where = ["function_id = $1"]
        args: list[Any] = [function_id]
        for cond, value in (("timestamp >= ${}", since), ("timestamp < ${}", until),
                            ("job_id = ${}", job_id), ("id <= ${}", max_id)):
            if value is not None:
                args.append(value)
                where.append(cond.format(len(args)))
        args.append(limit)
        rows = await self._pool.fetch(
            "SELECT id, timestamp, job_id, stream, message FROM job_logs"
            f" WHERE {' AND '.join(where)}"
            f" ORDER BY timestamp DESC, id DESC LIMIT ${len(args)}",
            *args,
        )
        return [_line(r) for r in reversed(rows)]

    async def last_id(self, function_id: int) -> int:
        """The highest line id of the function now (0 when it has none)."""
        value = await self._pool.fetchval(
            "SELECT coalesce(max(id), 0) FROM job_logs WHERE function_id = $1", function_id)
        return int(value)

    async def after(self, function_id: int, after_id: int, *, job_id: uuid.UUID | None,
                    limit: int = 1000) -> list[StoredLine]:
        """Lines with an id above ``after_id``, in id order (what a follower has not seen)."""
        if job_id is None:
            rows = await self._pool.fetch(
                "SELECT id, timestamp, job_id, stream, message FROM job_logs"
                " WHERE function_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                function_id, after_id, limit)
        else:
            rows = await self._pool.fetch(
                "SELECT id, timestamp, job_id, stream, message FROM job_logs"
                " WHERE function_id = $1 AND id > $2 AND job_id = $3 ORDER BY id LIMIT $4",
                function_id, after_id, job_id, limit)
        return [_line(r) for r in rows]

    async def prune(self, *, max_age_s: float | None, max_lines: int | None) -> dict[str, int]:
        """Delete lines older than ``max_age_s`` and, per function, all but the newest
        ``max_lines``; None (or 0) leaves that limit off. Returns the counts deleted."""
        by_age = by_count = 0
        if max_age_s:
            status = await self._pool.execute(
                "DELETE FROM job_logs WHERE timestamp < now() - make_interval(secs => $1)",
                float(max_age_s))
            by_age = int(status.split()[-1])
        if max_lines:
            # A skip scan over (function_id, id): one probe per function, not a full scan.
            status = await self._pool.execute(
                "WITH RECURSIVE fns AS ("
                "  (SELECT function_id FROM job_logs ORDER BY function_id LIMIT 1)"
                "  UNION ALL"
                "  SELECT (SELECT j.function_id FROM job_logs j"
                "          WHERE j.function_id > fns.function_id ORDER BY j.function_id LIMIT 1)"
                "  FROM fns WHERE fns.function_id IS NOT NULL),"
                " cut AS ("
                "  SELECT fns.function_id, (SELECT j.id FROM job_logs j"
                "    WHERE j.function_id = fns.function_id"
                "    ORDER BY j.id DESC OFFSET $1 LIMIT 1) AS below"
                "  FROM fns WHERE fns.function_id IS NOT NULL)"
                " DELETE FROM job_logs l USING cut"
                " WHERE cut.below IS NOT NULL AND l.function_id = cut.function_id"
                "   AND l.id <= cut.below",
                int(max_lines))
            by_count = int(status.split()[-1])
        return {"log_lines_by_age": by_age, "log_lines_by_count": by_count}
