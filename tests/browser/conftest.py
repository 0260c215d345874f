"""Browser fixtures: a real server process in development mode (so /dev/token works) and
Debian's Chromium driven by Playwright for Python.

The browser tests are never skipped: without Chromium or Playwright they fail and say what
to install. ``open_page(name, community, role)`` opens a fresh browser context (its own
sessionStorage, like a separate person), signs in through the page's own form and waits
until the page shows "Connected".
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.harness import ServerProcess

CHROMIUM = os.environ.get("CHATSERVER_CHROMIUM", "/usr/bin/chromium")
# The machine's network is closed: keep Chromium from phoning home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000  # generous: two cores shared with other test runs


def launch_options() -> dict:
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


def require_browser() -> None:
    """Fail (never skip) with a clear message when the browser cannot run."""
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the browser tests need Debian's chromium package "
            "(apt-get install -y chromium; .ci/run installs it), or set CHATSERVER_CHROMIUM",
            pytrace=False,
        )
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.fail("Playwright is missing: pip install -e '.[test]'", pytrace=False)


@pytest.fixture(scope="session")
def web(valkey):
    """A chatserver process in development mode (POST /dev/token answers). It shares the
    session's Valkey; like any first server on an empty store it seeds demo:lobby, which
    other tests expect."""
    server = ServerProcess(valkey.url, args=["--dev"], name="web")
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def browser():
    require_browser()
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=TIMEOUT_MS)
    playwright = await async_playwright().start()
    try:
        chromium = await playwright.chromium.launch(**launch_options())
    except Exception as exc:
        await playwright.stop()
        pytest.fail(f"Chromium at {CHROMIUM} did not start: {exc}", pytrace=False)
    yield chromium
    await chromium.close()
    await playwright.stop()


@pytest.fixture
async def open_page(browser, web):
    """``await open_page("Ann", community, role="member")`` -> a signed-in Playwright page."""
    contexts = []
    logs: list[str] = []

    async def open_(
        name: str,
        community: str,
        role: str = "member",
        *,
        width: int = 1100,
        height: int = 760,
        invisible: bool = False,
        **context_options,
    ):
        # A UK English browser unless a test says otherwise: crisis resources follow the
        # browser's region (the web client sends its language and region on connect).
        context_options.setdefault("locale", "en-GB")
        context = await browser.new_context(viewport={"width": width, "height": height}, **context_options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = await context.new_page()
        page.on("console", lambda msg: logs.append(f"[{name}] {msg.type}: {msg.text}"))
        page.on("pageerror", lambda err: logs.append(f"[{name}] page error: {err}"))
        await sign_in(page, web.url, name, community, role, invisible=invisible)
        return page

    yield open_
    for context in contexts:
        await context.close()
    if logs:
        print("\n".join(logs))


async def sign_in(page, url: str, name: str, community: str, role: str = "member", *, invisible: bool = False):
    from playwright.async_api import expect

    await page.goto(url + "/")
    await page.get_by_label("Display name").fill(name)
    await page.get_by_label("Community", exact=True).select_option(community)
    await page.get_by_label("Role", exact=True).select_option(role)
    if invisible:
        await page.get_by_label("Hide me from the list of who is here").check()
    await page.get_by_role("button", name="Join").click()
    await expect(page.locator("#conn-status")).to_have_text("Connected")
    await expect(page.get_by_role("log")).to_be_visible()


def message_box(page):
    return page.get_by_role("textbox", name="Write a message")


def messages(page):
    """The room's messages: the role=log region around the list."""
    return page.get_by_role("log")
