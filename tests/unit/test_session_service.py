"""Unit tests of SessionService (gateway/services/sessions.py) over in-memory fakes: who
sees a session, when an existing id is answered again, and what an execute records."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

import pytest

from auth import ADMIN, Principal
from gateway.core.cache_directive import CacheDirective
from gateway.core.errors import Conflict, NotFound
from gateway.core.models import FunctionRecord, Invocation, Invoked, Job
from gateway.schemas.sessions import InitializeRequest
from gateway.services.sessions import SessionService
from gateway.store.sessions import SessionRecord

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
SID = "6f1c1b7e-4f3a-4a43-9a0e-1b2c3d4e5f60"


def _caller(subject: str = "alice", *scopes: str) -> Principal:
    return Principal(subject=subject, issuer=None, scopes=frozenset(scopes), expires_at=0.0)


ALICE, BOB, ADMIN_BOB = _caller("alice"), _caller("bob"), _caller("bob", ADMIN)


def _function(function_id: int = 1) -> FunctionRecord:
    return FunctionRecord(
        id=function_id, name=f"f{function_id}", project="default", runtime="python",
        execution_type="sync", description="", environment={}, timeout_ms=1000,
        memory_mb=128, max_concurrency=1, min_warm=0, cache_ttl=0, cache_scope="caller",
        max_retries=0, rate_limit=None, schema=None, examples=[], labels={},
        active_version=1, created_at=NOW, updated_at=NOW)


def _session(**overrides: Any) -> SessionRecord:
    values: dict[str, Any] = {
        "id": SID, "owner": ALICE.key, "function_id": 1, "language_title": "f1", "version": 1,
        "context": {"timeout_ms": 500, "user": "x"}, "timeout_ms": 500,
        "retain_session": True, "status": "active", "created_at": NOW, "expires_at": NOW,
        "execution_count": 0, "last_executed_at": None,
    }
    values.update(overrides)
    return SessionRecord(**values)


def _job(**overrides: Any) -> Job:
    values: dict[str, Any] = {
        "id": "j1", "function_id": 1, "function_name": "f1", "version": 1,
        "trigger": "session", "status": "success", "owner": ALICE.key, "subject": "alice",
        "result": 3, "error": None, "timestamp": NOW, "started_at": NOW, "finished_at": NOW,
        "duration": 12.4, "cold_start": False, "attempts": 1, "cached": False,
    }
    values.update(overrides)
    return Job(**values)


class _Sessions:
    def __init__(self, existing: SessionRecord | None = None) -> None:
        self.existing = existing
        self.counted: list[tuple[str, str]] = []
        self.closed: list[str] = []
        self.active = True

    async def create(self, **fields: Any) -> tuple[bool, SessionRecord]:
        if self.existing is not None:
            return False, self.existing
        return True, _session(id=str(fields["session_id"]), owner=fields["owner"],
                              function_id=fields["function_id"])

    async def get(self, session_id: str) -> SessionRecord | None:
        return self.existing

    async def get_cached(self, session_id: str) -> SessionRecord | None:
        return self.existing

    async def begin_execute(self, session_id: str, owner: str) -> SessionRecord | None:
        self.counted.append((session_id, owner))
        return self.existing if self.active else None

    async def close(self, session_id: str) -> None:
        self.closed.append(session_id)


class _Dispatcher:
    def __init__(self) -> None:
        self.warmed: list[int] = []

    def check_runnable(self, function: FunctionRecord) -> None:
        pass

    async def warm(self, function: FunctionRecord) -> bool:
        self.warmed.append(function.id)
        return True


class _Invoker:
    def __init__(self, invoked: Invoked) -> None:
        self.invoked = invoked
        self.invocations: list[Invocation] = []

    async def invoke(self, inv: Invocation, *, on_admitted: Any = None) -> Invoked:
        self.invocations.append(inv)
        await on_admitted()
        return self.invoked


def _service(store: _Sessions, invoker: _Invoker | None = None,
             dispatcher: _Dispatcher | None = None) -> SessionService:
    return SessionService(store=store, functions=None,  # type: ignore[arg-type]
                          dispatcher=dispatcher or _Dispatcher(),  # type: ignore[arg-type]
                          invoker=invoker or _Invoker(Invoked(job=_job())),  # type: ignore[arg-type]
                          ttl_s=60, max_timeout_ms=1000)


async def test_a_session_is_seen_by_its_owner_and_admin_only() -> None:
    service = _service(_Sessions(_session()))
    assert (await service.get(SID, ALICE)).id == SID
    assert (await service.get(SID, ADMIN_BOB)).id == SID
    with pytest.raises(NotFound) as caught:
        await service.get(SID, BOB)
    assert caught.value.code == "SESSION_NOT_FOUND"


async def test_closing_another_callers_session_closes_nothing() -> None:
    store = _Sessions(_session())
    with pytest.raises(NotFound):
        await _service(store).close(SID, BOB)
    await _service(store).close(SID, ALICE)
    assert store.closed == [SID]


async def test_a_new_session_is_warmed_and_a_repeated_one_is_not() -> None:
    dispatcher = _Dispatcher()
    service = _service(_Sessions(), dispatcher=dispatcher)
    session = await service.initialize(_function(), InitializeRequest(),
                                       session_id=uuid.UUID(SID), caller=ALICE)
    assert session.owner == ALICE.key and dispatcher.warmed == [1]
    again = _service(_Sessions(_session()), dispatcher=dispatcher)
    assert (await again.initialize(_function(), InitializeRequest(),
                                   session_id=uuid.UUID(SID), caller=ALICE)).id == SID
    assert dispatcher.warmed == [1]


@pytest.mark.parametrize(("existing", "caller", "function_id"), [
    (_session(), BOB, 1),  # another caller's id
    (_session(), ALICE, 2),  # another function's
    (_session(status="closed"), ALICE, 1),  # ended
])
async def test_an_existing_id_is_a_conflict_unless_it_is_the_same_active_session(
        existing: SessionRecord, caller: Principal, function_id: int) -> None:
    with pytest.raises(Conflict):
        await _service(_Sessions(existing)).initialize(
            _function(function_id), InitializeRequest(), session_id=uuid.UUID(SID),
            caller=caller)


async def test_an_execute_runs_with_the_session_and_counts_once_admitted() -> None:
    store, invoker = _Sessions(_session()), _Invoker(Invoked(job=_job(), cache="MISS"))
    service = _service(store, invoker)
    session = await service.for_execute(SID, ALICE)
    executed = await service.execute(SID, session, _function(), params={"a": 1}, cache=None,
                                     caller=ALICE)
    assert executed.execution_ms == 12 and executed.invoked.cache == "MISS"
    inv = invoker.invocations[0]
    assert (inv.trigger, inv.event, inv.timeout_ms) == ("session", {"a": 1}, 500)
    assert inv.context == {"user": "x"}  # the timeout is the invocation's own field
    assert inv.cache == CacheDirective(mode="default")  # the function's cache by default
    assert store.counted == [(SID, ALICE.key)]


async def test_an_execute_of_a_session_ended_meanwhile_is_not_found() -> None:
    store = _Sessions(_session())
    store.active = False
    service = _service(store)
    with pytest.raises(NotFound):
        await service.execute(SID, _session(), _function(), params={}, cache=None,
                              caller=ALICE)


async def test_a_cache_hit_reports_the_time_spent_answering_it() -> None:
    hit = Invoked(job=dataclasses.replace(_job(), duration=0.0, cached=True), cache="HIT",
                  age_s=3.0)
    executed = await _service(_Sessions(_session()), _Invoker(hit)).execute(
        SID, _session(), _function(), params={}, cache=None, caller=ALICE)
    assert executed.execution_ms >= 0 and executed.invoked is hit
