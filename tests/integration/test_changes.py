"""NOTIFY fngate_changes: a change made through one replica reaches the others' caches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.services.changes import EVERYTHING, parse_change
from tests.conftest import running_app, wait_for
from tests.integration.test_functions_api import WRITER, create


def test_parse_change() -> None:
    assert parse_change("function:12") == ("function", 12)
    assert parse_change("trigger:7") == ("trigger", 7)
    assert parse_change("") == (EVERYTHING, None)
    assert parse_change("function:x") == (EVERYTHING, None)


async def test_a_function_changed_on_one_replica_is_seen_by_the_other(
    settings_factory: Callable[..., Any]
) -> None:
    async with running_app(settings_factory()) as one, running_app(settings_factory()) as two:
        # Only the change listener can refresh the second replica's cache now.
        two.app.state.services.functions._cache_ttl_s = 3600  # type: ignore[attr-defined]
        r = await create(one, name="moving", code="def handler(e):\n    return 1\n")
        assert r.status_code == 201
        r = await two.post("/api/v1/functions/moving/invoke", headers=WRITER, json={})
        assert r.json()["result"] == 1
        r = await one.put("/api/v1/functions/moving", headers=WRITER,
                          json={"code": "def handler(e):\n    return 2\n"})
        assert r.status_code == 200

        async def sees_new_code() -> bool:
            r = await two.post("/api/v1/functions/moving/invoke", headers=WRITER, json={})
            return bool(r.json()["result"] == 2)

        await wait_for(sees_new_code, timeout_s=5)
        assert (await one.delete("/api/v1/functions/moving", headers=WRITER)).status_code == 204

        async def sees_it_gone() -> bool:
            r = await two.post("/api/v1/functions/moving/invoke", headers=WRITER, json={})
            return r.status_code == 404

        await wait_for(sees_it_gone, timeout_s=5)
