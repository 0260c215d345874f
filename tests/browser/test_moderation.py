"""The moderator console and moderation notices in a real browser: a deletion vanishes from
members' pages, a crisis message gives the member resources and the moderator a hold, held
messages are approved (as written or edited) or rejected, and a member's report reaches the
console."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.a11y import axe_audit
from tests.browser.conftest import message_box, messages
from tests.harness import unique


async def send(page, text: str) -> None:
    await message_box(page).fill(text)
    await message_box(page).press("Enter")


async def message_action(page, text: str, action: str) -> None:
    """Open the actions of the message containing ``text`` and pick ``action``."""
    item = messages(page).locator(".msg", has_text=text)
    await item.locator("summary").click()
    await item.get_by_role("button", name=action).click()


async def test_moderator_deletes_a_message_and_it_vanishes_from_members_pages(web, open_page):
    community = unique("web")
    web.make_room(community, "lobby")
    ann = await open_page("Ann", community)
    ben = await open_page("Ben", community)
    mo = await open_page("Mo", community, "moderator")
    await send(ann, "this one has to go")
    await send(ann, "this one stays")
    for page in (ben, mo):
        await expect(messages(page)).to_contain_text("this one stays")

    await message_action(mo, "this one has to go", "Delete message")
    dialog = mo.get_by_role("dialog", name="Delete this message for everyone?")
    await dialog.get_by_label("Reason (optional; the author sees it)").fill("personal details")
    await dialog.get_by_role("button", name="Delete").click()

    for page in (ann, ben, mo):
        await expect(messages(page)).not_to_contain_text("this one has to go")
        await expect(messages(page)).to_contain_text("Message removed by a moderator.")
        await expect(messages(page)).to_contain_text("this one stays")
    # The author is told privately, with the reason.
    await expect(ann.locator(".own-removed")).to_contain_text("personal details")
    # Someone arriving later never sees it: history no longer has it.
    cat = await open_page("Cat", community)
    await expect(messages(cat)).to_contain_text("this one stays")
    await expect(messages(cat)).not_to_contain_text("this one has to go")
    # The audit log shows who did it, with the original text.
    await mo.get_by_role("tab", name="Moderation").click()
    audit = mo.get_by_role("table")
    await expect(audit).to_contain_text("Message deleted")
    await expect(audit).to_contain_text("this one has to go")


async def test_crisis_message_shows_the_member_resources_and_the_moderator_a_hold(web, open_page):
    community = unique("web")
    web.make_room(community, "lobby")
    # bypass_csp: the accessibility audit injects axe-core into these two pages.
    mo = await open_page("Mo", community, "moderator", bypass_csp=True)
    ann = await open_page("Ann", community, bypass_csp=True)
    ben = await open_page("Ben", community)
    await send(ann, "I can't go on, I want to end my life")

    # Ann: resources, privately and prominently; her message is held, not shown to the room.
    crisis = ann.get_by_role("alert").filter(has_text="not alone")
    await expect(crisis).to_be_visible()
    await expect(crisis).to_contain_text("Samaritans")
    await expect(crisis.get_by_role("link", name="116 123")).to_have_attribute("href", "tel:116123")
    await expect(ann.locator(".own-held")).to_contain_text("Held for review")
    await expect(messages(ann).locator(".msg")).to_have_count(0)

    # Mo: a high-priority hold in the console, flagged on the tab.
    await expect(mo.get_by_role("tab", name="Moderation (1)")).to_be_visible()
    await mo.get_by_role("tab", name="Moderation (1)").click()
    hold = mo.locator(".item.priority-high", has_text="I can't go on")
    await expect(hold).to_contain_text("High priority")
    await expect(hold).to_contain_text("Ann")

    # Both views pass the accessibility audit (axe-core, WCAG 2.1 A and AA; no leaked values).
    assert await axe_audit(ann, "crisis panel") == []
    assert await axe_audit(mo, "console with a crisis hold") == []

    # Ben sees nothing of it.
    await expect(ben.get_by_role("alert").filter(has_text="not alone")).to_have_count(0)
    await expect(messages(ben)).not_to_contain_text("I can't go on")

    # Mo answers with care: the message is not posted, Ann is told why, privately.
    await hold.get_by_role("button", name="Reject…").click()
    dialog = mo.get_by_role("dialog")
    await dialog.get_by_label("Reason shown to the member").fill("We have reached out to you privately.")
    await dialog.get_by_role("button", name="Reject").click()
    await expect(mo.locator(".item[data-hold]", has_text="I can't go on")).to_have_count(0)  # the crisis case stays
    await expect(mo.get_by_role("tab", name="Moderation", exact=True)).to_be_visible()
    await expect(ann.locator(".own-rejected")).to_contain_text("We have reached out to you privately.")
    await expect(messages(ben)).not_to_contain_text("I can't go on")


async def test_held_messages_are_approved_as_written_or_edited(web, open_page):
    community = unique("web")
    web.make_room(community, "lobby")
    r = web.api("PUT", f"/api/communities/{community}/rooms/lobby/moderation", {"hooks": {"links": {"mode": "hold"}}})
    assert r.status_code == 200, r.text
    mo = await open_page("Mo", community, "moderator")
    ann = await open_page("Ann", community)
    await send(ann, "a useful page: https://example.org/ms-fatigue")
    await send(ann, "another: https://example.org/ms-sleep")
    await expect(ann.locator(".own-held")).to_have_count(2)
    await mo.get_by_role("tab", name="Moderation (2)").click()

    await mo.locator(".item", has_text="ms-fatigue").get_by_role("button", name="Approve", exact=True).click()
    await expect(messages(ann)).to_contain_text("a useful page: https://example.org/ms-fatigue")
    await expect(ann.locator(".own-approved")).to_have_count(1)

    await mo.locator(".item", has_text="ms-sleep").get_by_role("button", name="Edit and approve").click()
    dialog = mo.get_by_role("dialog")
    await dialog.get_by_label("Message").fill("another page about sleep (link removed)")
    await dialog.get_by_role("button", name="Approve edited message").click()
    await expect(messages(ann)).to_contain_text("another page about sleep (link removed)")
    await expect(messages(ann)).not_to_contain_text("ms-sleep")
    await expect(ann.locator(".own-approved", has_text="edited")).to_have_count(1)
    await expect(mo.get_by_role("tab", name="Moderation", exact=True)).to_be_visible()


async def test_member_reports_a_message_and_the_moderator_sees_it(web, open_page):
    community = unique("web")
    web.make_room(community, "lobby")
    mo = await open_page("Mo", community, "moderator")
    ann = await open_page("Ann", community)
    ben = await open_page("Ben", community)
    await send(ben, "buy my miracle cure now")
    await expect(messages(ann)).to_contain_text("miracle cure")
    await message_action(ann, "miracle cure", "Report to moderators")
    dialog = ann.get_by_role("dialog", name="Report this message")
    await dialog.get_by_label("What is wrong?").select_option("misinformation")
    await dialog.get_by_role("button", name="Send report").click()
    await expect(ann.locator(".own-info")).to_contain_text("Your report reached the moderators")

    await mo.get_by_role("tab", name="Moderation").click()
    report = mo.locator(".item", has_text="miracle cure")
    await expect(report).to_contain_text("1 report")
    await expect(report).to_contain_text("Harmful health misinformation")
    await report.get_by_role("button", name="Delete message").click()
    await mo.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(messages(ann)).not_to_contain_text("miracle cure")
    await expect(mo.locator(".item", has_text="miracle cure")).to_have_count(0)


async def test_moderator_mutes_a_member_slows_and_locks_the_room(web, open_page):
    community = unique("web")
    web.make_room(community, "lobby")
    mo = await open_page("Mo", community, "moderator")
    ann = await open_page("Ann", community)
    await send(ann, "first message from ann")
    await expect(messages(mo)).to_contain_text("first message from ann")

    await message_action(mo, "first message from ann", "Mute author…")
    dialog = mo.get_by_role("dialog", name="Mute Ann")
    await dialog.get_by_label("For how long").select_option("60")
    await dialog.get_by_label("Reason (they see it)").fill("a short break")
    await dialog.get_by_role("button", name="Mute").click()
    await expect(ann.locator(".own-info")).to_contain_text("muted you until")
    # Muted: a banner with the end time above a message box that is disabled until then.
    await expect(ann.locator("#mute-banner")).to_contain_text("muted you until")
    await expect(message_box(ann)).not_to_be_editable()
    await expect(message_box(ann)).to_have_attribute("aria-disabled", "true")
    await expect(ann.get_by_role("button", name="Send")).to_be_disabled()

    await mo.get_by_role("tab", name="Moderation").click()
    await expect(mo.locator(".sanctions")).to_contain_text("Muted: Ann until")
    await mo.get_by_label("Member", exact=True).select_option(label="Ann")
    await mo.get_by_role("button", name="Lift mute").click()
    await expect(mo.locator(".sanctions")).to_contain_text("Nobody is muted or banned")
    await expect(ann.locator("#mute-banner")).to_be_hidden()
    await expect(ann.get_by_role("button", name="Send")).to_be_enabled()
    await expect(message_box(ann)).to_be_editable()
    await send(ann, "back again")
    await expect(messages(ann).locator(".msg.mine", has_text="back again")).to_have_count(1)

    await mo.get_by_label("Slow mode").select_option("30")
    await mo.get_by_role("button", name="Apply slow mode").click()
    await expect(ann.locator("#room-flags")).to_contain_text("Slow mode")
    await send(ann, "quick one")
    await send(ann, "and another right away")
    await expect(ann.locator(".own-failed", has_text="and another right away")).to_contain_text("Slow mode: you can post again in")

    await mo.get_by_role("button", name="Lock room").click()
    await expect(ann.locator("#room-flags")).to_contain_text("Locked")
    await expect(mo.get_by_role("button", name="Unlock room")).to_be_visible()


async def test_moderator_removes_one_member_and_bans_another(web, open_page):
    community = unique("web")
    web.make_room(community, "lobby")
    mo = await open_page("Mo", community, "moderator")
    ann = await open_page("Ann", community)
    ben = await open_page("Ben", community)
    await send(ann, "hello from ann")
    await expect(messages(mo)).to_contain_text("hello from ann")

    await message_action(mo, "hello from ann", "Remove author from room")
    dialog = mo.get_by_role("dialog", name="Remove Ann from this room")
    await dialog.get_by_label("Reason (they see it)").fill("time out")
    await dialog.get_by_role("button", name="Remove").click()
    await expect(ann.locator("#room-status")).to_contain_text("A moderator removed you from this room")
    await expect(ann.get_by_role("button", name="Send")).to_be_disabled()
    await expect(ann.locator(".own-info")).to_contain_text("you can come back after")
    # Ben is unaffected.
    await send(ben, "still here")
    await expect(messages(mo)).to_contain_text("still here")

    await mo.get_by_role("tab", name="Moderation").click()
    await mo.get_by_label("Find a member by name").fill("be")
    await mo.get_by_label("Member", exact=True).select_option(label="Ben")
    await mo.get_by_role("button", name="Ban…").click()
    dialog = mo.get_by_role("dialog", name="Ban Ben from the community")
    await dialog.get_by_label("For how long").select_option("86400")
    await dialog.get_by_role("button", name="Ban").click()
    await expect(ben.locator("#room-status")).to_contain_text("You are banned from this community")
    await expect(ben.locator(".own-info")).to_contain_text("You are banned from this community until")
    await expect(mo.locator(".sanctions")).to_contain_text("Banned: Ben until")
    assert "dev-ben" not in await mo.locator(".sanctions").inner_text()
    await mo.get_by_role("button", name="Lift ban").click()
    await expect(mo.locator(".sanctions")).to_contain_text("Nobody is muted or banned")
