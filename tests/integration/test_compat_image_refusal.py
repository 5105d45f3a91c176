"""The Function Service's ``image`` (its Deploy Version example sends one) cannot be
honoured: a function here is its source. Every body that carries it is refused with 400 in
the document's error shape, saying why and what to send instead, and changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import auth

WS = "/api/v1/workspaces/ws-img"
ADMIN = auth("admin")
SOURCE = "ZGVmIGhhbmRsZXIoZSk6IHJldHVybiBl"  # def handler(e): return e
# The document's Deploy Version request, verbatim.
VERSION = {"version": 2, "source_code": "ZGVmIGhhbmRsZXIoY29udGV4dCk6CiAgICByZXR1cm4geyJzdG"
                                        "F0dXMiOiAyMDAsICJib2R5IjogIlZlcnNpb24gMiJ9",
           "image": "myregistry/my-function:v2"}


def assert_image_refused(r: httpx.Response) -> None:
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) == {"error", "code", "details"} and body["code"] == "INVALID_REQUEST"
    assert body["details"]["field"] == "image"
    assert "not from a container image" in body["error"]
    assert "'source_code' (base64)" in body["error"]


@pytest.mark.parametrize("body", [
    {"name": "img-fn", "runtime": "python3.9", "source_code": SOURCE,
     "image": "myregistry/my-function:v1"},
    {"name": "img-fn", "runtime": "python3.9", "image": "myregistry/my-function:v1"},
])
async def test_a_create_with_an_image_is_refused_and_makes_nothing(
    client: httpx.AsyncClient, body: dict[str, Any],
) -> None:
    assert_image_refused(await client.post(f"{WS}/functions", headers=ADMIN, json=body))
    r = await client.get(f"{WS}/functions", headers=ADMIN)
    assert r.json() == {"functions": []}


async def test_a_version_or_update_with_an_image_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(f"{WS}/functions", headers=ADMIN, json={
        "name": "img-fn", "runtime": "python3.9", "source_code": SOURCE})
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    assert_image_refused(await client.post(f"{WS}/functions/{fid}/versions", headers=ADMIN,
                                           json=VERSION))
    assert_image_refused(await client.put(f"{WS}/functions/{fid}", headers=ADMIN,
                                          json={"image": "myregistry/my-function:v2"}))
    r = await client.get(f"{WS}/functions/{fid}/versions", headers=ADMIN)
    assert [v["version"] for v in r.json()["versions"]] == [1]
    # Without the image, the same request deploys version 2.
    sent = {k: v for k, v in VERSION.items() if k != "image"}
    r = await client.post(f"{WS}/functions/{fid}/versions", headers=ADMIN, json=sent)
    assert r.status_code == 201 and r.json()["version"] == 2, r.text
