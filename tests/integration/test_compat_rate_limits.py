"""The four compatibility documents under limits of a few requests a minute, in-process
(the examples themselves run against ``fngate serve``: tests/e2e/test_dialect_examples.py,
from tests/dialect_examples): each document's 429 in its own shape with ``Retry-After``,
the read and write classes counted as the native routes', invokes the execute class, and
the documents' probes never limited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import auth, running_app
from tests.dialect_examples import function_api, function_service, kube_serverless
from tests.dialect_examples import project_functions as pf
from tests.dialect_examples.harness import Api


async def test_function_api_answers_its_429(settings_factory: Callable[..., Any]) -> None:
    base, every = function_api.BASE, auth(function_api.ALL)
    settings = settings_factory(rate_limits="read=2/minute|1/minute")
    async with running_app(settings) as client:
        for _ in range(2):
            ok = await client.get(f"{base}/functions", headers=every)
            assert ok.status_code == 200 and ok.headers["x-ratelimit-limit"] == "2"
        limited = await client.get(f"{base}/functions", headers=every)
        function_api.assert_failure(limited, 429, "RATE_LIMITED")
        assert "retry-after" in limited.headers


async def test_kube_serverless_answers_its_429_and_spares_the_probes(
    settings_factory: Callable[..., Any],
) -> None:
    base, every = kube_serverless.BASE, auth(kube_serverless.ALL)
    settings = settings_factory(rate_limits="read=1/minute|1/minute")
    async with running_app(settings) as client:
        assert (await client.get(f"{base}/functions", headers=every)).status_code == 200
        limited = await client.get(f"{base}/functions", headers=every)
        kube_serverless.assert_error(limited, 429, "rate limit")
        assert "retry-after" in limited.headers
        for _ in range(3):
            assert (await client.get(f"{base}/health")).status_code == 200


async def test_project_functions_answers_its_429_by_class(settings_factory: Any) -> None:
    base, reader, writer = pf.BASE, auth(pf.READER), auth(pf.WRITER)
    settings = settings_factory(rate_limits="read=2/minute|2/minute; write=1/minute|1/minute")
    async with running_app(settings) as client:
        api = Api(client, auth)
        assert (await pf.deploy(api, "shop", "calc")).status_code == 200
        for _ in range(2):
            r = await client.get(f"{base}/api/v1/projects", headers=reader)
            assert r.status_code == 200, r.text
        r = await client.get(f"{base}/api/v1/projects", headers=reader)
        pf.assert_error(r, 429, "RATE_LIMIT_ERROR")
        assert "retry-after" in r.headers
        pf.assert_error(await pf.deploy(api, "shop", "calc"), 429, "RATE_LIMIT_ERROR")
        # The invoke is the execute class, as the native invoke; the probes are not limited.
        for _ in range(2):
            r = await client.post(f"{base}/api/v1/functions/shop/calc/invoke", headers=writer,
                                  json={})
            assert r.status_code == 200, r.text
            assert (await client.get(f"{base}/health")).status_code == 200
            assert (await client.get(f"{base}/status")).status_code == 200


async def test_function_service_answers_its_429_by_class(settings_factory: Any) -> None:
    ws, admin, reader = function_service.WS, auth(function_service.ADMIN), auth("read:functions")
    settings = settings_factory(rate_limits="read=2/minute|2/minute; write=1/minute|1/minute")
    async with running_app(settings) as client:
        r = await client.post(f"{ws}/functions", headers=admin, json=function_service.CREATE)
        assert r.status_code == 201, r.text
        fid = r.json()["id"]
        for _ in range(2):
            assert (await client.get(f"{ws}/functions", headers=reader)).status_code == 200
        r = await client.get(f"{ws}/functions", headers=reader)
        function_service.assert_error(r, 429, "RATE_LIMITED")
        assert "retry-after" in r.headers
        function_service.assert_error(
            await client.post(f"{ws}/functions", headers=admin, json=function_service.CREATE),
            429, "RATE_LIMITED")
        # Invokes are the execute class, as the native invoke: neither limit above counts.
        for path in ("invoke", "invoke-async"):
            r = await client.post(f"{ws}/functions/{fid}/{path}", headers=admin,
                                  json=function_service.INVOKE)
            assert r.status_code in (200, 202), r.text
