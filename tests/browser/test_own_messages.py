"""Issue 13, item 7: in the web client a member edits and deletes their own messages (delete
asks for a confirmation first); the other member's page follows live. The edit dialog and
the confirmation pass axe with no serious violation. And the moderator console still shows a
held message as written although the feed event carries it redacted."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.a11y import axe_audit
from tests.browser.conftest import message_box, messages
from tests.harness import unique


async def test_member_edits_and_deletes_own_message(web, open_page):
    community = unique("webown")
    web.make_room(community, "lobby")
    ann = await open_page("Ann", community, bypass_csp=True)  # axe is injected into Ann's page
    ben = await open_page("Ben", community)
    for text in ("I feel tried today", "something I regret saying"):
        await message_box(ann).fill(text)
        await message_box(ann).press("Enter")
    await expect(messages(ben).locator(".msg-text")).to_have_text(["I feel tried today", "something I regret saying"])
    # Only one's own messages offer edit and delete.
    theirs = messages(ben).locator(".msg").first
    await theirs.locator("summary").click()
    await expect(theirs.get_by_role("button", name="Report to moderators")).to_be_visible()
    await expect(theirs.get_by_role("button", name="Edit message")).to_have_count(0)
    await theirs.locator("summary").click()

    first = messages(ann).locator(".msg.mine").first
    await first.locator("summary").click()
    await first.get_by_role("button", name="Edit message").click()
    dialog = ann.get_by_role("dialog", name="Edit your message")
    await expect(dialog).to_be_visible()
    assert await axe_audit(ann, "edit dialog") == []
    await dialog.get_by_label("Message").fill("I feel tired today")
    await dialog.get_by_role("button", name="Save").click()
    for page in (ann, ben):
        await expect(messages(page).locator(".msg-text").first).to_have_text("I feel tired today")
        await expect(messages(page).locator(".msg").first.locator(".msg-edited")).to_have_text("(edited)")

    second = messages(ann).locator(".msg.mine").nth(1)
    await second.locator("summary").click()
    await second.get_by_role("button", name="Delete message").click()
    confirm = ann.get_by_role("dialog", name="Delete your message?")
    await expect(confirm).to_be_visible()
    assert await axe_audit(ann, "delete confirmation") == []
    # Cancelling keeps it.
    await confirm.get_by_role("button", name="Cancel").click()
    await expect(messages(ben)).to_contain_text("something I regret saying")
    await second.locator("summary").click()
    await second.get_by_role("button", name="Delete message").click()
    await ann.get_by_role("dialog", name="Delete your message?").get_by_role("button", name="Delete").click()
    for page in (ann, ben):
        await expect(messages(page)).not_to_contain_text("something I regret saying")
        await expect(messages(page)).to_contain_text("Message deleted by its author.")
    # A member who opens the room afterwards gets only the latest text, marked edited.
    cat = await open_page("Cat", community)
    await expect(messages(cat).locator(".msg-text")).to_have_text(["I feel tired today"])
    await expect(messages(cat).locator(".msg-edited")).to_have_text(["(edited)"])


async def test_console_shows_a_live_held_message_as_written_while_the_feed_keeps_it_redacted(web, open_page):
    community = unique("webhold")
    web.make_room(community, "lobby")
    r = web.api("PUT", f"/api/communities/{community}/rooms/lobby/moderation", {"hooks": {"links": {"mode": "hold"}}})
    assert r.status_code == 200, r.text
    mo = await open_page("Mo", community, "moderator")
    ann = await open_page("Ann", community)
    await mo.get_by_role("tab", name="Moderation").click()
    await message_box(ann).fill("ring me on 07700 900123 or see https://example.org/help")
    await message_box(ann).press("Enter")
    # The hold.created event (kept in the feed's history) has the phone number hidden; the
    # console fetches the original from the hold queue for the moderator who judges it.
    item = mo.locator(".item", has_text="example.org/help")
    await expect(item).to_contain_text("07700 900123")
    history = web.api("GET", f"/api/communities/{community}/rooms/lobby/history").json()
    assert "07700" not in str(history)
