"""/docs, /redoc and the sandboxes' /_sandbox/docs work on an isolated network: every asset they
load is served by the app itself, and a browser that may reach only loopback renders them."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from playwright.async_api import Page, Route, async_playwright

from app.kit.server import BackgroundServer

CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
}
# Where a page names what it loads: tags' src/href, ReDoc's spec-url, Swagger UI's url.
REFERENCES = re.compile(r"""(?:src|href|spec-url)="([^"]+)"|\burl: '([^']+)'""")
ANY_URL = re.compile(r"""[a-z][a-z0-9+.-]*://[^\s"'<>)]+""", re.IGNORECASE)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def pages(
    service_server: BackgroundServer,
    sandbox_server: BackgroundServer,
    shoplazza_server: BackgroundServer,
    newegg_server: BackgroundServer,
) -> list[str]:
    return [
        f"{service_server.url}/docs",
        f"{service_server.url}/redoc",
        f"{sandbox_server.url}/_sandbox/docs",
        f"{shoplazza_server.url}/_sandbox/docs",
        f"{newegg_server.url}/_sandbox/docs",
    ]


async def test_every_asset_is_served_by_the_app_itself(pages: list[str]) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        for url in pages:
            page = await client.get(url)
            assert page.status_code == 200, url
            assert page.headers["content-type"].startswith("text/html")
            # No other host, not even in a comment: the page must work with none reachable.
            assert ANY_URL.findall(page.text) == [], url
            references = [a or b for a, b in REFERENCES.findall(page.text)]
            assert len(references) >= 3, (url, references)  # script, openapi, favicon at least
            for reference in references:
                asset = urljoin(url, reference)
                assert urlsplit(asset).netloc == urlsplit(url).netloc, asset
                answer = await client.get(asset)
                assert answer.status_code == 200, asset
                expected = CONTENT_TYPES[Path(urlsplit(asset).path).suffix]
                assert answer.headers["content-type"].startswith(expected), asset
                assert len(answer.content) > 100, asset


def _chromium() -> str | None:
    """The system's chromium (Debian's, as .ci/run installs it); None: Playwright's own, which
    ``dev.py test`` fetches when there is no system one."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


async def _render(page: Page, url: str, ready: str) -> tuple[list[str], list[str]]:
    """Open ``url`` with every non-loopback request refused; returns the requests refused, and
    what the page's Content-Security-Policy stopped before it became a request."""
    refused: list[str] = []
    stopped: list[str] = []
    page.on(
        "console",
        lambda message: (
            stopped.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    async def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort()

    await page.route("**/*", loopback_only)
    await page.goto(url)
    await page.wait_for_selector(ready, timeout=30_000)
    return refused, stopped


async def test_a_browser_on_an_isolated_network_renders_the_operations(
    service_server: BackgroundServer, sandbox_server: BackgroundServer
) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            refused, stopped = await _render(
                page, f"{service_server.url}/docs", ".opblock-summary-path"
            )
            paths = await page.locator(".opblock-summary-path").all_inner_texts()
            assert "/v1/orders" in [p.strip() for p in paths]
            assert "/webhooks/lazada" in [p.strip() for p in paths]
            assert (refused, stopped) == ([], [])

            redoc = await browser.new_page()
            refused, stopped = await _render(redoc, f"{service_server.url}/redoc", "h2")
            headings = await redoc.locator("h2").all_inner_texts()
            assert "Receive a Lazada push" in headings
            assert refused == []
            # Only the Redocly logo in ReDoc's menu, which hides itself when it cannot load.
            assert all("cdn.redoc.ly/redoc/logo-mini.svg" in text for text in stopped), stopped

            sandbox = await browser.new_page()
            refused, stopped = await _render(
                sandbox, f"{sandbox_server.url}/_sandbox/docs", ".opblock-summary-path"
            )
            assert await sandbox.locator(".opblock-summary-path").count() > 0
            assert (refused, stopped) == ([], [])
        finally:
            await browser.close()
