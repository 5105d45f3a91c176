"""Every example of the four compatibility documents against ``fngate serve`` (root, the
sandbox on, the default rate limits): the flows of :mod:`tests.dialect_examples`, one test
each, on this module's gateway; a function made through any document listed, shown and
run through the native API and every document; and each document's 429.

The documents' examples share names (``my-function`` is Kube-Serverless's and the
Function Service's), so every test here leaves the gateway without functions. Each test
calls as a subject of its own: the rate limits count per subject, and one test's reads do
not spend another's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from auth import mint_token
from tests.dialect_examples import (
    across,
    function_api,
    function_service,
    kube_serverless,
    project_functions,
)
from tests.dialect_examples.harness import Api, Flow
from tests.e2e.serve import ADMIN_SCOPES, Gateway

DOCUMENTS = {
    "function_api": function_api.FLOWS,
    "kube_serverless": kube_serverless.FLOWS,
    "project_functions": project_functions.FLOWS,
    "function_service": function_service.FLOWS,
}
FLOWS: dict[str, Flow] = {f"{document}::{name}": flow
                          for document, flows in DOCUMENTS.items()
                          for name, flow in flows.items()}


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
