"""Issue 27 in the web client: a content note folds a post until the reader opens it (keyboard,
axe-clean, on a phone-width page too), and blocking a member from the message menu takes
their messages off the screen and stops new ones both ways."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.a11y import axe_audit
from tests.browser.conftest import message_box, messages
from tests.harness import unique


async def test_a_content_note_folds_the_post_and_a_block_hides_the_author(web, open_page):
    community = unique("webpeer")
    web.make_room(community, "lobby")
    ann = await open_page("Ann", community)
    ben = await open_page("Ben", community, width=380, height=740, bypass_csp=True)  # axe runs in Ben's page
    await message_box(ann).fill("my grandmother died on Sunday")
    await message_box(ann).press("Enter")
    await expect(messages(ben).locator(".msg-text")).to_have_text(["my grandmother died on Sunday"])
    # A mention reaches Ann as a notice.
    await message_box(ben).fill("@Ann I am so sorry")
    await message_box(ben).press("Enter")
    await expect(ann.locator("#own-notices")).to_contain_text("Ben mentioned you in lobby.")
    # Ann mutes the room's notifications: the next mention tells her nothing.
    mute = ann.get_by_role("button", name="Mute notifications")
    await mute.click()
    await expect(mute).to_have_attribute("aria-pressed", "true")
    await message_box(ben).fill("@Ann are you ok")
    await message_box(ben).press("Enter")
    await expect(messages(ann)).to_contain_text("@Ann are you ok")
    notices_now = await ann.locator("#own-notices").inner_text()
    await ann.wait_for_timeout(800)
    assert await ann.locator("#own-notices").inner_text() == notices_now

    # Ann puts a note on her post from the message menu.
    mine = messages(ann).locator(".msg.mine").first
    await mine.locator("summary").click()
    await mine.get_by_role("button", name="Content note…").click()
    dialog = ann.get_by_role("dialog", name="Content note")
    await dialog.get_by_label("Note").select_option("loss")
    await dialog.get_by_role("button", name="Save").click()

    # Ben sees the note; the text opens with the keyboard and folds again.
    post = messages(ben).locator(".msg").first
    await expect(post.locator(".msg-cw-label")).to_have_text("Content note: loss")
    await expect(post.locator(".msg-text")).to_be_hidden()
    toggle = post.get_by_role("button", name="Show message")
    assert await axe_audit(ben, "content note, folded") == []
    await toggle.focus()
    await ben.keyboard.press("Enter")
    await expect(post.locator(".msg-text")).to_be_visible()
    await expect(post.get_by_role("button", name="Hide message")).to_have_attribute("aria-expanded", "true")

    # Ben blocks Ann: her messages leave his screen, and neither sees the other's new ones.
    await post.locator("summary").click()
    await post.get_by_role("button", name="Block this member…").click()
    confirm = ben.get_by_role("dialog", name="Block Ann?")
    await expect(confirm).to_be_visible()
    assert await axe_audit(ben, "block confirmation") == []
    await confirm.get_by_role("button", name="Block").click()
    await expect(messages(ben)).not_to_contain_text("my grandmother")
    await message_box(ann).fill("is anyone there")
    await message_box(ann).press("Enter")
    await message_box(ben).fill("hello everyone")
    await message_box(ben).press("Enter")
    await expect(messages(ben).locator(".msg-text")).to_have_text(["@Ann I am so sorry", "@Ann are you ok", "hello everyone"])
    await expect(messages(ann).locator(".msg.mine .msg-text").last).to_have_text("is anyone there")
    await expect(messages(ann)).not_to_contain_text("hello everyone")


async def test_supporters_and_moderators_see_the_waiting_list_and_who_is_on_it(web, open_page):
    community = unique("webwait")
    web.make_room(community, "lobby", extra={"support": True, "reply_wait": 1})
    sue = await open_page("Sue", community, "supporter", bypass_csp=True)
    mo = await open_page("Mo", community, "moderator", width=380, height=740)
    ann = await open_page("Ann", community)
    waiting_sue = sue.get_by_role("region", name="Waiting for a reply")
    await expect(waiting_sue).to_contain_text("Everyone has had a reply.")
    # A member gets no list.
    await expect(ann.locator("#waiting")).to_be_hidden()
    await message_box(ann).fill("I can't sleep again, does anyone else get this?")
    await message_box(ann).press("Enter")
    # Nobody answers within reply_wait: the post appears live for the supporter and the moderator.
    take = waiting_sue.get_by_role("button", name="I'm on it")
    await expect(take).to_be_visible(timeout=20_000)
    await expect(waiting_sue.get_by_role("button", name="Ann in lobby")).to_be_visible()
    assert await axe_audit(sue, "waiting list") == []
    await take.focus()
    await sue.keyboard.press("Enter")
    await expect(waiting_sue).to_contain_text("You are on it")
    mo_sidebar = mo.locator("#waiting")
    if not await mo.locator("#sidebar").get_attribute("open"):
        await mo.locator("#sidebar > summary").click()
    await expect(mo_sidebar).to_contain_text("Sue is on it")
