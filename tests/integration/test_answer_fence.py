"""A sync call's answer is prepared while its job record commits, and leaves only once the
record is there (API.md: a job is readable as soon as the response naming it was sent);
a record that fails to commit turns the answer into the error, in the API's error body."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from tests.conftest import auth, wait_for
from tests.integration.test_functions_api import assert_error, create
from tests.integration.test_invoke_api import invoke

_BLOCKED_INSERT = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                   " AND query LIKE '%INSERT INTO jobs%'")


async def test_the_answer_waits_for_the_record(client: httpx.AsyncClient,
                                               database_url: str) -> None:
    assert (await create(client, name="held")).status_code == 201
    assert (await invoke(client, "held", {"warm": 1})).status_code == 200
    blocker = await asyncpg.connect(database_url)
    try:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("LOCK TABLE jobs IN SHARE MODE")  # inserts wait, reads do not
        call = asyncio.create_task(invoke(client, "held", {"n": 7}))
        await wait_for(lambda: blocker.fetchval(_BLOCKED_INSERT), timeout_s=30)
        await asyncio.sleep(0.3)  # the run is over and its record waits on the lock
        assert not call.done(), "the answer left before its job record was committed"
        await tx.commit()
        r = await call
    finally:
        await blocker.close()
    assert r.status_code == 200 and r.json()["result"] == {"n": 7}, r.text
    job = await client.get(f"/api/v1/jobs/{r.json()['id']}", headers=auth("read:jobs"))
    assert job.status_code == 200 and job.json()["status"] == "success"


async def test_a_record_that_fails_to_commit_is_the_answer(client: httpx.AsyncClient,
                                                           database_url: str) -> None:
    assert (await create(client, name="doomed")).status_code == 201
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("ALTER TABLE jobs ADD CONSTRAINT refuse_doomed"
                           " CHECK (function_name <> 'doomed') NOT VALID")
    finally:
        await conn.close()
    r = await invoke(client, "doomed", {"n": 1})
    body = assert_error(r, 500, "INTERNAL_ERROR")
    assert "x-job-id" not in r.headers and "result" not in r.text
    assert "refuse_doomed" not in r.text  # the database's words stay in the log
    jobs = await client.get("/api/v1/functions/doomed/jobs", headers=auth("read:jobs"))
    assert jobs.status_code == 200 and jobs.json()["jobs"] == [], body
    # The gateway goes on: another function's call is answered and recorded.
    assert (await create(client, name="fine")).status_code == 201
    ok = await invoke(client, "fine", {"n": 2})
    assert ok.status_code == 200 and ok.json()["result"] == {"n": 2}
