"""Function names as the seeds write them: Lambda's set, unique case-insensitively."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.integration.test_functions_api import PY_ECHO, WRITER, assert_error, create

NODE_ECHO = "function handler(event) { return event }"


async def test_the_seed_000_names_are_accepted_and_keep_their_case(
    client: httpx.AsyncClient,
) -> None:
    r = await create(client, name="myFunction", code="def handler(event): return event",
                     execution_type="sync")
    assert r.status_code == 201, r.text
    f = r.json()
    assert (f["name"], f["title"], f["language_title"]) == (
        "myFunction", "myFunction", "python-myFunction")
    assert f["endpoint"] == "/api/v1/functions/myFunction/invoke"
    assert r.headers["location"] == "/api/v1/functions/myFunction"

    r = await client.put("/api/v1/functions/myFunction", headers=WRITER, json={
        "name": "myUpdatedFunction", "runtime": "nodejs", "code": NODE_ECHO,
        "execution_type": "async"})
    assert r.status_code == 200, r.text
    assert r.json()["language_title"] == "nodejs-myUpdatedFunction"


@pytest.mark.parametrize("ref", ["myFunction", "myfunction", "MYFUNCTION",
                                 "python-myFunction", "Python-MyFunction"])
async def test_refs_resolve_case_insensitively(client: httpx.AsyncClient, ref: str) -> None:
    function_id = (await create(client, name="myFunction")).json()["id"]
    r = await client.get(f"/api/v1/functions/{ref}", headers=WRITER)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == function_id and r.json()["name"] == "myFunction"


async def test_names_differing_only_in_case_are_one_name(client: httpx.AsyncClient) -> None:
    assert (await create(client, name="myFunction")).status_code == 201
    body = assert_error(await create(client, name="MyFunction"), 409, "CONFLICT")
    assert body["error"]["details"]["conflicts_with"] == "myFunction"
    other = await create(client, name="other")
    r = await client.put("/api/v1/functions/other", headers=WRITER, json={"name": "MYFUNCTION"})
    assert_error(r, 409, "CONFLICT")
    assert other.status_code == 201


async def test_a_change_of_case_alone_renames(client: httpx.AsyncClient) -> None:
    await create(client, name="myfunction")
    r = await client.put("/api/v1/functions/myfunction", headers=WRITER,
                         json={"name": "myFunction"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "myFunction"


async def test_ambiguity_with_a_language_title_ignores_case(client: httpx.AsyncClient) -> None:
    assert (await create(client, name="Foo")).status_code == 201  # python-Foo
    r = await create(client, name="Python-foo", runtime="nodejs", code=NODE_ECHO)
    assert assert_error(r, 409, "CONFLICT")["error"]["details"]["conflicts_with"] == "Foo"
    # The reverse: a function whose language_title would equal an existing name.
    assert (await create(client, name="Nodejs-Bar", code=PY_ECHO)).status_code == 201
    r = await create(client, name="bar", runtime="nodejs", code=NODE_ECHO)
    assert_error(r, 409, "CONFLICT")


@pytest.mark.parametrize("name", ["1abc", "_abc", "a.b", "a b", "ä", "a" * 65])
async def test_names_outside_lambdas_set_are_400(client: httpx.AsyncClient, name: str) -> None:
    body = assert_error(await create(client, name=name), 400, "INVALID_REQUEST")
    assert body["error"]["details"]["field"] == "name"


async def test_project_names_stay_lower_case(client: httpx.AsyncClient) -> None:
    body = assert_error(await create(client, name="f", project="Shop"), 400, "INVALID_REQUEST")
    assert body["error"]["details"]["field"] == "project"


async def test_names_with_capitals_and_underscores_invoke_serve_and_initialize(
    client: httpx.AsyncClient,
) -> None:
    name = "Image_Resize-" + "x" * 51  # 64 characters, the most
    r = await create(client, name=name, triggers=[
        {"type": "http", "config": {"path": "/Image_Resize", "public": True}}])
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/v1/functions/{name.lower()}/invoke", headers=WRITER,
                          json={"k": 1})
    assert r.status_code == 200, r.text
    assert r.json()["result"] == {"k": 1} and r.json()["function_name"] == name
    r = await client.post("/fn/Image_Resize", json={"k": 2})
    assert r.status_code == 200, r.text
    assert r.json()["body"] == {"k": 2}
    r = await client.post("/api/v1/initialize", headers={
        **WRITER, "Language-Title": f"python-{name}".upper()})
    assert r.status_code == 200, r.text


async def test_the_database_refuses_names_differing_only_in_case(database_url: str,
                                                                 client: httpx.AsyncClient
                                                                 ) -> None:
    await create(client, name="myFunction")
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO functions (name, runtime, timeout_ms, memory_mb, max_concurrency,"
                " min_warm, cache_ttl) VALUES ('MYFUNCTION', 'python', 1, 16, 1, 0, 0)")
    finally:
        await conn.close()


@pytest.mark.parametrize("field", ["name", "project", "handler"])
async def test_a_trailing_newline_is_not_part_of_any_pattern(
        client: httpx.AsyncClient, field: str) -> None:
    # Python's `$` also matches before a final newline: `foo\n` passed as a name.
    valid = {"name": "nl", "project": "default", "handler": "handler", "runtime": "python"}
    body = {"code": PY_ECHO, **valid, field: valid[field] + "\n"}
    r = await client.post("/api/v1/functions", headers=WRITER, json=body)
    assert assert_error(r, 400, "INVALID_REQUEST")["error"]["details"]["field"] == field


async def test_a_trailing_newline_in_an_environment_key_or_trigger_path_is_400(
        client: httpx.AsyncClient) -> None:
    r = await create(client, name="nl", environment={"KEY\n": "v"})
    assert r.status_code == 400, r.text
    r = await create(client, name="nl", triggers=[
        {"type": "http", "config": {"path": "/hello\n"}}])
    assert r.status_code == 400, r.text
