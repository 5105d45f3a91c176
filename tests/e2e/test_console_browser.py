"""The web console in a real browser: Debian's Chromium driven by Playwright against a real
``fngate serve``. A user signs in with a token, creates a function in the code editor,
invokes it and sees its result and log line, follows its logs live, sees its chart point,
its jobs, versions and triggers. The page must log no error (a violation of its
Content-Security-Policy is one).

Screenshots of each page go to ``$FNGATE_SCREENSHOTS`` (default: the test's tmp dir).
Skips with the reason when Chromium or Playwright is missing; fails under ``CI=true``
(``deploy/check-tools.sh`` installs Chromium, the dev extra Playwright).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, need_tool
from tests.e2e.serve import Gateway

# Bounds for what a loaded 2-core machine may need; the flow takes a few seconds.
STEP_MS = 20_000


def _playwright() -> Any:
    try:
        from playwright import async_api
    except ImportError:
        message = "playwright is not installed (pip install -e '.[dev]')"
        if IN_CI:
            pytest.fail(message + " (CI=true: the dev extra has it)")
        pytest.skip(message)
    return async_api


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """``$FNGATE_SCREENSHOTS``, or a folder of the test's own."""
    folder = Path(os.environ.get("FNGATE_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def test_console_signs_in_creates_invokes_and_shows_logs_and_a_chart_point(
    server: Gateway, screenshots: Path,
) -> None:
    async_api = _playwright()
    need_tool("chromium", "chromium")
    headers = await asyncio.to_thread(server.mint)
    token = headers["Authorization"].removeprefix("Bearer ")
    name = f"console{uuid.uuid4().hex[:8]}"
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    code = (f"def handler(event, context):\n    print({marker!r}, event.get('x'))\n"
            f"    return {{'doubled': event.get('x', 0) * 2}}\n")
    problems: list[str] = []
    expect = async_api.expect
    expect.set_options(timeout=STEP_MS)

    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=shutil.which("chromium"))
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(STEP_MS)
            page.on("console", lambda m: problems.append(f"{m.text} @ {m.location}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
            shot = _Shots(page, screenshots)

            # Sign in: a bad token shows the API's error body; a good one the list.
            await page.goto(server.url + "/console")
            await page.fill("#token", "not-a-token")
            await page.click("#sign-in")
            await expect(page.locator(".error-box")).to_contain_text("UNAUTHORIZED")
            await shot("01-sign-in-refused")
            problems.clear()  # the browser logs the 401 itself; that one was expected
            await page.fill("#token", token)
            await page.click("#sign-in")
            await expect(page.locator("#filters")).to_be_visible()
            assert await page.evaluate("sessionStorage.getItem('fngate.console.token')") == token
            await shot("02-functions")

            # Create a function with code pasted into the CodeMirror editor.
            await page.click("text=New function")
            await page.fill("#new-name", name)
            await _paste(page.locator("#new-code .cm-content"), code)
            await shot("03-new-function")
            await page.click("#create")
            await expect(page.locator("#function-name")).to_have_text(name)
            await expect(page.locator("#code-editor .cm-content")).to_contain_text(marker)
            await shot("04-code")

            # Invoke it: the result, the cold start and the job's log line.
            await page.click("#tab-link-invoke")
            await page.fill("#invoke-body", '{"x": 21}')
            await page.click("#invoke")
            await expect(page.locator("#invoke-result")).to_contain_text('"doubled": 42')
            await expect(page.locator("#invoke-logs")).to_contain_text(f"{marker} 21")
            await expect(page.locator("#invoke-output .fact-cold-start")).to_contain_text("yes")
            await shot("05-invoke")

            # Live logs: the backlog, then a line printed while the page follows.
            await page.click("#tab-link-logs")
            live = page.locator("#live-logs")
            await expect(live).to_contain_text(f"{marker} 21")
            await expect(page.locator("#follow-state")).to_have_text("following")
            answer = await asyncio.to_thread(
                server.request, "POST", f"/api/v1/functions/{name}/invoke", headers=headers,
                json={"x": 5})
            assert answer.status_code == 200 and answer.json()["status"] == "success"
            await expect(live).to_contain_text(f"{marker} 5")
            await shot("06-logs")

            # Metrics: the two invocations are a point of the invocations chart.
            await page.click("#tab-link-metrics")
            point = page.locator('svg circle.point[data-series="invocations"]')
            await expect(point.first).to_be_attached()
            assert "invocations: 2" in await point.last.locator("title").text_content()
            await expect(page.locator('svg circle.point[data-series="p99"]').first).to_be_attached()
            await shot("07-metrics")

            # Jobs: both runs, and a job's detail with its log line.
            await page.click("#tab-link-jobs")
            rows = page.locator("#jobs tbody tr")
            await expect(rows).to_have_count(2)
            await rows.first.click()
            await expect(page.locator("#job-detail")).to_contain_text(f"{marker} 5")
            await shot("08-jobs")

            # A new version from the editor, then a rollback to the first.
            await page.click("#tab-link-code")
            await _paste(page.locator("#code-editor .cm-content"), code.replace("* 2", "* 3"))
            await page.click("#deploy")
            await expect(page.locator(".notice")).to_contain_text("version 2")
            await expect(page.locator("#fact-active-version")).to_contain_text("2")
            await page.click("#tab-link-versions")
            versions = page.locator("#versions tbody tr")
            await expect(versions).to_have_count(2)
            await expect(versions.first).to_contain_text("active")  # newest first: version 2
            await page.click("#rollback")
            await expect(versions.nth(1)).to_contain_text("active")
            await expect(versions.first).not_to_contain_text("active")
            await expect(page.locator("#fact-active-version")).to_contain_text("1")
            await shot("09-versions")

            await page.click("#tab-link-triggers")
            await page.fill("#trigger-config", f'{{"path": "/{name}", "methods": ["GET"]}}')
            await page.click("#add-trigger")
            await expect(page.locator("#triggers")).to_contain_text(f"/{name}")
            await shot("10-triggers")

            # The list's language filter finds it.
            await page.goto(server.url + "/console/#/functions?language=python")
            await expect(page.locator("#functions")).to_contain_text(name)
            await shot("11-functions-filtered")
        finally:
            await browser.close()
    assert problems == []


async def _paste(editor: Any, text: str) -> None:
    """Replace the editor's text as a user pasting it does (select all, paste). Playwright's
    fill() would insert the lines through the browser's own editing, whose inline styles
    the page's policy refuses (and the editor would then redraw anyway)."""
    await editor.click()
    await editor.press("Control+a")
    await editor.evaluate(
        """(element, text) => {
             const data = new DataTransfer();
             data.setData("text/plain", text);
             element.dispatchEvent(new ClipboardEvent("paste", {
               clipboardData: data, bubbles: true, cancelable: true}));
           }""", text)


class _Shots:
    """Full-page screenshots, numbered, into one folder."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page, self.folder = page, folder

    async def __call__(self, label: str) -> None:
        started = time.monotonic()
        await self.page.screenshot(path=str(self.folder / f"{label}.png"), full_page=True)
        assert time.monotonic() - started < STEP_MS / 1000
