"""``FNGATE_DIALECTS`` on a running gateway: the dialects it names answer, the paths of the
others answer the native 404, and ``/status`` lists what is served."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import auth, running_app

# One read of each dialect, and whether it is the dialect named below.
PROBES = {
    "function-api": "/compat/function-api/functions",
    "kube-serverless": "/compat/kube-serverless/api/v1/functions",
    "project-functions": "/compat/project-functions/api/v1/projects",
    "function-service": "/api/v1/workspaces/default/functions",
}


@pytest.mark.parametrize("setting", ["kube-serverless,function-service", "none"])
async def test_only_the_named_dialects_answer_the_others_are_the_native_404(
    settings_factory: Callable[..., Any], setting: str,
) -> None:
    served = [] if setting == "none" else setting.split(",")
    async with running_app(settings_factory(dialects=setting)) as client:
        status = (await client.get("/status")).json()
        assert status["dialects"] == served
        for name, path in PROBES.items():
            answer = await client.get(path, headers=auth())
            if name in served:
                assert answer.status_code == 200, (path, answer.text)
                continue
            assert answer.status_code == 404, path
            body = answer.json()
            assert body["error"]["code"] == "NOT_FOUND", (path, body)
            assert body["request_id"] == answer.headers["x-request-id"]
        # The native API is whole either way.
        assert (await client.get("/api/v1/functions", headers=auth())).status_code == 200
