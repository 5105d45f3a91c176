"""``/console``: the gateway serves the web console's page and every file it loads, with its
security headers, outside the API's rate limits; ``FNGATE_CONSOLE=off`` serves nothing there."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from gateway.api.routes.console import ASSETS
from tests.conftest import running_app

DEFAULT_LIMITS = "execute=100/minute|10/minute; read=60/minute|10/minute; write=100/hour|10/minute"


def _page_files() -> list[str]:
    """Every file the page loads: its links and scripts, the import map's modules, the app's."""
    index = (ASSETS / "index.html").read_text()
    found = re.findall(r'(?:href|src)="\./([^"]+)"', index)
    imports = json.loads(re.findall(r'<script type="importmap">(.*?)</script>', index, re.S)[0])
    found += [target.removeprefix("./") for target in imports["imports"].values()]
    found += [str(p.relative_to(ASSETS)) for p in (ASSETS / "js").glob("*.js")]
    return sorted(set(found))


async def test_console_serves_its_page_and_files_with_its_headers_and_nothing_else(
    settings_factory: Callable[..., Any],
) -> None:
    async with running_app(settings_factory(rate_limits=DEFAULT_LIMITS)) as client:
        folder = await client.get("/console")
        assert folder.status_code == 308 and folder.headers["location"] == "console/"
        page = await client.get("/console/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="./js/app.js">' in page.text
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self' 'sha256-" in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["x-frame-options"] == "DENY"
        # Outside /api/v1: not rate limited.
        assert "x-ratelimit-limit" not in page.headers
        files = _page_files()
        assert "js/app.js" in files and "vendor/@codemirror/view/index.js" in files
        for name in files:
            answer = await client.get(f"/console/{name}")
            assert answer.status_code == 200, name
            assert answer.content == (ASSETS / name).read_bytes(), name
            kind = answer.headers["content-type"]
            expected = "text/javascript" if name.endswith(".js") else (
                "text/css" if name.endswith(".css") else "image/svg+xml")
            assert kind.startswith(expected), (name, kind)
            assert answer.headers["content-security-policy"] == policy
        # What is not a file of the console gets the API's error body.
        missing = await client.get("/console/js/nope.js")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "NOT_FOUND"
        posted = await client.post("/console/index.html", content=b"x")
        assert posted.status_code == 405
        assert posted.json()["error"]["code"] == "INVALID_REQUEST"  # as every 405 (api.md)
        # Percent-encoded dots do not climb out of the console's folder.
        escape = await client.get("/console/%2e%2e/routes/console.py")
        assert escape.status_code == 404


async def test_console_off_serves_nothing_there(settings_factory: Callable[..., Any]) -> None:
    async with running_app(settings_factory(console=False)) as client:
        for path in ("/console", "/console/", "/console/js/app.js"):
            answer = await client.get(path)
            assert answer.status_code == 404, path
            assert answer.json()["error"]["code"] == "NOT_FOUND"
        assert (await client.get("/health")).status_code == 200
