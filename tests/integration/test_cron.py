"""Cron triggers against real PostgreSQL: fires, exactly once across replicas, reloads,
misfire catch-up."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx

from tests.conftest import auth, running_app, wait_for
from tests.integration.test_functions_api import WRITER, create

ECHO_EVENT = "def handler(event):\n    return event\n"
EVERY_SECOND = "*/1 * * * * *"


async def add_cron(client: httpx.AsyncClient, fn: str, config: dict[str, Any],
                   **extra: Any) -> dict[str, Any]:
    r = await client.post(f"/api/v1/functions/{fn}/triggers", headers=WRITER,
                          json={"type": "cron", "config": config, **extra})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


@contextlib.asynccontextmanager
async def connect(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    await conn.set_type_codec("jsonb", schema="pg_catalog", encoder=json.dumps,
                              decoder=json.loads, format="text")
    try:
        yield conn
    finally:
        await conn.close()


async def fires(conn: asyncpg.Connection, trigger_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT f.scheduled_time, f.job_id, j.status, j.trigger, j.result"
        " FROM cron_fires f LEFT JOIN jobs j ON j.id = f.job_id"
        " WHERE f.trigger_id = $1 ORDER BY f.scheduled_time", trigger_id)


def scheduled_ids(client: httpx.AsyncClient) -> set[int]:
    ids: set[int] = client.app.state.services.cron.scheduled_ids()  # type: ignore[attr-defined]
    return ids


def rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def assert_stops_within_5s(conn: asyncpg.Connection, trigger_id: int,
                                 changed_at: dt.datetime) -> None:
    """No fire is scheduled later than 5 s after the change (seen for a while after)."""
    await asyncio.sleep(5.5)
    rows = await fires(conn, trigger_id)
    assert rows, "the trigger never fired"
    assert rows[-1]["scheduled_time"] <= changed_at + dt.timedelta(seconds=5), rows[-1]
    count = len(rows)
    await asyncio.sleep(1.2)
    assert len(await fires(conn, trigger_id)) == count


async def test_per_second_schedule_runs_jobs_with_the_cron_event_until_deleted(
    client: httpx.AsyncClient, database_url: str
) -> None:
    assert (await create(client, name="tick", code=ECHO_EVENT)).status_code == 201
    trigger = await add_cron(client, "tick", {"cron": EVERY_SECOND, "payload": {"k": [1, "x"]}})
    assert trigger["config"] == {"schedule": EVERY_SECOND, "timezone": "UTC",
                                 "payload": {"k": [1, "x"]}, "misfire": "run_once"}
    assert trigger["next_run_at"].endswith("Z")
    health = (await client.get("/health")).json()
    assert health["components"]["scheduler"] == "ok"
    async with connect(database_url) as conn:
        async def three_done() -> list[asyncpg.Record]:
            rows = [r for r in await fires(conn, trigger["id"]) if r["status"] == "success"]
            return rows if len(rows) >= 3 else []

        done = await wait_for(three_done, timeout_s=15)
        for row in done:
            assert row["trigger"] == "cron"
            assert row["scheduled_time"].microsecond == 0
            assert row["result"] == {"trigger": "cron", "schedule": EVERY_SECOND,
                                     "scheduled_at": rfc3339(row["scheduled_time"]),
                                     "payload": {"k": [1, "x"]}}
        job = (await client.get(f"/api/v1/jobs/{done[0]['job_id']}",
                                headers=auth("read:jobs"))).json()
        assert job["trigger"] == "cron" and job["status"] == "success"
        r = await client.delete(f"/api/v1/functions/tick/triggers/{trigger['id']}",
                                headers=WRITER)
        assert r.status_code == 204
        await assert_stops_within_5s(conn, trigger["id"], dt.datetime.now(dt.UTC))


async def test_two_gateways_fire_each_second_exactly_once_and_stop_when_disabled(
    settings_factory: Callable[..., Any], database_url: str
) -> None:
    settings = settings_factory()
    claims: dict[str, list[tuple[dt.datetime, bool]]] = {"a": [], "b": []}
    async with running_app(settings) as a, running_app(settings) as b:
        for name, app in (("a", a), ("b", b)):
            store = app.app.state.services.triggers  # type: ignore[attr-defined]
            original = store.claim_cron_fire

            async def counting(*args: Any, _orig: Any = original, _name: str = name) -> bool:
                won: bool = await _orig(*args)
                claims[_name].append((args[1], won))
                return won

            store.claim_cron_fire = counting
        assert (await create(a, name="twice", code=ECHO_EVENT)).status_code == 201
        trigger = await add_cron(a, "twice", {"schedule": EVERY_SECOND})
        await wait_for(lambda: trigger["id"] in scheduled_ids(a) & scheduled_ids(b),
                       timeout_s=5)
        both_since = dt.datetime.now(dt.UTC)
        await asyncio.sleep(4)
        r = await b.put(f"/api/v1/functions/twice/triggers/{trigger['id']}", headers=WRITER,
                        json={"enabled": False})
        assert r.status_code == 200 and r.json()["next_run_at"] is None
        disabled_at = dt.datetime.now(dt.UTC)
        await wait_for(lambda: not (scheduled_ids(a) | scheduled_ids(b)), timeout_s=5)
        async with connect(database_url) as conn:
            await assert_stops_within_5s(conn, trigger["id"], disabled_at)
            rows = await fires(conn, trigger["id"])
            times = [row["scheduled_time"] for row in rows]
            assert len(times) >= 4
            # Every second between the first and the last fire, each exactly once.
            assert [(t - times[0]).total_seconds() for t in times] == \
                [float(i) for i in range(len(times))]
            jobs = await conn.fetch("SELECT id, event FROM jobs WHERE trigger = 'cron'")
            assert len(jobs) == len(rows)
            assert {j["id"] for j in jobs} == {row["job_id"] for row in rows}
            assert sorted(j["event"]["scheduled_at"] for j in jobs) == \
                [rfc3339(t) for t in times]
            await wait_for(lambda: _all_success(conn), timeout_s=15)
    # Only one claim per scheduled second won; while both replicas had the trigger
    # scheduled, both tried every second.
    wins = [t for name in "ab" for t, won in claims[name] if won]
    assert sorted(wins) == times
    attempts = {name: {t for t, _ in claims[name]} for name in "ab"}
    both = [t for t in times if both_since < t < disabled_at - dt.timedelta(seconds=1)]
    assert len(both) >= 2
    for t in both:
        assert t in attempts["a"] and t in attempts["b"], t


async def _all_success(conn: asyncpg.Connection) -> bool:
    statuses = await conn.fetch("SELECT status FROM jobs WHERE trigger = 'cron'")
    return all(s["status"] == "success" for s in statuses)


async def test_misfire_run_once_fires_one_catch_up_and_skip_none(
    settings_factory: Callable[..., Any], database_url: str
) -> None:
    settings = settings_factory()
    yearly = "0 0 1 1 *"
    async with running_app(settings) as c:
        assert (await create(c, name="late", code=ECHO_EVENT)).status_code == 201
        once = await add_cron(c, "late", {"schedule": yearly}, enabled=False)
        skip = await add_cron(c, "late", {"schedule": yearly, "misfire": "skip"}, enabled=False)
        done = await add_cron(c, "late", {"schedule": yearly}, enabled=False)
    now = dt.datetime.now(dt.UTC)
    missed = dt.datetime(now.year, 1, 1, tzinfo=dt.UTC)
    async with connect(database_url) as conn:
        # Every replica was down for years; ``done`` already ran its latest time.
        await conn.execute(
            "UPDATE triggers SET enabled = true, created_at = now() - interval '3 years',"
            " updated_at = now() - interval '3 years'")
        await conn.execute(
            "INSERT INTO cron_fires (trigger_id, scheduled_time, job_id) VALUES ($1, $2, $3)",
            done["id"], missed, uuid.uuid4())
        async with running_app(settings) as a, running_app(settings) as b:
            async def ran() -> list[asyncpg.Record]:
                rows = await fires(conn, once["id"])
                return rows if rows and rows[0]["status"] == "success" else []

            rows = await wait_for(ran, timeout_s=15)
            await wait_for(lambda: all(len(scheduled_ids(x)) == 3 for x in (a, b)))
            await asyncio.sleep(1.0)
            rows = await fires(conn, once["id"])
            assert [r["scheduled_time"] for r in rows] == [missed]
            assert rows[0]["result"]["scheduled_at"] == rfc3339(missed)
            assert await fires(conn, skip["id"]) == []
            assert [r["scheduled_time"] for r in await fires(conn, done["id"])] == [missed]
        # A restart does not run the same missed time again.
        async with running_app(settings) as c:
            await wait_for(lambda: len(scheduled_ids(c)) == 3)
            await asyncio.sleep(1.0)
            assert len(await fires(conn, once["id"])) == 1
            assert await conn.fetchval("SELECT count(*) FROM jobs WHERE trigger = 'cron'") == 1
