"""Unknown and refused fields in create/update bodies answer 400 naming the field."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.conftest import auth
from tests.integration.test_functions_api import PY_ECHO, WRITER, assert_error, create

ADMIN = auth("admin")


def _field(response: httpx.Response, status: int = 400, code: str = "INVALID_REQUEST") -> Any:
    return assert_error(response, status, code)["error"]["details"].get("field")


async def test_create_with_an_unknown_field_is_400_and_creates_nothing(
    client: httpx.AsyncClient,
) -> None:
    r = await create(client, name="evil", evil=1)
    assert _field(r) == "evil"
    assert "'evil' is not a known field" in r.json()["error"]["message"]
    assert (await client.get("/api/v1/functions/evil", headers=WRITER)).status_code == 404


async def test_update_with_an_unknown_field_is_400_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    assert (await create(client, name="keep")).status_code == 201
    r = await client.put("/api/v1/functions/keep", headers=WRITER,
                         json={"timeout_ms": 5000, "evil": 1})
    assert _field(r) == "evil"
    assert (await client.get("/api/v1/functions/keep", headers=WRITER)).json()[
        "timeout_ms"] == 30000


async def test_multipart_create_with_an_unknown_form_field_is_400(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(
        "/api/v1/functions", headers=WRITER,
        data={"name": "multi", "runtime": "python", "env_vars": '{"A": "1"}'},
        files={"code": ("handler.py", PY_ECHO.encode(), "text/x-python")},
    )
    assert _field(r) == "env_vars"


async def test_multipart_requirements_and_dependencies_together_is_400(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(
        "/api/v1/functions", headers=WRITER,
        data={"name": "multi", "runtime": "python", "dependencies": '["six"]'},
        files={"code": ("handler.py", PY_ECHO.encode(), "text/x-python"),
               "requirements": ("requirements.txt", b"six\n", "text/plain")},
    )
    assert _field(r) == "requirements"


@pytest.mark.parametrize("field", ["image", "secret_names", "id", "status"])
async def test_refused_fields_say_why(client: httpx.AsyncClient, field: str) -> None:
    r = await create(client, name="refused", **{field: "x"})
    assert _field(r) == field
    assert "is not a known field" not in r.json()["error"]["message"]


async def test_the_function_service_create_body_is_accepted_as_printed(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post("/api/v1/functions", headers=WRITER, json={
        "name": "my-function", "runtime": "python3.9", "handler": "main.handler",
        "source_code": base64.b64encode(b"def handler(event):\n    return 1\n").decode(),
        "environment": {"API_KEY": "secret-key", "POOL_SIZE": "3"},
        "resources": {"memory": "256Mi", "cpu": "100m"},
        "labels": {"team": "backend", "env": "production"},
    })
    assert r.status_code == 201, r.text
    f = r.json()
    assert (f["memory_mb"], f["cpu_millis"], f["handler"]) == (256, 100, "handler")


# -- versions ---------------------------------------------------------------------------------

async def test_a_version_body_with_an_unknown_field_or_an_image_is_400(
    client: httpx.AsyncClient,
) -> None:
    await create(client, name="ver")
    r = await client.post("/api/v1/functions/ver/versions", headers=WRITER,
                          json={"code": PY_ECHO, "evil": 1})
    assert _field(r) == "evil"
    r = await client.post("/api/v1/functions/ver/versions", headers=WRITER,
                          json={"version": 2, "image": "myregistry/my-function:v2"})
    assert _field(r) == "image"
    assert "custom images are not supported" in r.json()["error"]["message"]
    versions = (await client.get("/api/v1/functions/ver/versions", headers=WRITER)).json()
    assert [v["version"] for v in versions["versions"]] == [1]


async def test_a_version_number_sent_must_be_the_next_one(client: httpx.AsyncClient) -> None:
    await create(client, name="ver")
    code = base64.b64encode(b"def handler(event):\n    return 2\n").decode()
    r = await client.post("/api/v1/functions/ver/versions", headers=WRITER,
                          json={"version": 5, "source_code": code})
    body = assert_error(r, 409, "CONFLICT")
    assert body["error"]["details"] == {"version": 5, "next_version": 2}
    r = await client.post("/api/v1/functions/ver/versions", headers=WRITER,
                          json={"version": 2, "source_code": code})
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 2
    for bad in (0, "2", True, 2.5):
        r = await client.post("/api/v1/functions/ver/versions", headers=WRITER,
                              json={"version": bad})
        assert _field(r) == "version"


@pytest.mark.parametrize("source_code", ["\u00e1", "aGk=\u00e1", "\u00e1\u00e1\u00e1\u00e1"])
async def test_source_code_that_is_not_ascii_is_400_naming_it_on_every_route(
    client: httpx.AsyncClient, source_code: str,
) -> None:
    # base64 refuses a non-ASCII str with a ValueError of its own (not binascii.Error): was 500.
    r = await create(client, name="nonascii", code=None, source_code=source_code)
    assert _field(r) == "source_code"
    assert (await client.get("/api/v1/functions/nonascii", headers=WRITER)).status_code == 404
    await create(client, name="ver")
    r = await client.post("/api/v1/functions/ver/versions", headers=WRITER,
                          json={"source_code": source_code})
    assert _field(r) == "source_code"
    r = await client.put("/api/v1/functions/ver", headers=WRITER,
                         json={"source_code": source_code})
    assert _field(r) == "source_code"
    versions = (await client.get("/api/v1/functions/ver/versions", headers=WRITER)).json()
    assert [v["version"] for v in versions["versions"]] == [1]


@pytest.mark.parametrize(("examples", "field"), [
    ([{"description": "", "request": {"params": None}, "response": [None, None]}],
     "examples[0].response"),
    ([{"response": {"result": 1}}, {"request": "x"}], "examples[1].request"),
    ([{"description": 5}], "examples[0].description"),
    ([{"request": None}], "examples[0].request"),
])
async def test_an_example_of_another_shape_than_documented_is_400_naming_it(
    client: httpx.AsyncClient, examples: list[Any], field: str,
) -> None:
    # These were stored and then rendered in a Function the OpenAPI document says is invalid.
    r = await create(client, name="ex", examples=examples)
    assert _field(r) == field
    await create(client, name="ok")
    r = await client.put("/api/v1/functions/ok", headers=WRITER, json={"examples": examples})
    assert _field(r) == field
    assert (await client.get("/api/v1/functions/ok", headers=WRITER)).json()["examples"] == []


async def test_examples_of_the_documented_shape_are_stored(client: httpx.AsyncClient) -> None:
    examples = [{"description": "add", "request": {"params": {"values": [1, 2]}},
                 "response": {"result": {"value": 3}}}, {}]
    r = await create(client, name="ex", examples=examples)
    assert r.status_code == 201, r.text
    assert r.json()["examples"] == examples


# -- projects ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("extra", "field"), [
    ({"evil": 1}, "evil"), ({"quotas": {"max_functions": 0}}, "quotas.max_functions"),
    ({"quotas": {"max_cpu": 1}}, "quotas.max_cpu"),
    ({"status": "stopped"}, "status"),
])
async def test_project_create_with_an_unknown_or_refused_field_is_400(
    client: httpx.AsyncClient, extra: dict[str, Any], field: str,
) -> None:
    r = await client.post("/api/v1/projects", headers=ADMIN, json={"name": "shop", **extra})
    assert _field(r) == field
    assert (await client.get("/api/v1/projects/shop", headers=ADMIN)).status_code == 404


@pytest.mark.parametrize("path", [
    "/api/v1/projects/default/env", "/api/v1/projects/default/dependencies",
    "/api/v1/env/system", "/api/v1/dependencies/system",
])
async def test_layer_bodies_with_a_field_beside_data_are_400(
    client: httpx.AsyncClient, path: str,
) -> None:
    data: Any = {} if "/env" in path else []
    r = await client.put(path, headers=ADMIN, json={"data": data, "evil": 1})
    assert _field(r) == "evil"
