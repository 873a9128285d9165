"""Headless Debian Chromium for tests, with a record of everything a page should never do.

Usage::

    from browser import Browser, chromium_or_skip

    with Browser(chromium_or_skip(), shots=tmp_path, allowed=[site_url]) as browser:
        tab = browser.open(site_url + "index.html")           # a fresh context and page
        tab.page.click("text=分类")                             # any Playwright call
        tab.screenshot("home")                                  # → tmp_path/home.png
        assert tab.log.problems() == []                         # nothing went wrong
        tab.close()

What a :class:`Tab` records in its :class:`BrowserLog` (from every page and worker of its
context, from the first byte, because the hooks are installed before any page script runs):

- ``console_errors``: ``console.error`` messages and the browser's own errors (failed loads);
- ``page_errors``: uncaught exceptions and unhandled rejections;
- ``csp_violations``: ``securitypolicyviolation`` events (an init script listens in every
  frame) and console messages that mention the Content Security Policy;
- ``dialogs``: ``alert``/``confirm``/``prompt``/``beforeunload`` (each dismissed at once);
- ``prints``: calls to ``window.print`` (replaced by a recorder, so no print dialog opens);
- ``foreign_requests``: requests to an origin not in ``allowed`` (``data:``/``blob:`` are local);
- ``failed_requests``: requests that failed at the network level (not those a navigation
  cancelled: ``net::ERR_ABORTED``), and ``bad_responses``: answers with status >= 400.

For XSS tests: any dialog, print, foreign request, page error or CSP violation is a sign that
feed content ran or loaded something; :meth:`BrowserLog.problems` lists them all as strings.

The browser is Debian's ``/usr/bin/chromium`` (never a Playwright download), launched headless
with a fresh temporary profile that Playwright deletes on close. CSP is enforced as usual
(``bypass_csp`` stays off). Only use it with servers on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser as PWBrowser
from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    Playwright,
    Request,
    Response,
    sync_playwright,
)

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: Milliseconds Playwright waits for a page or an element before failing the test.
TIMEOUT_MS = 30_000
#: Name of the function the init script calls to report to Python.
_BINDING = "__rsspageReport"
#: Runs in every frame before the page's own scripts.
_INIT_SCRIPT = """
(() => {
  const report = (kind, detail) => {
    try { window.BINDING(kind, detail); } catch (e) { /* the binding is gone: page closing */ }
  };
  document.addEventListener("securitypolicyviolation", (e) => {
    report("csp", `${e.effectiveDirective} blocked ${e.blockedURI || "inline"} ` +
                  `at ${e.sourceFile || e.documentURI}:${e.lineNumber}`);
  }, true);
  window.print = () => report("print", location.href);
})();
""".replace("BINDING", _BINDING)


def chromium_or_skip() -> Path:
    """Debian's chromium; installs it with apt-get when missing and root, else skips the test."""
    if not CHROMIUM.exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env,
                       capture_output=True, timeout=900)
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing and could not be installed "
                    "(run as root with apt-get, or `apt-get install chromium`)")
    return CHROMIUM


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url`` (``http://127.0.0.1:8000``)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class BrowserLog:
    """What the pages of one :class:`Tab` did that a clean page never does."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    prints: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)

    def problems(self, tolerate: Callable[[str], bool] = lambda line: False) -> list[str]:
        """Every record as ``"kind: detail"``, except those ``tolerate`` accepts."""
        lines = [f"{kind}: {entry}" for kind, entries in vars(self).items() for entry in entries]
        return [line for line in lines if not tolerate(line)]

    def clear(self) -> None:
        for entries in vars(self).values():
            entries.clear()


class Tab:
    """One browser context with one page; everything it does goes to :attr:`log`."""

    def __init__(self, context: BrowserContext, allowed: set[str], shots: Path) -> None:
        self.context = context
        self.log = BrowserLog()
        self._allowed, self._shots = allowed, shots
        context.set_default_timeout(TIMEOUT_MS)
        context.expose_binding(_BINDING, self._report)
        context.add_init_script(_INIT_SCRIPT)
        context.on("console", self._console)
        context.on("weberror", lambda e: self.log.page_errors.append(str(e.error)))
        context.on("dialog", self._dialog)
        context.on("request", self._request)
        context.on("requestfailed", self._request_failed)
        context.on("response", self._response)
        self.page: Page = context.new_page()

    def goto(self, url: str) -> Response | None:
        """Open ``url`` and wait until it and its subresources have loaded."""
        return self.page.goto(url, wait_until="load")

    def screenshot(self, name: str, *, full_page: bool = True) -> Path:
        """Save ``<shots>/<name>.png`` and return its path."""
        path = self._shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def close(self) -> None:
        self.context.close()

    # ----------------------------------------------------------------- recorders

    def _report(self, source: Any, kind: str, detail: str) -> None:
        target = self.log.csp_violations if kind == "csp" else self.log.prints
        target.append(detail)

    def _console(self, message: ConsoleMessage) -> None:
        text = message.text
        where = message.location.get("url", "")
        if "Content Security Policy" in text:
            self.log.csp_violations.append(text)
        elif message.type == "error":
            self.log.console_errors.append(f"{text} ({where})" if where else text)

    def _dialog(self, dialog: Dialog) -> None:
        self.log.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _request(self, request: Request) -> None:
        url = request.url
        if url.startswith(("data:", "blob:", "about:")):
            return
        if origin(url) not in self._allowed:
            self.log.foreign_requests.append(f"{request.resource_type} {url}")

    def _request_failed(self, request: Request) -> None:
        if request.failure != "net::ERR_ABORTED":  # a navigation or a closing page cancelled it
            self.log.failed_requests.append(f"{request.url} ({request.failure})")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.log.bad_responses.append(f"{response.status} {response.url}")


class Browser:
    """Headless Chromium; :meth:`open` gives each caller a fresh, isolated :class:`Tab`."""

    def __init__(self, executable: Path, *, shots: Path, allowed: Iterable[str]) -> None:
        """``allowed``: URLs whose origins pages may load from; ``shots``: screenshot folder."""
        self._executable, self._shots = executable, shots
        self._allowed = {origin(url) for url in allowed}
        self._playwright: Playwright | None = None
        self._browser: PWBrowser | None = None

    def __enter__(self) -> Browser:
        self._shots.mkdir(parents=True, exist_ok=True)
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=str(self._executable), headless=True, args=ARGS)
        except Exception:
            self._playwright.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()

    def open(self, url: str | None = None, *, width: int = 1280, height: int = 900,
             dark: bool = False, mobile: bool = False, allow: Iterable[str] = ()) -> Tab:
        """A new context (no shared cache or storage) and page, optionally at ``url``.

        ``mobile`` emulates a touch phone (device scale 3, ``is_mobile``); ``dark`` sets
        ``prefers-color-scheme: dark``; ``allow`` adds origins this tab may load from.
        """
        assert self._browser is not None, "use Browser as a context manager"
        context = self._browser.new_context(
            viewport={"width": width, "height": height},
            color_scheme="dark" if dark else "light",
            is_mobile=mobile, has_touch=mobile, device_scale_factor=3 if mobile else 1,
            service_workers="block",
        )
        tab = Tab(context, self._allowed | {origin(u) for u in allow}, self._shots)
        if url is not None:
            tab.goto(url)
        return tab


def dump(log: BrowserLog) -> str:
    """The log as indented JSON, for assertion messages."""
    return json.dumps(vars(log), ensure_ascii=False, indent=1)
