"""Shared pieces of the issue-15 browser tests (test_member_experience.py,
test_translation.py): one development-mode server per test module (mutes from 1 s, so a mute
can end within a test), signed-in pages at desktop or phone size, and small page helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser.conftest import TIMEOUT_MS, message_box, messages, sign_in
from tests.harness import ServerProcess, unique

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 812}
CRISIS = "I can't go on, I want to end my life"
STATIC = Path(__file__).resolve().parents[2] / "chatserver" / "static"


@pytest.fixture(scope="module")
def site(valkey, tmp_path_factory):
    config = tmp_path_factory.mktemp("issue15") / "chatserver.toml"
    config.write_text("[moderation]\nmute_min = 1\n")
    server = ServerProcess(valkey.url, args=["--dev", "--config", str(config)], name="web15")
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture
async def person(browser, site):
    """``await person("Ann", community, role, viewport=PHONE, locale="es-ES")`` -> a signed-in page."""
    contexts = []

    async def open_(name, community, role="member", *, viewport=DESKTOP, signed_in=True, **options):
        # en-GB unless given: crisis resources follow the browser's region.
        context = await browser.new_context(viewport=viewport, **{"locale": "en-GB", **options})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda err: print(f"[{name}] page error: {err}"))
        if signed_in and "locale" in options:
            await sign_in_any_language(page, site.url, name, community, role)
        elif signed_in:
            await sign_in(page, site.url, name, community, role)
        else:
            await page.goto(site.url + "/")
        return page

    yield open_
    for context in contexts:
        await context.close()


async def sign_in_any_language(page, url: str, name: str, community: str, role: str) -> None:
    """The sign-in form by its fields' ids, whatever language the page speaks."""
    await page.goto(url + "/")
    await page.locator("#signin-name").fill(name)
    await page.locator("#signin-community").select_option(community)
    await page.locator("#signin-role").select_option(role)
    await page.locator("#dev-signin button[type=submit]").click()
    await expect(page.locator("#conn-status")).to_have_attribute("data-state", "connected")


def room(site, **settings) -> tuple[str, str]:
    community = unique("i15")
    return community, site.make_room(community, "lobby", **settings)


def moderation(site, community: str, layer: dict) -> None:
    r = site.api("PUT", f"/api/communities/{community}/rooms/lobby/moderation", layer)
    assert r.status_code == 200, r.text


async def send(page, text: str) -> None:
    await message_box(page).fill(text)
    await message_box(page).press("Enter")


async def box(locator) -> dict:
    b = await locator.bounding_box()
    assert b is not None, f"{locator} is not shown"
    return b


async def inside_window(page, locator, what: str) -> None:
    b = await box(locator)
    v = page.viewport_size
    assert b["x"] >= -0.5 and b["y"] >= -0.5, (what, b, v)
    assert b["x"] + b["width"] <= v["width"] + 0.5 and b["y"] + b["height"] <= v["height"] + 0.5, (what, b, v)


async def ann_writes_and_ben_reads(site, person, text: str):
    """A fresh room; Ann (desktop) writes ``text``, Ben (phone) has it: (community, ann, ben)."""
    community, _ = room(site)
    ann = await person("Ann", community)
    ben = await person("Ben", community, viewport=PHONE)
    await send(ann, text)
    await expect(messages(ben)).to_contain_text(text)
    return community, ann, ben


async def live_session(host, title: str, pages) -> None:
    """Every page on the Q&A tab; ``host`` creates and starts a session called ``title``."""
    for page in pages:
        await page.get_by_role("tab", name="Q&A").click()
    await host.get_by_role("button", name="New session…").click()
    await host.get_by_role("dialog").get_by_label("Title").fill(title)
    await host.get_by_role("dialog").get_by_role("button", name="Create").click()
    await host.get_by_role("button", name="Start session").click()


async def message_menu(page, text: str, action: str) -> None:
    item = messages(page).locator(".msg", has_text=text)
    await item.locator("summary").click()
    await item.get_by_role("button", name=action).click()


# ---------------------------------------------------------------------------------- layout

