"""Accessible and calm: named controls, readable contrast in light and dark schemes, usable by
keyboard alone, and no sideways scrolling at phone width (375 px)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser.conftest import message_box, messages
from tests.harness import unique

AUDIT = (Path(__file__).parent / "a11y_audit.js").read_text()


async def audit(page) -> list[str]:
    return await page.evaluate(AUDIT)


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_member_view_passes_the_audit_on_desktop_and_phone(web, open_page, scheme):
    community = unique("web")
    web.make_room(community, "lobby", join_leave=True, max_message_length=60)
    ann = await open_page("Ann", community, color_scheme=scheme)
    ben = await open_page("Ben", community, "moderator", width=375, height=740, color_scheme=scheme)
    await message_box(ann).fill("A calm hello to everyone here")
    await message_box(ann).press("Enter")
    await expect(messages(ben)).to_contain_text("A calm hello")
    # An own-message notice (a failed post) is part of what must stay readable.
    await message_box(ben).fill("x" * 80)
    await message_box(ben).press("Enter")
    await expect(ben.locator(".own")).to_contain_text("Not sent")
    assert await audit(ann) == []
    assert await audit(ben) == []
    # At phone width rooms and people fold away behind one summary.
    await expect(ben.get_by_text("Rooms and people")).to_be_visible()
    await expect(ben.get_by_role("button", name="lobby")).to_be_hidden()
    await ben.get_by_text("Rooms and people").click()
    await expect(ben.get_by_role("button", name="lobby")).to_be_visible()
    assert await audit(ben) == []


async def test_keyboard_only_sign_in_send_and_report(web, browser):
    community = unique("web")
    web.make_room(community, "lobby")
    context = await browser.new_context(viewport={"width": 1000, "height": 700})
    try:
        other = await context.new_page()
        from tests.browser.conftest import sign_in

        await sign_in(other, web.url, "Ben", community)
        await message_box(other).fill("please report me")
        await message_box(other).press("Enter")

        page = await (await browser.new_context(viewport={"width": 1000, "height": 700})).new_page()
        await page.goto(web.url + "/")
        # The name field has focus on arrival; everything else is reachable with Tab.
        await expect(page.get_by_label("Display name")).to_be_focused()
        await page.keyboard.type("Kay")
        await page.keyboard.press("Tab")
        await expect(page.get_by_label("Community", exact=True)).to_be_focused()
        await page.get_by_label("Community", exact=True).select_option(community)
        for _ in range(3):  # role, "hide me", then the Join button
            await page.keyboard.press("Tab")
        await expect(page.get_by_role("button", name="Join")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(page.locator("#conn-status")).to_have_text("Connected")
        await expect(messages(page)).to_contain_text("please report me")

        # After a reload the same person is back; the skip link leads to the message box.
        await page.reload()
        await expect(page.locator("#conn-status")).to_have_text("Connected")
        await expect(page.locator("#whoami")).to_contain_text("Kay")
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name="Skip to the message box")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(message_box(page)).to_be_focused()
        await page.keyboard.type("typed without a mouse")
        await page.keyboard.press("Enter")
        await expect(messages(page)).to_contain_text("typed without a mouse")

        # A message's actions open from the keyboard, and the report dialog is a real modal.
        menu = messages(page).locator(".msg").first.locator("summary")
        await menu.focus()
        await page.keyboard.press("Enter")
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("button", name="Report to moderators")).to_be_focused()
        await page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog", name="Report this message")
        await expect(dialog).to_be_visible()
        await expect(dialog.get_by_label("What is wrong?")).to_be_focused()
        await page.keyboard.press("Escape")
        await expect(dialog).to_be_hidden()
        # Escape also folds an open message menu and returns to its button.
        await menu.focus()
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("button", name="Report to moderators")).to_be_visible()
        await page.keyboard.press("Tab")
        await page.keyboard.press("Escape")
        await expect(page.get_by_role("button", name="Report to moderators")).to_be_hidden()
        await expect(menu).to_be_focused()

        # Tabs switch with the arrow keys.
        await page.get_by_role("tab", name="Chat").focus()
        await page.keyboard.press("ArrowRight")
        await expect(page.get_by_role("tab", name="Q&A")).to_be_focused()
        await expect(page.get_by_role("tab", name="Q&A")).to_have_attribute("aria-selected", "true")
        await expect(page.get_by_role("tabpanel", name="Q&A")).to_be_visible()
    finally:
        for ctx in browser.contexts:
            await ctx.close()
