"""Every example of the four compatibility documents against ``fngate serve`` (root, the
sandbox on, the default rate limits): the flows of :mod:`tests.dialect_examples`, one test
each, on this module's gateway; a function made through any document listed, shown and
run through the native API and every document; and each document's 429.

The documents' examples share names (``my-function`` is Kube-Serverless's and the
Function Service's), so every test here leaves the gateway without functions. Each test
calls as a subject of its own: the rate limits count per subject, and one test's reads do
not spend another's."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import httpx
import pytest

from auth import mint_token
from tests.conftest import need_service, wait_for
from tests.dialect_examples import (
    across,
    function_api,
    function_service,
    kube_serverless,
    project_functions,
)
from tests.dialect_examples.harness import Api, Flow
from tests.e2e.serve import ADMIN_SCOPES, Gateway
from tests.e2e.test_serve_dependencies import need_registries
from tests.integration.queue_support import AMQP_URL

DOCUMENTS = {
    "function_api": function_api.FLOWS,
    "kube_serverless": kube_serverless.FLOWS,
    "project_functions": project_functions.FLOWS,
    "function_service": function_service.FLOWS,
}
FLOWS: dict[str, Flow] = {f"{document}::{name}": flow
                          for document, flows in DOCUMENTS.items()
                          for name, flow in flows.items()}


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    """A broker, as a deployment with queue triggers has (Kube-Serverless's queue trigger
    example needs one)."""
    need_service("RabbitMQ", "127.0.0.1", 5672)
    return {"FNGATE_AMQP_URL": AMQP_URL}


def _mint(gw: Gateway, subject: str, scopes: str) -> dict[str, str]:
    """A token the gateway accepts (signed with its data directory's secret, as
    ``fngate token`` signs), for ``subject``."""
    secret = (gw.data_dir / "jwt_secret").read_text().strip()
    return {"Authorization": "Bearer " + mint_token(secret=secret, subject=subject,
                                                    scopes=scopes)}


async def _delete_every_function(gw: Gateway, client: httpx.AsyncClient,
                                 subject: str) -> None:
    headers = _mint(gw, subject, ADMIN_SCOPES)
    r = await client.get("/api/v1/functions?per_page=100", headers=headers)
    assert r.status_code == 200, r.text
    for function in r.json()["functions"]:
        gone = await client.delete(f"/api/v1/functions/{function['id']}", headers=headers)
        assert gone.status_code == 204, gone.text


@pytest.fixture
async def api(server: Gateway, request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    """The module's gateway, a subject named after the test, and no function left
    behind."""
    subject = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        try:
            yield Api(client, lambda scopes: _mint(server, subject, scopes))
        finally:
            await _delete_every_function(server, client, f"cleanup-{subject}")


@pytest.mark.parametrize("flow", list(FLOWS))
async def test_document_examples(api: Api, flow: str) -> None:
    await FLOWS[flow](api)


@pytest.mark.parametrize("flow", list(project_functions.REGISTRY_FLOWS))
async def test_project_functions_examples_that_build_dependencies(api: Api, flow: str) -> None:
    need_registries()
    await project_functions.REGISTRY_FLOWS[flow](api)


@pytest.mark.parametrize("creator", list(across.CREATORS))
async def test_a_function_created_through_a_document_runs_through_every_other(
    api: Api, creator: str,
) -> None:
    await across.created_anywhere_runs_everywhere(api, creator)


@pytest.mark.parametrize("dialect", list(across.LIMITED))
async def test_the_read_limit_answers_429_in_the_documents_shape(
    api: Api, dialect: str,
) -> None:
    await across.flood_until_limited(api, dialect)


async def _consumers(connection: aio_pika.abc.AbstractConnection, queue: str) -> int | None:
    """The consumers of ``queue``, or None when it does not exist."""
    channel = await connection.channel()
    try:
        declared = await channel.declare_queue(queue, passive=True)
    except aio_pika.exceptions.ChannelClosed:
        return None
    count = int(declared.declaration_result.consumer_count or 0)
    await channel.close()
    return count


async def _drop_queue_trigger_objects(connection: aio_pika.abc.AbstractConnection,
                                      config: dict[str, str]) -> None:
    """The document's queue and exchange (and the gateway's queues beside it) gone from
    the machine's broker, once no gateway consumes the queue."""
    await wait_for(lambda: _no_consumer(connection, config["queue"]), timeout_s=30,
                   interval_s=0.2)
    channel = await connection.channel()
    try:
        for queue in (config["queue"], f"{config['queue']}.dlq",
                      f"{config['queue']}.fngate.retry"):
            await channel.queue_delete(queue)
        await channel.exchange_delete(config["exchange"])
    finally:
        await channel.close()


async def _no_consumer(connection: aio_pika.abc.AbstractConnection, queue: str) -> bool:
    return not await _consumers(connection, queue)


async def test_the_kube_serverless_queue_trigger_example_runs_the_function(api: Api) -> None:
    """"Trigger Types": the queue trigger as the document writes it, created with the
    function; a message published to its exchange with the queue's name runs the function
    (a job of trigger ``queue``)."""
    kube, config = kube_serverless, kube_serverless.QUEUE_TRIGGER["config"]
    every = api.mint(kube.ALL)
    connection = await aio_pika.connect(AMQP_URL)
    try:
        await _drop_queue_trigger_objects(connection, config)  # a previous run's, if any
        body = {**kube.CREATE, "triggers": [kube.QUEUE_TRIGGER]}
        r = await api.client.post(f"{kube.BASE}/functions", json=body, headers=every)
        assert r.status_code == 201, r.text
        try:
            await wait_for(lambda: _consumers(connection, config["queue"]), timeout_s=30,
                           interval_s=0.2)
            channel = await connection.channel()
            exchange = await channel.get_exchange(config["exchange"])
            await exchange.publish(aio_pika.Message(json.dumps({"order": 7}).encode()),
                                   routing_key=config["queue"], mandatory=True)
            await channel.close()

            async def ran() -> Any:
                r = await api.client.get("/api/v1/functions/my-function/jobs", headers=every)
                assert r.status_code == 200, r.text
                return [j for j in r.json()["jobs"]
                        if j["trigger"] == "queue" and j["status"] in ("success", "failed")]

            [job] = await wait_for(ran, timeout_s=30, interval_s=0.5)
            assert job["status"] == "success", job
            assert job["result"] == {"statusCode": 200, "body": "Hello!"}
        finally:
            gone = await api.client.delete(f"{kube.BASE}/functions/my-function",
                                           headers=every)
            assert gone.status_code == 204, gone.text
            await _drop_queue_trigger_objects(connection, config)
    finally:
        await connection.close()
