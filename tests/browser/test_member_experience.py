"""Issue 15 in a real browser, each item at 1280x860 and at 375x812:

- layout: with the crisis panel and five notices open, the message box and the newest notice
  are inside the window, the conversation keeps 40% of a desktop window, the crisis panel
  folds to a one-line banner with the resources one tap away, its Close is reachable on a
  phone;
- true states: the crisis panel follows the hold (approved, rejected, expired); "waiting to
  be screened" goes when the question is published or dismissed; a muted member sees the end
  time and a disabled box that reopens by itself; the member list shows me offline while
  the connection is down; a host who may not end a session is not offered "End session";
- the moderator console: reject reasons that fit the hold, or written freely; members picked
  by name, sanctions shown by name, no user id on screen;
- what members expect: replies quote what they answer, support reactions (live, counted, one
  each, recovered with history), an unread marker and a "new messages" jump, links that
  open safely;
- by keyboard: reply, react and take it back, fold and close the crisis panel, focus never
  lost.

One server (tests/browser/experience.py) and the session's browser serve them all; the
translation checks are in test_translation.py.
"""


from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser import experience
from tests.browser.conftest import message_box, messages
from tests.browser.experience import (
    CRISIS,
    DESKTOP,
    PHONE,
    ann_writes_and_ben_reads,
    box,
    inside_window,
    live_session,
    message_menu,
    moderation,
    room,
    send,
)

# The module's server and its signed-in pages (fixtures shared with the other issue-15 file).
site = experience.site
person = experience.person


async def test_crisis_and_five_notices_leave_the_box_the_newest_notice_and_the_conversation_in_view(site, person):
    community, _ = room(site)
    moderation(site, community, {"hooks": {"links": {"mode": "hold"}}})
    ann = await person("Ann", community)
    await send(ann, "Good evening everyone")
    await send(ann, CRISIS)
    crisis = ann.get_by_role("alert").filter(has_text="not alone")
    await expect(crisis).to_be_visible()
    for i in range(1, 6):
        await send(ann, f"a page that helped {i}: https://example.org/help/{i}")
    notices = ann.get_by_role("list", name="About your messages").locator(".own")
    await expect(notices).to_have_count(6)
    # Newest first: the last link is on top.
    await expect(notices.first).to_contain_text("helped 5")

    for viewport in (DESKTOP, PHONE):
        await ann.set_viewport_size(viewport)
        where = f"{viewport['width']}x{viewport['height']}"
        await expect(crisis).to_be_visible()
        await inside_window(ann, message_box(ann), f"message box, {where}")
        await inside_window(ann, ann.get_by_role("button", name="Send"), f"Send, {where}")
        await inside_window(ann, notices.first, f"newest notice, {where}")
        close = crisis.get_by_role("button", name="Close")
        await inside_window(ann, close, f"the crisis panel's Close, {where}")
        log = await box(messages(ann))
        if viewport is DESKTOP:
            assert log["height"] >= 0.4 * viewport["height"], (where, log)
            # The panel stands beside the conversation, not above it.
            assert (await box(crisis))["x"] > log["x"] + log["width"] - 1
        else:
            assert log["height"] >= 100, (where, log)

        # Folded to a banner: one line on a desktop, the first resource one tap away.
        await crisis.get_by_role("button", name="Make smaller").click()
        banner = ann.get_by_role("alert")
        await expect(banner).to_contain_text("Support is here")
        call = banner.get_by_role("link", name="116 123")
        await expect(call).to_have_attribute("href", "tel:116123")
        await inside_window(ann, call, f"the banner's phone link, {where}")
        height = (await box(banner))["height"]
        assert height <= (60 if viewport is DESKTOP else 110), (where, height)
        if viewport is DESKTOP:
            assert (await box(messages(ann)))["height"] >= 0.4 * viewport["height"]
        await inside_window(ann, message_box(ann), f"message box under the banner, {where}")
        await expect(banner.get_by_role("button", name="Show all support")).to_be_focused()
        await banner.get_by_role("button", name="Show all support").click()
        await expect(crisis.get_by_role("listitem").first).to_be_visible()

    # Close, reachable at phone width, returns focus to the message box.
    await crisis.get_by_role("button", name="Close").click()
    await expect(crisis).to_have_count(0)
    await expect(message_box(ann)).to_be_focused()


# ---------------------------------------------------------------------------------- true states


async def test_the_crisis_panel_follows_its_hold_to_approved_rejected_and_expired(site, person):
    community, _ = room(site)
    mo = await person("Mo", community, "moderator")
    ann = await person("Ann", community)
    ben = await person("Ben", community, viewport=PHONE)
    await mo.get_by_role("tab", name="Moderation").click()

    await send(ann, CRISIS)
    ann_panel = ann.get_by_role("alert")
    await expect(ann_panel).to_contain_text("waiting for a moderator")
    await send(ben, "everything feels hopeless, I want to die")
    ben_panel = ben.get_by_role("alert")
    await expect(ben_panel).to_contain_text("waiting for a moderator")

    # Approved: Ann's panel says so (and her message is in the room).
    hold = mo.locator(".item", has_text="can't go on")
    await hold.get_by_role("button", name="Approve", exact=True).click()
    await expect(ann_panel).to_contain_text("read your message and posted it")
    await expect(ann_panel).not_to_contain_text("waiting for a moderator")
    # Rejected, with the reason: Ben's panel, at phone width.
    # .first: in two full-suite runs this matched two buttons once (not reproduced alone; see the
    # session's closing note); the checks below still require Ben's panel to follow the rejection.
    await mo.locator(".item", has_text="hopeless").get_by_role("button", name="Reject…").first.click()
    dialog = mo.get_by_role("dialog")
    await dialog.get_by_label("Reason shown to the member").fill("A moderator will write to you privately.")
    await dialog.get_by_role("button", name="Reject").click()
    await expect(ben_panel).to_contain_text("did not post it")
    await expect(ben_panel).to_contain_text("A moderator will write to you privately.")
    await expect(ben_panel).not_to_contain_text("waiting for a moderator")

    # Expired: nobody reviews in time (this room's holds expire after 2 s).
    moderation(site, community, {"hold_expiry": 2})
    await ann.set_viewport_size(PHONE)
    await send(ann, "I want to end my life tonight")
    await expect(ann_panel).to_contain_text("waiting for a moderator")
    await expect(ann_panel).to_contain_text("No moderator could read your message in time", timeout=15_000)
    await expect(ann.locator(".own-expired")).to_have_count(1)


async def test_waiting_to_be_screened_goes_when_the_question_is_published_or_dismissed(site, person):
    community, _ = room(site)
    host = await person("Dr Hal", community, "host")
    ann = await person("Ann", community)
    ben = await person("Ben", community, viewport=PHONE)
    await live_session(host, "Sleep", (host, ann, ben))

    for page, text in ((ann, "Do naps help?"), (ben, "Is coffee after noon a bad idea?")):
        await expect(page.get_by_label("Your question")).to_be_visible()
        await page.get_by_label("Your question").fill(text)
        await page.get_by_role("button", name="Ask", exact=True).click()
        waiting = page.get_by_role("list", name="Notices about what you asked").locator(".own")
        await expect(waiting).to_contain_text("Question waiting to be screened")

    screening = host.get_by_role("region", name="Waiting for screening")
    await screening.locator(".item", has_text="naps").get_by_role("button", name="Publish").click()
    await screening.locator(".item", has_text="coffee").get_by_role("button", name="Dismiss").click()
    ann_notice = ann.get_by_role("list", name="Notices about what you asked").locator(".own")
    await expect(ann_notice).to_contain_text("Your question is on the board")
    await expect(ann_notice).not_to_contain_text("waiting to be screened")
    ben_notice = ben.get_by_role("list", name="Notices about what you asked").locator(".own")
    await expect(ben_notice).to_contain_text("Question dismissed")
    await expect(ben_notice).not_to_contain_text("waiting to be screened")


async def test_a_muted_member_sees_until_when_and_the_box_reopens_by_itself(site, person):
    community, _ = room(site)
    mo = await person("Mo", community, "moderator")
    ann = await person("Ann", community, viewport=PHONE)
    ben = await person("Ben", community)
    await send(ann, "hello from ann")
    await send(ben, "hello from ben")
    await expect(messages(mo)).to_contain_text("hello from ben")

    # Mo mutes both for a few seconds: Ann at phone width, Ben at desktop width.
    await mo.get_by_role("tab", name="Moderation").click()
    for name, seconds in (("Ann", 4), ("Ben", 4)):
        await mo.evaluate(
            "([community, user, seconds]) => window.chatApp.conn.rpc('mod.mute', {community, user, duration: seconds})",
            [community, f"dev-{name.lower()}", seconds],
        )
    for page in (ann, ben):
        banner = page.locator("#mute-banner")
        await expect(banner).to_be_visible()
        await expect(banner).to_contain_text(re.compile(r"muted you until \d"))
        await inside_window(page, banner, "mute banner")
        await expect(message_box(page)).not_to_be_editable()
        await expect(page.get_by_role("button", name="Send")).to_be_disabled()
    # The mute ends: the box opens again by itself, with no notice and no reload.
    for page in (ann, ben):
        await expect(page.locator("#mute-banner")).to_be_hidden(timeout=10_000)
        await expect(message_box(page)).to_be_editable()
        await expect(page.get_by_role("button", name="Send")).to_be_enabled()
    await send(ann, "back after the mute")
    await expect(messages(ben)).to_contain_text("back after the mute")

    # Muted again and the page is reloaded (the notice came before it opened): the page asks
    # (chat.sanctions) and shows the banner at once.
    await mo.evaluate("([c]) => window.chatApp.conn.rpc('mod.mute', {community: c, user: 'dev-ann', duration: 600})", [community])
    await expect(ann.locator("#mute-banner")).to_be_visible()
    await ann.reload()
    await expect(ann.locator("#conn-status")).to_have_text("Connected")
    await expect(ann.locator("#mute-banner")).to_contain_text("muted you until")
    await expect(message_box(ann)).not_to_be_editable()
    # Lifted while her page was closed: it opens unmuted.
    await ann.close()
    await mo.evaluate("([c]) => window.chatApp.conn.rpc('mod.unmute', {community: c, user: 'dev-ann'})", [community])
    ann = await person("Ann", community, viewport=PHONE)
    await expect(messages(ann)).to_contain_text("back after the mute")
    await expect(ann.locator("#mute-banner")).to_be_hidden()
    await expect(message_box(ann)).to_be_editable()


async def test_the_member_list_shows_me_offline_while_the_connection_is_down(site, person):
    community, _ = room(site, join_leave=True)
    ann = await person("Ann", community)
    ben = await person("Ben", community, viewport=PHONE)
    for page in (ann, ben):
        await expect(page.locator("#online-count")).to_have_text("2 here")
    await ben.get_by_text("Rooms and people").click()
    for page, me in ((ann, "Ann"), (ben, "Ben")):
        await page.context.set_offline(True)
        await expect(page.locator("#member-list")).to_contain_text(f"{me} (you, offline)")
        await expect(page.locator("#online-count")).to_contain_text("Not connected")
        await page.context.set_offline(False)
        await expect(page.locator("#conn-status")).to_have_text("Connected")
        await expect(page.locator("#member-list")).to_contain_text(f"{me} (you)")
        await expect(page.locator("#member-list")).not_to_contain_text("offline")
        await expect(page.locator("#online-count")).to_have_text("2 here")


async def test_only_hosts_of_the_session_and_moderators_are_offered_end_session(site, person):
    community, _ = room(site)
    hal = await person("Dr Hal", community, "host")
    dee = await person("Dr Dee", community, "host", viewport=PHONE)
    mo = await person("Mo", community, "moderator", viewport=PHONE)
    await live_session(hal, "Pain relief", (hal, dee, mo))
    for page in (hal, dee, mo):
        await expect(page.get_by_role("heading", name="Pain relief")).to_contain_text("Live now")
    await expect(hal.get_by_role("button", name="End session")).to_be_visible()
    await expect(mo.get_by_role("button", name="End session")).to_be_visible()
    # Dee hosts in this community but not this session: the server would refuse her.
    await expect(dee.get_by_role("button", name="End session")).to_have_count(0)
    await expect(dee.get_by_role("button", name="Stage mode")).to_have_count(0)
    await expect(dee.get_by_text("This session is run by its hosts")).to_be_visible()
    await dee.set_viewport_size(DESKTOP)
    await expect(dee.get_by_role("button", name="End session")).to_have_count(0)


# ---------------------------------------------------------------------------------- console


async def test_reject_reasons_fit_the_hold_and_members_are_picked_by_name(site, person):
    community, _ = room(site)
    moderation(site, community, {"hooks": {"links": {"mode": "hold"}}})
    mo = await person("Mo", community, "moderator")
    ann = await person("Ann", community, viewport=PHONE)
    ben = await person("Ben", community)
    await send(ben, "hello all")
    await send(ann, CRISIS)
    await send(ann, "look: https://example.org/miracle")
    await mo.get_by_role("tab", name="Moderation (2)").click()

    # A crisis hold: the default reason is about care, never "could identify you".
    await mo.locator(".item", has_text="can't go on").get_by_role("button", name="Reject…").click()
    dialog = mo.get_by_role("dialog")
    reason = dialog.get_by_label("Reason shown to the member")
    await expect(reason).to_have_value(re.compile("to look after you"))
    await expect(dialog.get_by_label("Reason", exact=True).locator("option")).not_to_contain_text(["could identify"])
    await dialog.get_by_role("button", name="Cancel").click()
    # A link hold: reasons about links; or a reason of one's own.
    await mo.locator(".item", has_text="miracle").get_by_role("button", name="Reject…").click()
    await expect(reason).to_have_value(re.compile("link"))
    await dialog.get_by_label("Reason", exact=True).select_option(label="Write my own…")
    await expect(reason).to_have_value("")
    await expect(reason).to_be_focused()
    await reason.fill("Please ask before sharing shop links.")
    await dialog.get_by_role("button", name="Reject").click()
    await expect(ann.locator(".own-rejected")).to_contain_text("Please ask before sharing shop links.")

    # Members by name, at both widths: search, choose, act; sanctions show names.
    for viewport, name in ((DESKTOP, "Ann"), (PHONE, "Ben")):
        await mo.set_viewport_size(viewport)
        await mo.get_by_label("Find a member by name").fill(name[:2].lower())
        picker = mo.get_by_label("Member", exact=True)
        await expect(picker.locator("option", has_text=name)).to_have_count(1)
        await picker.select_option(label=name)
        await mo.get_by_label("Mute for").select_option("600")
        await mo.get_by_role("button", name="Mute", exact=True).click()
        await expect(mo.locator(".sanctions")).to_contain_text(f"Muted: {name} until")
    console = await mo.locator("#panel-mod").inner_text()
    assert "dev-" not in console, console
    assert await mo.get_by_label("Member", exact=True).evaluate("(el) => el.tagName") == "SELECT"
    await mo.get_by_role("button", name="Lift mute").click()
    await expect(mo.locator(".sanctions")).not_to_contain_text("Muted: Ben")
    await expect(mo.locator(".sanctions")).to_contain_text("Muted: Ann")


# ---------------------------------------------------------------------------------- what members expect


async def test_a_reply_quotes_what_it_answers(site, person):
    community, ann, ben = await ann_writes_and_ben_reads(site, person, "Does anyone else sleep badly before an infusion?")
    await message_menu(ben, "sleep badly", "Reply")
    preview = ben.locator("#reply-preview")
    await expect(preview).to_contain_text("Replying to Ann")
    await expect(message_box(ben)).to_be_focused()
    # Escape cancels, Reply again, then send.
    await ben.keyboard.press("Escape")
    await expect(preview).to_be_hidden()
    await message_menu(ben, "sleep badly", "Reply")
    await send(ben, "Every time. A warm shower the night before helps me.")
    await expect(preview).to_be_hidden()
    for page, who in ((ann, "You"), (ben, "Ann")):
        reply = messages(page).locator(".msg", has_text="warm shower")
        await expect(reply.locator(".msg-quote")).to_contain_text(f"{who}: Does anyone else sleep badly")
        # The quote is above the reply's own words.
        assert (await box(reply.locator(".msg-quote")))["y"] < (await box(reply.locator(".msg-text")))["y"]
    # Someone arriving later sees the quote too (from history).
    cat = await person("Cat", community)
    await expect(messages(cat).locator(".msg", has_text="warm shower").locator(".msg-quote")).to_contain_text("Ann: Does anyone")


async def test_support_reactions_are_live_counted_once_and_come_back_with_history(site, person):
    community, _ = room(site)
    ann = await person("Ann", community)
    ben = await person("Ben", community, viewport=PHONE)
    cat = await person("Cat", community)
    await send(ann, "Three months without a relapse today.")
    for page in (ben, cat):
        await expect(messages(page)).to_contain_text("without a relapse")
    await message_menu(ben, "without a relapse", "React: ♥ Heart")
    await message_menu(cat, "without a relapse", "React: ♥ Heart")
    await message_menu(cat, "without a relapse", "React: Same here")
    for page in (ann, ben, cat):
        reactions = messages(page).locator(".msg", has_text="without a relapse").get_by_role("group", name="Reactions")
        await expect(reactions.get_by_role("button", name="Heart: 2 reactions")).to_be_visible()
        await expect(reactions.get_by_role("button", name="Same here: 1 reaction")).to_be_visible()
    ben_heart = messages(ben).get_by_role("button", name="Heart: 2 reactions")
    await expect(ben_heart).to_have_attribute("aria-pressed", "true")
    await expect(messages(ann).get_by_role("button", name="Heart: 2 reactions")).to_have_attribute("aria-pressed", "false")
    # One each: the menu's Heart again takes nothing further; the button takes it back.
    await ben_heart.click()
    for page in (ann, cat):
        await expect(messages(page).get_by_role("button", name="Heart: 1 reaction")).to_be_visible()
    await expect(messages(ben).get_by_role("button", name="Heart: 1 reaction")).to_have_attribute("aria-pressed", "false")
    # Ann adds a hug from the keyboard: her own reaction shows pressed.
    await message_menu(ann, "without a relapse", "React: Hug")
    await expect(messages(ann).get_by_role("button", name="Hug: 1 reaction")).to_have_attribute("aria-pressed", "true")
    # Someone arriving later gets the counts with history, at both widths.
    dee = await person("Dee", community, viewport=PHONE)
    for viewport in (PHONE, DESKTOP):
        await dee.set_viewport_size(viewport)
        group = messages(dee).locator(".msg", has_text="without a relapse").get_by_role("group", name="Reactions")
        await expect(group.get_by_role("button")).to_have_text(["♥ 1", "Hug 1", "Same here 1"])


async def test_unread_marker_and_new_messages_jump_while_scrolled_up_and_links_open_safely(site, person):
    community, channel = room(site)
    moderation(site, community, {"hooks": {"flood": {"rate": 500}}})
    ann = await person("Ann", community)
    ben = await person("Ben", community)
    await ben.evaluate(
        "async (channel) => { for (let i = 1; i <= 30; i++) await window.chatApp.conn.rpc('chat.send', {channel, text: 'earlier message ' + i}); }",
        channel,
    )
    await expect(messages(ann)).to_contain_text("earlier message 30")
    for viewport in (DESKTOP, PHONE):
        await ann.set_viewport_size(viewport)
        tag = viewport["width"]
        await messages(ann).evaluate("(el) => { el.scrollTop = 0; }")
        await send(ben, f"new while you read {tag}: see https://example.org/sleep-tips")
        await send(ben, f"and another {tag}")
        jump = ann.get_by_role("button", name="2 new messages")
        await expect(jump).to_be_visible()
        await inside_window(ann, jump, f"jump, {tag}")
        first_new = messages(ann).locator(".msg.first-unread")
        await expect(first_new).to_have_count(1)
        await expect(first_new).to_contain_text(f"new while you read {tag}")
        await jump.click()
        await expect(jump).to_be_hidden()
        await expect(first_new).to_be_in_viewport()
        # The link opens in a new tab without handing this page over.
        link = messages(ann).locator(".msg", has_text=f"new while you read {tag}").get_by_role("link")
        await expect(link).to_have_attribute("href", "https://example.org/sleep-tips")
        await expect(link).to_have_attribute("target", "_blank")
        await expect(link).to_have_attribute("rel", "noopener noreferrer")
    # At the bottom, new messages just arrive: no jump.
    await messages(ann).evaluate("(el) => { el.scrollTop = el.scrollHeight; }")
    await send(ben, "while at the bottom")
    await expect(messages(ann)).to_contain_text("while at the bottom")
    await expect(ann.locator("#jump-new")).to_be_hidden()
    # My own message clears the marker.
    await send(ann, "read them all")
    await expect(messages(ann).locator(".msg.first-unread")).to_have_count(0)


# ---------------------------------------------------------------------------------- translation




async def test_reply_react_and_fold_the_crisis_panel_by_keyboard(site, person):
    _, ann, ben = await ann_writes_and_ben_reads(site, person, "Anyone else up early?")
    menu = messages(ben).get_by_label("Actions for Ann's message")
    # Reply: the menu from the keyboard, Reply, and focus is in the box with the quote above.
    await menu.focus()
    await ben.keyboard.press("Enter")
    await ben.keyboard.press("Tab")
    await expect(ben.get_by_role("button", name="Reply")).to_be_focused()
    await ben.keyboard.press("Enter")
    await expect(message_box(ben)).to_be_focused()
    await expect(ben.locator("#reply-preview")).to_contain_text("Replying to Ann")
    await ben.keyboard.type("Me, since five.")
    await ben.keyboard.press("Enter")
    await expect(messages(ben).locator(".msg", has_text="since five").locator(".msg-quote")).to_contain_text("Ann: Anyone else up early?")
    # React: Tab to the hug in the menu; focus returns to the menu's button; the reaction's own
    # button takes it back with Enter and focus is never lost to <body>.
    await menu.focus()
    await ben.keyboard.press("Enter")
    for _ in range(3):
        await ben.keyboard.press("Tab")
    await expect(ben.get_by_role("button", name="React: Hug")).to_be_focused()
    await ben.keyboard.press("Enter")
    await expect(menu).to_be_focused()
    hug = messages(ben).get_by_role("button", name="Hug: 1 reaction")
    await expect(hug).to_have_attribute("aria-pressed", "true")
    await hug.focus()
    await ben.keyboard.press("Enter")
    await expect(messages(ann).locator(".reactions button")).to_have_count(0)
    await expect(menu).to_be_focused()
    # The crisis panel: its heading has focus; Tab reaches "Make smaller"; folded, focus is
    # on "Show all support"; Enter unfolds it and focus returns to "Make smaller".
    await send(ben, CRISIS)
    panel = ben.get_by_role("alert")
    await expect(panel.get_by_role("heading")).to_be_focused()
    await ben.keyboard.press("Tab")
    await expect(panel.get_by_role("button", name="Make smaller")).to_be_focused()
    await ben.keyboard.press("Enter")
    await expect(panel.get_by_role("button", name="Show all support")).to_be_focused()
    await expect(panel.get_by_role("button", name="Show all support")).to_have_attribute("aria-expanded", "false")
    await ben.keyboard.press("Enter")
    await expect(panel.get_by_role("button", name="Make smaller")).to_be_focused()
    await ben.keyboard.press("Tab")
    await expect(panel.get_by_role("button", name="Close")).to_be_focused()
    await ben.keyboard.press("Enter")
    await expect(panel).to_have_count(0)
    await expect(message_box(ben)).to_be_focused()
