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

from tests.browser.a11y import axe_audit, enter_then_escape, focus_is, reflow_problems, tab_until
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


# ---------------------------------------------------------------------------------- issue 15 rules

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 812}
SMALL_PHONE = {"width": 320, "height": 812}
CRISIS = "I can't go on, I want to end my life"


async def inside_window(page, locator, what: str) -> None:
    b = await locator.bounding_box()
    v = page.viewport_size
    assert b is not None, f"{what} is not shown"
    assert b["x"] >= -0.5 and b["y"] >= -0.5, (what, b, v)
    assert b["x"] + b["width"] <= v["width"] + 0.5 and b["y"] + b["height"] <= v["height"] + 0.5, (what, b, v)


async def case_in_contact(web, open_page):
    """Ann writes crisis words in the lobby; Mo (console open) takes the case and talks with
    her privately: (mo, ann, the case's item in Mo's console), both in the conversation."""
    community = unique("web")
    web.make_room(community, "lobby")
    mo = await open_page("Mo", community, "moderator", bypass_csp=True, **DESKTOP)
    ann = await open_page("Ann", community, bypass_csp=True, **DESKTOP)
    await send(ann, CRISIS)
    await expect(ann.get_by_role("alert").filter(has_text="not alone")).to_be_visible()
    await mo.get_by_role("tab", name="Moderation (1)").click()
    case = mo.locator("#case-list .item", has_text="can't go on")
    await case.get_by_role("button", name="Acknowledge").click()
    await expect(case).to_contain_text("Taken by Mo")
    await case.get_by_role("button", name="Talk privately").click()
    await expect(mo.locator("#private-note")).to_contain_text("Private conversation with Ann")
    await expect(ann.locator("#room-title")).to_have_text("Private support conversation")
    return mo, ann, case


async def test_a_private_conversation_keeps_the_box_and_the_newest_notice_in_view(web, open_page):
    mo, ann, _ = await case_in_contact(web, open_page)
    crisis = ann.get_by_role("alert").filter(has_text="not alone")
    # Five messages with a phone number: five notices about details hidden, newest first.
    for i in range(1, 6):
        await send(ann, f"note {i}: my sister's number is +44 20 7946 09{i}{i}")
    notices = ann.get_by_role("list", name="About your messages").locator(".own-redacted")
    await expect(notices).to_have_count(5)
    await expect(notices.first).to_contain_text("note 5")
    await expect(messages(mo)).to_contain_text("note 5")
    for viewport in (DESKTOP, PHONE):
        where = f"{viewport['width']}x{viewport['height']}"
        for page in (ann, mo):
            await page.set_viewport_size(viewport)
        await expect(crisis).to_be_visible()
        for page, who in ((ann, "member"), (mo, "moderator")):
            await inside_window(page, message_box(page), f"{who}'s message box, {where}")
            await inside_window(page, page.get_by_role("button", name="Send"), f"{who}'s Send, {where}")
            await inside_window(page, page.locator("#private-note"), f"{who}'s note on who can read it, {where}")
        await inside_window(ann, notices.first, f"newest notice, {where}")
        await inside_window(ann, crisis.get_by_role("button", name="Close"), f"the crisis panel's Close, {where}")
        log = await messages(ann).bounding_box()
        assert log is not None
        if viewport is DESKTOP:
            assert log["height"] >= 0.4 * viewport["height"], (where, log)
        else:
            assert log["height"] >= 100, (where, log)
        print(f"private conversation {where}: the member's conversation is {log['height']:.0f} px high")


async def test_cases_and_private_conversations_pass_axe_and_reflow(web, open_page):
    mo, ann, case = await case_in_contact(web, open_page)
    await send(ann, "thank you for writing to me")
    await expect(messages(mo)).to_contain_text("thank you for writing")
    console = mo.get_by_role("tab", name="Moderation")
    failing: list[str] = []
    problems: list[str] = []
    states = 0

    async def check(page, name: str, where: str, reflow: bool) -> None:
        nonlocal states
        states += 1
        if reflow:
            problems.extend(await reflow_problems(page, f"{name}, {where}"))
        else:
            failing.extend(await axe_audit(page, f"{name}, {where}"))

    runs = [(v, s, False) for v in (DESKTOP, PHONE) for s in ("light", "dark")]
    runs += [(v, "light", True) for v in (SMALL_PHONE, PHONE)]
    for viewport, scheme, reflow in runs:
        where = f"{viewport['width']}x{viewport['height']} {scheme}"
        for page in (mo, ann):
            await page.set_viewport_size(viewport)
            await page.emulate_media(color_scheme=scheme)
        await check(ann, "member in a private conversation", where, reflow)
        await check(mo, "moderator in a private conversation", where, reflow)
        await console.click()
        await expect(case).to_contain_text("In contact")
        await check(mo, "console: a case in contact, talk privately with a member", where, reflow)
        await case.get_by_role("button", name="Close…").click()
        await expect(mo.get_by_role("dialog")).to_be_visible()
        await check(mo, "close-case dialog", where, reflow)
        await mo.keyboard.press("Escape")
        await expect(mo.get_by_role("dialog")).to_have_count(0)
        await mo.get_by_role("tab", name="Chat").click()
    assert states == 24
    assert failing == [], "\n".join(failing)
    assert problems == [], "\n".join(problems)


async def test_acknowledge_talk_privately_and_close_a_case_by_keyboard(web, open_page):
    community = unique("kbd")
    web.make_room(community, "lobby")
    mo = await open_page("Mo", community, "moderator")
    ann = await open_page("Ann", community)
    await send(ann, CRISIS)
    tab = mo.get_by_role("tab", name="Moderation (1)")
    await tab.focus()
    await mo.keyboard.press("End")
    await focus_is(mo, tab)
    await expect(mo.get_by_role("tabpanel", name="Moderation (1)")).to_be_visible()
    heading = mo.get_by_role("heading", name="Crisis cases")
    await heading.focus()
    case = mo.locator("#case-list .item", has_text="can't go on")
    # Acknowledge: focus moves on to the case's next action, Talk privately.
    await tab_until(mo, case.get_by_role("button", name="Acknowledge"), limit=3)
    await mo.keyboard.press("Enter")
    await expect(case).to_contain_text("Taken by Mo")
    await focus_is(mo, case.get_by_role("button", name="Talk privately"))
    # Talk privately: the conversation opens in the chat view, focus in its message box.
    await mo.keyboard.press("Enter")
    await expect(mo.locator("#room-title")).to_have_text("Support: Ann")
    await focus_is(mo, message_box(mo))
    await mo.keyboard.type("Hi Ann, I'm Mo. I'm here.")
    await mo.keyboard.press("Enter")
    await expect(messages(ann)).to_contain_text("I'm here.")
    # Close: the dialog opens on the outcome; Escape returns to Close…; closed, focus stays on the case.
    await mo.get_by_role("tab", name="Moderation").focus()
    await mo.keyboard.press("End")
    await heading.focus()
    close = case.get_by_role("button", name="Close…")
    await tab_until(mo, close, limit=3)
    dialog = mo.get_by_role("dialog", name="Close Ann's crisis case")
    await enter_then_escape(mo, dialog, dialog.get_by_label("Outcome"), close)
    await mo.keyboard.press("Enter")
    await focus_is(mo, dialog.get_by_label("Outcome"))
    await dialog.get_by_label("Outcome").select_option("talked_it_through")
    # Outcome, note, conversation, her held message (what becomes of it, a reason), Cancel.
    await tab_until(mo, dialog.get_by_role("button", name="Close case"), limit=6)
    await mo.keyboard.press("Enter")
    await expect(case).to_contain_text("Closed")
    await expect(case).to_contain_text("Outcome: Talked it through")
    await focus_is(mo, case)
    await expect(ann.locator("#private-note")).to_contain_text("It is closed now")


async def test_talk_privately_with_a_member_picked_by_name(web, open_page):
    community = unique("web")
    web.make_room(community, "lobby")
    mo = await open_page("Mo", community, "moderator", **PHONE)
    ben = await open_page("Ben", community)
    await send(ben, "hello, first evening here")
    await expect(messages(mo)).to_contain_text("first evening here")
    await mo.get_by_role("tab", name="Moderation").click()
    talk = mo.get_by_role("form", name="Talk privately with a member")
    await talk.get_by_label("Find them by name").fill("be")
    who = talk.get_by_label("Who", exact=True)
    assert await who.evaluate("(el) => el.tagName") == "SELECT"
    await expect(who.locator("option", has_text="Ben")).to_have_count(1)
    await who.select_option(label="Ben")
    await talk.get_by_role("button", name="Open private conversation").click()
    await expect(mo.locator("#room-title")).to_have_text("Support: Ben")
    await expect(mo.locator("#private-note")).to_contain_text("Private conversation with Ben")
    await expect(ben.locator("#room-title")).to_have_text("Private support conversation")
    for where in ("#panel-mod", "#panel-chat"):
        text = await mo.locator(where).inner_text()
        assert "dev-" not in text, (where, text)
