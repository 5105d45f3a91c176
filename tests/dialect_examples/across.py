"""One function, every dialect: a function created through any of the four documents is
visible (listed and shown) and invocable through the native API and each of the other
documents, each in its own shape; and each document's 429."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from tests.dialect_examples import function_api, function_service, kube_serverless
from tests.dialect_examples import project_functions as pf
from tests.dialect_examples.harness import Api

__all__ = ["CREATORS", "LIMITED", "created_anywhere_runs_everywhere", "flood_until_limited"]

SCOPES = "admin execute:all read:functions write:functions read:jobs"
#: The workspace (an fngate project) of the Function Service's functions here, and the
#: project of the project-functions document's.
WORKSPACE, PROJECT = "ws-789", "shop"


def _code(name: str) -> str:
    """A handler every document's invoke can run: the ``{statusCode, body}`` result that
    Kube-Serverless and the Function Service both read, and the other documents return
    as it is."""
    return f"def handler(event):\n    return {{'statusCode': 200, 'body': 'from {name}'}}\n"


def _result(name: str) -> dict[str, object]:
    return {"statusCode": 200, "body": f"from {name}"}


@dataclass(frozen=True, slots=True)
class Created:
    """A function as the native API shows it."""

    id: int
    name: str
    project: str


async def _via_function_api(api: Api, name: str) -> str:
    r = await api.client.post(f"{function_api.BASE}/functions", headers=api.mint(SCOPES),
                              json={"name": name, "runtime": "python", "code": _code(name),
                                    "execution_type": "sync"})
    assert r.status_code == 201, r.text
    return "default"


async def _via_kube(api: Api, name: str) -> str:
    r = await api.client.post(f"{kube_serverless.BASE}/functions", headers=api.mint(SCOPES),
                              json={"name": name, "runtime": "python39",
                                    "handler": "handler.handler", "code": _code(name)})
    assert r.status_code == 201, r.text
    return "default"


async def _via_project_functions(api: Api, name: str) -> str:
    r = await api.client.post(f"{pf.BASE}/api/v1/functions/{PROJECT}/deploy",
                              headers=api.mint(SCOPES), data={"function_name": name},
                              files={"code": ("main.py", _code(name).encode(),
                                              "text/x-python")})
    assert r.status_code == 200, r.text
    return PROJECT


async def _via_function_service(api: Api, name: str) -> str:
    r = await api.client.post(
        f"/api/v1/workspaces/{WORKSPACE}/functions", headers=api.mint(SCOPES),
        json={"name": name, "runtime": "python3.9", "handler": "main.handler",
              "source_code": function_service.b64(_code(name))})
    assert r.status_code == 201, r.text
    return WORKSPACE


#: Each document's create, by dialect: the function's project.
CREATORS: dict[str, Callable[[Api, str], Awaitable[str]]] = {
    "function_api": _via_function_api,
    "kube_serverless": _via_kube,
    "project_functions": _via_project_functions,
    "function_service": _via_function_service,
}


async def _native(api: Api, fn: Created) -> None:
    headers = api.mint(SCOPES)
    r = await api.client.get(f"/api/v1/functions?project={fn.project}&per_page=100",
                             headers=headers)
    assert r.status_code == 200 and fn.name in [f["name"] for f in r.json()["functions"]]
    r = await api.client.post(f"/api/v1/functions/{fn.name}/invoke", headers=headers,
                              json={"n": 1})
    assert r.status_code == 200 and r.json()["result"] == _result(fn.name), r.text


async def _function_api(api: Api, fn: Created) -> None:
    headers, base = api.mint(SCOPES), function_api.BASE
    r = await api.client.get(f"{base}/functions", headers=headers)
    assert r.status_code == 200, r.text
    assert fn.id in [f["id"] for f in r.json()["data"]["functions"]]
    r = await api.client.get(f"{base}/functions/{fn.id}", headers=headers)
    assert r.status_code == 200 and r.json()["data"]["name"] == fn.name, r.text
    r = await api.client.post(f"{base}/functions/{fn.id}/invoke", headers=headers,
                              json={"param1": "value1"})
    assert r.status_code == 200, r.text
    job = r.json()["data"]
    assert (job["function_id"], job["status"], job["result"]) == (
        fn.id, "success", _result(fn.name))


async def _kube(api: Api, fn: Created) -> None:
    headers, base = api.mint(SCOPES), kube_serverless.BASE
    r = await api.client.get(f"{base}/functions", headers=headers)
    assert r.status_code == 200 and fn.name in [f["name"] for f in r.json()], r.text
    r = await api.client.get(f"{base}/functions/{fn.name}", headers=headers)
    assert r.status_code == 200 and r.json()["runtime"] == "python39", r.text
    r = await api.client.post(f"{base}/functions/{fn.name}/invoke", headers=headers,
                              json={"key": "value"})
    assert r.status_code == 200 and r.json() == _result(fn.name), r.text


async def _project_functions(api: Api, fn: Created) -> None:
    headers, base = api.mint(SCOPES), f"{pf.BASE}/api/v1/functions/{fn.project}"
    r = await api.client.get(base, headers=headers)
    assert r.status_code == 200, r.text
    assert fn.name in [f["name"] for f in r.json()["functions"]]
    r = await api.client.get(f"{base}/{fn.name}", headers=headers)
    assert r.status_code == 200 and r.json()["function"]["name"] == fn.name, r.text
    r = await api.client.post(f"{base}/{fn.name}/invoke", headers=headers,
                              json={"key": "value"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["result"]) == ("success", _result(fn.name))


async def _function_service(api: Api, fn: Created) -> None:
    headers, base = api.mint(SCOPES), f"/api/v1/workspaces/{fn.project}/functions"
    r = await api.client.get(base, headers=headers)
    assert r.status_code == 200, r.text
    assert f"func-{fn.id}" in [f["id"] for f in r.json()["functions"]]
    r = await api.client.get(f"{base}/func-{fn.id}", headers=headers)
    assert r.status_code == 200 and r.json()["name"] == fn.name, r.text
    r = await api.client.post(f"{base}/func-{fn.id}/invoke", headers=headers,
                              json=function_service.INVOKE)
    assert r.status_code == 200, r.text
    assert r.json()["status_code"] == 200
    assert base64.b64decode(r.json()["body"]).decode() == f"from {fn.name}"


_SURFACES = (_native, _function_api, _kube, _project_functions, _function_service)


async def created_anywhere_runs_everywhere(api: Api, creator: str) -> None:
    """Create through ``creator``'s document, then list, show and invoke the function
    through the native API and every document (its own included)."""
    name = f"across-{creator.replace('_', '-')}"
    project = await CREATORS[creator](api, name)
    r = await api.client.get(f"/api/v1/functions/{name}", headers=api.mint(SCOPES))
    assert r.status_code == 200, r.text
    assert r.json()["project"] == project and r.json()["runtime"] == "python"
    fn = Created(id=r.json()["id"], name=name, project=project)
    for surface in _SURFACES:
        await surface(api, fn)


#: A read route of each document, and its 429 as the document writes errors.
LIMITED: dict[str, tuple[str, Callable[[httpx.Response], object]]] = {
    "function_api": (f"{function_api.BASE}/functions",
                     lambda r: function_api.assert_failure(r, 429, "RATE_LIMITED")),
    "kube_serverless": (f"{kube_serverless.BASE}/functions",
                        lambda r: kube_serverless.assert_error(r, 429, "rate limit")),
    "project_functions": (f"{pf.BASE}/api/v1/projects",
                          lambda r: pf.assert_error(r, 429, "RATE_LIMIT_ERROR")),
    "function_service": (f"/api/v1/workspaces/{WORKSPACE}/functions",
                         lambda r: function_service.assert_error(r, 429, "RATE_LIMITED")),
}


async def flood_until_limited(api: Api, dialect: str) -> None:
    """Reads of ``dialect``'s read route by one caller until the read limit (whatever it
    is configured to: ``X-RateLimit-Limit``) answers 429 in the document's shape. At most
    twice the limit pass, should the requests straddle a window."""
    path, assert_limited = LIMITED[dialect]
    headers = api.mint("read:functions")
    first = await api.client.get(path, headers=headers)
    assert first.status_code == 200, first.text
    limit = int(first.headers["x-ratelimit-limit"])
    for _ in range(2 * limit):
        r = await api.client.get(path, headers=headers)
        if r.status_code != 200:
            break
    assert_limited(r)
    assert int(r.headers["retry-after"]) > 0
