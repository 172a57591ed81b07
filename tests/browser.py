"""The shared browser harness: serve a folder on localhost and watch a headless Chromium page.

Used by the browser tests of the docs site and of the playground. The browser is the system
Chromium (Debian's ``chromium``, installed by ``scripts/ensure-browser.sh`` from ``make setup``),
driven by Playwright's Python API; Playwright's own browser downloads are never used.

Every request to a host other than ``127.0.0.1``/``localhost`` is aborted and recorded, so a
test can assert that a page loads nothing from the network; console errors, uncaught page
errors and failed local requests are recorded too.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page, Request, Response, Route

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "out" / "screenshots"

# Tests that drive a browser: `pytestmark = BROWSER_MARKS` in the module, or on each test.
BROWSER_MARKS = [pytest.mark.slow, pytest.mark.browser]


def chromium_path() -> str | None:
    """The system Chromium: /usr/bin/chromium, else `chromium` on PATH; None if neither."""
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def require_browser() -> str:
    """The Chromium path and a usable Playwright, or skip the test (fail it under CI=true).

    CI installs Chromium (`make setup` runs scripts/ensure-browser.sh), so a missing browser
    there is a broken setup, not a reason to skip.
    """
    reason = None
    executable = chromium_path()
    if executable is None:
        reason = (
            "Chromium is not installed (no /usr/bin/chromium, no `chromium` on PATH); "
            "run `bash scripts/ensure-browser.sh` or `sudo apt-get install chromium`"
        )
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the Python package `playwright` is missing; pip install -e '.[dev]'"
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser test cannot run in CI: {reason}")
        pytest.skip(reason)
    assert executable is not None
    return executable


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve `root` over HTTP on 127.0.0.1 (free port, ThreadingHTTPServer, quiet log) and
    yield the base URL ending in '/'."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="browser-serve", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.hostname in LOCAL_HOSTS


class WatchedPage:
    """A Playwright page plus what it tried to do that a test may forbid."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.external_requests: list[str] = []
        self.console_errors: list[str] = []
        self.failed_requests: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.console_errors.append(f"page error: {error}"))
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            location = message.location.get("url", "")
            self.console_errors.append(f"{message.text} ({location})" if location else message.text)

    def _on_request_failed(self, request: Request) -> None:
        if _is_local(request.url):
            self.failed_requests.append(f"{request.url}: {request.failure}")

    def _on_response(self, response: Response) -> None:
        if response.status >= 400 and _is_local(response.url):
            self.failed_requests.append(f"{response.url}: HTTP {response.status}")

    def _route(self, route: Route) -> None:
        url = route.request.url
        if _is_local(url):
            route.continue_()
        else:
            self.external_requests.append(url)
            route.abort("blockedbyclient")


@contextmanager
def browser_page(*, width: int = 1280, height: int = 900) -> Iterator[WatchedPage]:
    """A Playwright sync page in the system Chromium (/usr/bin/chromium via executable_path,
    headless, flags: --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync, a fresh temp
    user-data-dir). Every request to a host other than 127.0.0.1/localhost is ABORTED and
    recorded; console errors and page errors are recorded."""
    from playwright.sync_api import sync_playwright

    executable = require_browser()
    with (
        tempfile.TemporaryDirectory(prefix="chainrule-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": width, "height": height},
            service_workers="block",
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            watched = WatchedPage(page)
            context.route("**/*", watched._route)
            yield watched
        finally:
            context.close()


AXE_SCRIPT = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa"]
"""axe-core's WCAG 2 level A and AA rules (axe-core from npm: package.json, `npm ci`)."""


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core's WCAG 2 A/AA rules on the page as it is now: one dict per violated rule,
    with ``id``, ``help`` and ``targets`` (a CSS selector and its text per violating element).

    Fails the test when axe-core is missing (``npm ci`` installs it from package-lock.json).
    """
    if not AXE_SCRIPT.is_file():
        pytest.fail(f"axe-core is missing ({AXE_SCRIPT}): run `npm ci` in the repository root")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    violations: list[dict[str, Any]] = page.evaluate(
        """async (tags) => {
             const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
             return result.violations.map((v) => ({
               id: v.id, help: v.help,
               targets: v.nodes.map((n) => n.target.join(" ") + "  " +
                                    (n.failureSummary || "").split("\\n").slice(1, 2).join("")),
             }));
           }""",
        AXE_TAGS,
    )
    return violations
