"""SIGTERM in the middle of a burst of async jobs, then a restart: every job ran to the end
exactly once, and none is left pending.

The race this guards against: at shutdown a run whose outcome was being written was also
handed back (``pending``); when the hand-back committed first, the write no longer
matched the lease and the finished job ran again after the restart. To make that
moment certain rather than lucky, the test slows every outcome write down in PostgreSQL
(a statement trigger that sleeps before the ``UPDATE`` finds its rows), so at SIGTERM
there are always writes under way; it is dropped before the restart.

The function leaves a file per run in a directory of the test's own, so a run whose
outcome was lost still counts. Writing there needs ``FNGATE_SANDBOX=process`` (the
namespace sandbox shows a function nothing of the host's files); isolation is not what
is tested here.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.e2e.serve import Gateway, clean_env, need_sandbox, poll

# The figure: 16-28 s of test here on a shared 2-core machine.
JOBS = 500
FINISH_DELAY_S = 2.0

RECORDING = """
import uuid

def handler(event):
    print("run", event["n"])
    with open(f"{RUNS}/{{event['n']}}-{{uuid.uuid4().hex}}", "x"):
        pass
    return event["n"]
"""

# Outcome writes (``JobStore.finish``, one job or a batch) are the jobs updates that set
# ``result``; claims, heartbeats and hand-backs are left at full speed.
SLOW_FINISH = f"""
CREATE FUNCTION test_slow_finish() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_query() LIKE '%result = %' THEN
    PERFORM pg_sleep({FINISH_DELAY_S});
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER test_slow_finish BEFORE UPDATE ON jobs
  FOR EACH STATEMENT EXECUTE FUNCTION test_slow_finish();
"""
FAST_FINISH = "DROP TRIGGER test_slow_finish ON jobs; DROP FUNCTION test_slow_finish();"


async def _sql(dsn: str, statement: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _jobs(dsn: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    conn = await asyncpg.connect(dsn)
    try:
        jobs = [dict(r) for r in await conn.fetch(
            "SELECT id, status, attempts, lost_leases, (event->>'n')::int AS n FROM jobs")]
        logs = [dict(r) for r in await conn.fetch("SELECT job_id, message FROM job_logs")]
    finally:
        await conn.close()
    return jobs, logs


def _statuses(dsn: str) -> Counter[str]:
    jobs, _ = asyncio.run(_jobs(dsn))
    return Counter(j["status"] for j in jobs)


@pytest.fixture
def gateway(module_dir: Path, module_database: str) -> Iterator[Gateway]:
    need_sandbox()
    tmp = module_dir / "tmp"
    tmp.mkdir(mode=0o755)
    gw = Gateway(module_dir, clean_env(
        FNGATE_DATABASE_URL=module_database, TMPDIR=str(tmp), FNGATE_SANDBOX="process",
        FNGATE_RATE_LIMITS="off", FNGATE_SHUTDOWN_GRACE_S="1"))
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()


def test_sigterm_during_a_burst_of_async_jobs_runs_each_exactly_once(
    gateway: Gateway, module_dir: Path, module_database: str,
) -> None:
    runs = module_dir / "runs"
    runs.mkdir()
    os.chmod(runs, 0o777)  # written by the workers' uid
    headers = gateway.mint()
    r = gateway.request("POST", "/api/v1/functions", headers=headers, json={
        "name": "once", "runtime": "python", "code": RECORDING.format(RUNS=runs)})
    assert r.status_code == 201, r.text
    asyncio.run(_sql(module_database, SLOW_FINISH))

    def submit(n: int) -> str:
        r = gateway.request("POST", "/api/v1/functions/once/invoke-async", headers=headers,
                            json={"n": n})
        assert r.status_code == 202, r.text
        return str(r.json()["id"])

    with ThreadPoolExecutor(8) as pool:
        accepted = list(pool.map(submit, range(JOBS)))
    assert len(set(accepted)) == JOBS

    # Mid-burst: some jobs done, the rest running, being written, or pending.
    poll(lambda: _statuses(module_database)["success"] >= 64, timeout_s=120,
         what="the first jobs of the burst finished")
    gateway.stop()  # SIGTERM
    asyncio.run(_sql(module_database, FAST_FINISH))
    stopped = _statuses(module_database)
    assert stopped["running"] == 0, f"a job was neither settled nor handed back: {stopped}"

    gateway.start()
    poll(lambda: _statuses(module_database)["success"] == JOBS, timeout_s=180,
         what=f"all {JOBS} jobs finished after the restart")

    jobs, logs = asyncio.run(_jobs(module_database))
    assert Counter(j["status"] for j in jobs) == {"success": JOBS}
    assert sorted(j["n"] for j in jobs) == list(range(JOBS))
    assert [j for j in jobs if j["attempts"] != 1 or j["lost_leases"] != 0] == []
    printed = Counter(log["job_id"] for log in logs if log["message"].startswith("run "))
    assert printed == {j["id"]: 1 for j in jobs}
    ran = Counter(int(name.split("-")[0]) for name in os.listdir(runs))
    assert {n: count for n, count in ran.items() if count != 1} == {}, "ran more than once"
    assert sorted(ran) == list(range(JOBS))
