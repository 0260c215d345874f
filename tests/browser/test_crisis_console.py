"""Crisis cases and private support conversations in a real browser: a crisis message opens
a case at the top of the moderator's console (with the time since it opened); the moderator
acknowledges it and talks privately; the member's page shows the conversation at once;
another member never sees it; closing the case closes the conversation. Both views pass the
accessibility audit. With CHATSERVER_SCREENSHOTS_DIR set, the views are saved there
(docs/screenshots/crisis-cases.png, member-private.png)."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import expect

from tests.browser.a11y import axe_audit
from tests.browser.conftest import message_box, messages
from tests.harness import unique


async def send(page, text: str) -> None:
    await message_box(page).fill(text)
    await message_box(page).press("Enter")


async def shot(page, name: str) -> None:
    where = os.environ.get("CHATSERVER_SCREENSHOTS_DIR")
    if where:
        await page.screenshot(path=str(Path(where) / name), full_page=False)


async def test_case_to_private_conversation_in_the_browser(web, open_page):
    community = unique("web")
    web.make_room(community, "lobby")
    mo = await open_page("Mo", community, "moderator", bypass_csp=True, width=1280, height=900)
    ann = await open_page("Ann", community, bypass_csp=True)
    ben = await open_page("Ben", community)
    await send(ann, "I can't go on, I want to end my life")
    await expect(ann.locator(".own-held")).to_contain_text("Held for review")

    # The console: the case is listed above the hold queue, live, with its age and actions.
    await mo.get_by_role("tab", name="Moderation (1)").click()
    cases = mo.get_by_role("region", name="Crisis cases")
    case = cases.locator(".item", has_text="I can't go on")
    await expect(case).to_contain_text("Waiting for a moderator")
    await expect(case).to_contain_text("Ann")
    await expect(case).to_contain_text("opened just now")
    box_cases = await cases.bounding_box()
    box_holds = await mo.get_by_role("heading", name="Held for review").bounding_box()
    assert box_cases and box_holds and box_cases["y"] < box_holds["y"]
    assert await axe_audit(mo, "console with a crisis case") == []

    await case.get_by_role("button", name="Acknowledge").click()
    await expect(case).to_contain_text("Acknowledged")
    await expect(case).to_contain_text("Taken by Mo")
    await shot(mo, "crisis-cases.png")

    # Talk privately: the moderator lands in the conversation, the member's page opens it.
    await case.get_by_role("button", name="Talk privately").click()
    await expect(mo.locator("#private-note")).to_contain_text("Private conversation with Ann")
    await expect(ann.locator("#room-title")).to_have_text("Private support conversation")
    await expect(ann.locator("#private-note")).to_contain_text("only you and this community's moderators")
    await send(mo, "Hi Ann, I'm Mo, one of the moderators. I'm here if you want to talk.")
    await expect(messages(ann)).to_contain_text("I'm here if you want to talk")
    await send(ann, "thank you, it has been a hard week")
    await expect(messages(mo)).to_contain_text("it has been a hard week")
    await expect(ann.locator("#member-list")).to_contain_text("Mo")  # presence like any room
    assert await axe_audit(ann, "member in a private conversation") == []
    await ann.get_by_role("alert").filter(has_text="not alone").get_by_role("button", name="Close").click()
    await shot(ann, "member-private.png")

    # Ben cannot find it: not in his rooms.
    await expect(ben.locator("#room-list")).not_to_contain_text("Support")
    await expect(ben.locator("#room-list")).not_to_contain_text("Private")

    # Closing the case closes the conversation; Ann can still read it.
    await mo.get_by_role("tab", name="Moderation").click()
    await case.get_by_role("button", name="Close…").click()
    dialog = mo.get_by_role("dialog")
    await dialog.get_by_label("Outcome").select_option("talked_it_through")
    await dialog.get_by_role("button", name="Close case").click()
    await expect(case).to_contain_text("Closed")
    await expect(ann.locator("#private-note")).to_contain_text("It is closed now")
    await expect(messages(ann)).to_contain_text("I'm here if you want to talk")
