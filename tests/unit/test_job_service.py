"""Unit tests of JobService (gateway/services/jobs.py) over an in-memory store: who sees a
job, who may list a function's jobs, whose jobs a page holds and where the next begins.
The store's own queries are tested against PostgreSQL in tests/integration."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from auth import ADMIN, Principal
from auth.scopes import READ_FUNCTIONS, READ_JOBS, WRITE_FUNCTIONS
from gateway.core.errors import Forbidden, InvalidRequest, NotFound
from gateway.core.models import Job
from gateway.services.jobs import JobService

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def _caller(subject: str, *scopes: str) -> Principal:
    return Principal(subject=subject, issuer=None, scopes=frozenset(scopes), expires_at=0.0)


ALICE, BOB = _caller("alice"), _caller("bob")


def _job(job_id: str, owner: Principal) -> Job:
    return Job(id=job_id, function_id=1, function_name="f", version=1, trigger="invoke",
               status="success", owner=owner.key, subject=owner.subject, result=1, error=None,
               timestamp=NOW, started_at=NOW, finished_at=NOW, duration=1.0,
               cold_start=False, attempts=1, cached=False)


class _Store:
    def __init__(self, *jobs: Job) -> None:
        self.jobs = list(jobs)  # newest first
        self.owners: list[str | None] = []

    async def get(self, job_id: str) -> Job | None:
        return next((job for job in self.jobs if job.id == job_id), None)

    async def logs(self, job_id: str) -> list[dict[str, Any]]:
        return [{"job_id": job_id, "message": "hi"}]

    async def list_for_function(self, function_id: int, *, status: str | None, limit: int,
                                before: str | None, owner: str | None) -> list[Job] | None:
        self.owners.append(owner)
        jobs = [job for job in self.jobs if owner is None or job.owner == owner]
        if before is not None:
            ids = [job.id for job in self.jobs]
            if before not in ids:
                return None
            jobs = [job for job in jobs if ids.index(job.id) > ids.index(before)]
        return jobs[:limit]


def _service(*jobs: Job) -> tuple[JobService, _Store]:
    store = _Store(*jobs)
    return JobService(store=store, functions=None), store  # type: ignore[arg-type]


async def test_a_job_is_visible_to_its_creator_and_to_readers_of_all_jobs() -> None:
    service, _ = _service(_job("j1", ALICE))
    assert (await service.visible("j1", ALICE)).id == "j1"
    for reader in (_caller("carol", READ_JOBS), _caller("carol", ADMIN)):
        assert (await service.visible("j1", reader)).id == "j1"
    assert await service.logs("j1", ALICE) == [{"job_id": "j1", "message": "hi"}]


async def test_another_callers_job_does_not_exist_for_them() -> None:
    service, _ = _service(_job("j1", ALICE))
    for job_id, caller in (("j1", BOB), ("nope", ALICE)):
        with pytest.raises(NotFound) as caught:
            await service.visible(job_id, caller)
        assert caught.value.code == "JOB_NOT_FOUND"
    with pytest.raises(NotFound):
        await service.logs("j1", BOB)


def test_listing_needs_a_reading_managing_or_execute_scope() -> None:
    for scope in (READ_FUNCTIONS, READ_JOBS, WRITE_FUNCTIONS, ADMIN, "execute:python"):
        JobService.check_may_list(_caller("x", scope))
    with pytest.raises(Forbidden) as caught:
        JobService.check_may_list(_caller("x", "read:projects"))
    assert caught.value.details == {"required_scope": READ_FUNCTIONS}


async def test_a_page_holds_the_callers_jobs_and_where_the_next_begins() -> None:
    service, store = _service(_job("a3", ALICE), _job("b2", BOB), _job("a1", ALICE))
    page = await service.page(1, ALICE, status=None, limit=1, before=None)
    assert [job.id for job in page.jobs] == ["a3"] and page.next_before == "a3"
    page = await service.page(1, ALICE, status=None, limit=1, before="a3")
    assert [job.id for job in page.jobs] == ["a1"] and page.next_before == "a1"
    page = await service.page(1, ALICE, status=None, limit=5, before=None)
    assert [job.id for job in page.jobs] == ["a3", "a1"] and page.next_before is None
    await service.page(1, _caller("r", READ_JOBS), status=None, limit=5, before=None)
    assert store.owners == [ALICE.key] * 3 + [None]


async def test_a_before_that_names_no_job_of_the_function_is_a_400() -> None:
    service, _ = _service(_job("a1", ALICE))
    with pytest.raises(InvalidRequest) as caught:
        await service.page(1, ALICE, status=None, limit=5, before="gone")
    assert caught.value.details == {"parameter": "before"}
