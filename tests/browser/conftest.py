"""Browser tests: Playwright (sync API) driving Debian's chromium against pytest-django's live server.

Never ``playwright install`` (it downloads a browser). The tests use ``/usr/bin/chromium`` (or
``JINSHEQU_CHROMIUM``) and are skipped with a reason when it is missing — except under CI, where
a missing browser is a failure, so the suite cannot go green without them.

Every page a test opens is watched: a Content Security Policy violation, an uncaught script
error or a failed static file fails the test at teardown. Screenshots go to ``tests/_artifacts/``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("JINSHEQU_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
TIMEOUT_MS = 15_000


@dataclass
class PageWatch:
    """What went wrong in the browser while a test ran, collected from page events."""

    csp_violations: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_static: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.page_errors.append(f"{page.url}: {exc}"))
        page.on("response", self._on_response)

    def _on_console(self, msg) -> None:
        if msg.type != "error":
            return
        where = msg.location.get("url", "") if msg.location else ""
        text = f"{where}: {msg.text}"
        self.console_errors.append(text)
        if "Content Security Policy" in msg.text:
            self.csp_violations.append(text)

    def _on_response(self, response) -> None:
        if "/static/" in response.url and response.status >= 400:
            self.failed_static.append(f"{response.status} {response.url}")

    def problems(self) -> list[str]:
        return (
            [f"CSP: {m}" for m in self.csp_violations]
            + [f"JS error: {m}" for m in self.page_errors]
            + [f"static file: {m}" for m in self.failed_static]
        )


@pytest.fixture(scope="session")
def _playwright():
    if not CHROMIUM.exists():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the browser tests")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Under libfaketime (the CI run with a faked date) only the server's clock is faked: Playwright's driver
    # and Chromium run on the real clock, as a visitor's browser does (with the faked clock their timers stall).
    faked = {
        k: os.environ.pop(k)
        for k in ("LD_PRELOAD", "FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC")
        if k in os.environ
    }
    try:
        p = sync_playwright().start()
    finally:
        os.environ.update(faked)
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="session")
def browser(_playwright):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LD_PRELOAD", "FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC")
    }
    browser = _playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, env=env)
    yield browser
    browser.close()


@pytest.fixture
def browser_world(transactional_db):
    """The two-sided world of ``tests.factories``, committed so the live server sees it."""
    from tests.factories import build_world

    return build_world()


@pytest.fixture
def new_page(browser, live_server, request):
    """``new_page(viewport=DESKTOP)`` opens a page in a fresh context (own cookies), in Chinese.

    At teardown every page is checked for CSP violations, script errors and failed static files.
    """
    contexts = []
    watches: list[PageWatch] = []

    def _new_page(viewport=None, locale="zh-CN"):
        context = browser.new_context(
            viewport=viewport or DESKTOP, locale=locale, base_url=live_server.url, device_scale_factor=1
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        watch = PageWatch()
        watch.attach(page)
        watches.append(watch)
        page.watch = watch
        return page

    yield _new_page
    problems = [p for w in watches for p in w.problems()]
    for context in contexts:
        context.close()
    assert not problems, "browser problems:\n" + "\n".join(problems)


@pytest.fixture
def page(new_page):
    return new_page()


def shot(page, name: str) -> Path:
    """Save a full-page screenshot as ``tests/_artifacts/<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page, username: str, password: str | None = None) -> None:
    """Sign in through the real login form and wait for the page that follows."""
    from tests.factories import PASSWORD

    page.goto("/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password or PASSWORD)
    with page.expect_navigation():
        page.locator("form:has(input[name=password]) button[type=submit]").click()
    assert "/accounts/login/" not in page.url, page.locator(".alert").all_inner_texts()


def horizontal_overflow(page) -> int:
    """How many CSS pixels the document is wider than the viewport (0 when nothing overflows)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
