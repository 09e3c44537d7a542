"""Headless Chromium for the browser tests, cut off from every host but the test server.

Debian's `chromium` package, driven by Playwright's Python API (Playwright's own browser
download is not used). Each test gets a fresh page whose context aborts any request
that leaves the loopback interface and records it, so a page that renders here renders
with no network at all. Screenshots go to `SCREENSHOTS`, listed at the end of the run.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # tests run as root in CI, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # No update checks, metrics or sync: the browser itself stays off the network too.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# CI sets this: there a missing browser fails the run instead of skipping its tests.
BROWSER_REQUIRED = os.environ.get("PRACTICA_REQUIRE_BROWSER") == "1"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_saved: list[Path] = []


@dataclass
class BrowserPage:
    """A page of its own, plus what it tried to fetch from elsewhere and what broke in it."""

    page: Page
    foreign_requests: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def screenshot(self, name: str, *, full_page: bool = False) -> Path:
        """Save the viewport (or the whole page) as `SCREENSHOTS/<name>.png`; return the path."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        _saved.append(path)
        return path


def _missing_browser() -> str | None:
    if Path(CHROMIUM).is_file():
        return None
    return f"Chromium not found at {CHROMIUM}: install it with `apt-get install chromium`"


# Module scope, not session: while Playwright's sync API lives it keeps its event loop
# marked as running in this thread, and every later `asyncio.run` (the async client's
# tests, anyio's) would then refuse to start.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium process per test module; each test opens its own context."""
    problem = _missing_browser()
    if problem is not None:
        if BROWSER_REQUIRED:
            pytest.fail(f"{problem}; PRACTICA_REQUIRE_BROWSER=1 makes it mandatory")
        pytest.skip(problem)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def browser_page(browser: Browser) -> Iterator[BrowserPage]:
    """A fresh page that may reach only the loopback interface."""
    context = browser.new_context(service_workers="block", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = BrowserPage(context.new_page())

    def only_loopback(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            page.foreign_requests.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", only_loopback)
    page.page.on("pageerror", lambda error: page.script_errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where this run's screenshots are, so CI can keep them as artifacts."""
    if _saved:
        terminalreporter.write_line(f"browser screenshots ({len(_saved)}) in {SCREENSHOTS}")
