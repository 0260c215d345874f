"""The member view in a real browser: live chat, history on entry, who is here, own-message
notices, and recovery of missed messages after the page's connection is cut."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.browser.conftest import message_box, messages
from tests.harness import unique


async def test_two_members_chat_live(web, open_page):
    community = unique("web")
    web.make_room(community, "lobby", join_leave=True)
    ann = await open_page("Ann", community)
    ben = await open_page("Ben", community)

    await message_box(ann).fill("Hello, is anyone around tonight?")
    await message_box(ann).press("Enter")
    await expect(messages(ben)).to_contain_text("Hello, is anyone around tonight?")
    await expect(messages(ben).locator(".msg").last.locator(".msg-author")).to_have_text("Ann")

    await message_box(ben).fill("I'm here, Ann. How are you doing?")
    await ben.get_by_role("button", name="Send").click()
    await expect(messages(ann)).to_contain_text("I'm here, Ann. How are you doing?")
    await expect(messages(ann).locator(".msg").last.locator(".msg-author")).to_have_text("Ben")
    # The sender's own message is marked as theirs, in order, once.
    await expect(messages(ann).locator(".msg")).to_have_count(2)
    await expect(messages(ann).locator(".msg.mine .msg-text")).to_have_text("Hello, is anyone around tonight?")

    # Both are listed as here, one entry each.
    await expect(ann.locator("#online-count")).to_have_text("2 here")
    await expect(ann.locator("#member-list")).to_contain_text("Ben")

    # Someone who joins later gets the conversation so far (history on entry).
    cat = await open_page("Cat", community)
    await expect(messages(cat).locator(".msg-text")).to_have_text(
        ["Hello, is anyone around tonight?", "I'm here, Ann. How are you doing?"]
    )
    await expect(ann.locator("#online-count")).to_have_text("3 here")


async def test_rejected_post_is_explained_to_the_sender(web, open_page):
    community = unique("web")
    web.make_room(community, "lobby", max_message_length=20)
    ann = await open_page("Ann", community)
    await message_box(ann).fill("This message is far too long for this room")
    await message_box(ann).press("Enter")
    notice = ann.get_by_role("list", name="About your messages").locator(".own")
    await expect(notice).to_contain_text("Not sent")
    await expect(notice).to_contain_text("Too long: this room allows 20 characters.")
    await expect(notice).not_to_contain_text("bad request")
    await expect(messages(ann).locator(".msg")).to_have_count(0)
    await notice.get_by_role("button", name="Dismiss this notice").click()
    await expect(notice).to_have_count(0)


async def test_page_recovers_missed_messages_after_its_connection_is_cut(web, open_page):
    community = unique("web")
    web.make_room(community, "lobby", join_leave=True)
    ann = await open_page("Ann", community)
    ben = await open_page("Ben", community)
    await message_box(ann).fill("before the drop")
    await message_box(ann).press("Enter")
    await expect(messages(ben)).to_contain_text("before the drop")
    await expect(ann.locator("#online-count")).to_have_text("2 here")

    # Cut Ben's network: the browser goes offline, the SDK closes its WebSocket and cannot
    # open a new one until the network is back.
    await ben.context.set_offline(True)
    await expect(ben.locator("#conn-status")).to_have_attribute("data-state", "connecting")
    await expect(ben.locator("#conn-status")).to_contain_text("Offline")
    # The server sees Ben leave (his WebSocket really closed).
    await expect(ann.locator("#online-count")).to_have_text("1 here")

    missed = [f"while you were away {i}" for i in range(1, 4)]
    for text in missed:
        await message_box(ann).fill(text)
        await message_box(ann).press("Enter")
        await expect(messages(ann)).to_contain_text(text)
    await expect(messages(ben)).not_to_contain_text("while you were away")

    await ben.context.set_offline(False)
    await expect(ben.locator("#conn-status")).to_have_text("Connected")
    await expect(ben.locator("#room-status")).to_contain_text("You have everything you missed")
    await expect(messages(ben).locator(".msg-text")).to_have_text(["before the drop", *missed])

    # Live messages continue after the recovered ones, with no duplicates.
    await message_box(ann).fill("welcome back")
    await message_box(ann).press("Enter")
    await expect(messages(ben).locator(".msg-text")).to_have_text(["before the drop", *missed, "welcome back"])


async def test_members_see_who_is_here_and_who_is_typing(web, open_page):
    community = unique("web")
    web.make_room(community, "lobby", join_leave=True)
    # An invisible member is counted but not listed for members; moderators see them.
    await open_page("Quiet", community, invisible=True)
    ann = await open_page("Ann", community)
    ben = await open_page("Ben", community)
    mo = await open_page("Mo", community, "moderator")
    await expect(ann.locator("#online-count")).to_have_text("4 here, 1 moderator")
    people = ann.get_by_role("region", name="Here now").get_by_role("listitem")
    await expect(people).to_have_count(3)
    await expect(people.first).to_contain_text("Mo")  # staff first
    await expect(ann.locator("#member-list")).to_contain_text("Ann (you)")
    await expect(ann.locator("#member-list")).not_to_contain_text("Quiet")
    await expect(mo.locator("#member-list")).to_contain_text("Quiet")

    await message_box(ben).press_sequentially("I was just thinking", delay=20)
    await expect(ann.locator("#typing")).to_have_text("Ben is typing…")
    await expect(ben.locator("#typing")).to_have_text("")  # not about oneself
    await message_box(ben).press("Enter")
    await expect(messages(ann)).to_contain_text("I was just thinking")
    await expect(ann.locator("#typing")).to_have_text("")

    await ben.context.close()
    await expect(ann.locator("#online-count")).to_have_text("3 here, 1 moderator")
    await expect(ann.locator("#member-list")).not_to_contain_text("Ben")


async def test_page_recovers_after_its_websocket_is_dropped_without_warning(web, open_page):
    """No 'offline' event this time: the WebSocket just closes under the page (as when a
    proxy or a mobile network drops it), and reconnecting fails for a while."""
    community = unique("web")
    web.make_room(community, "lobby")
    ann = await open_page("Ann", community)
    ben = await open_page("Ben", community)
    routes = []
    blocked = False

    def route(ws):
        if blocked:
            asyncio.ensure_future(ws.close(code=1011, reason="network unreachable"))
            return
        ws.connect_to_server()
        routes.append(ws)

    await ben.route_web_socket("**/connection/websocket", route)
    await ben.reload()  # from now on Ben's WebSocket goes through the route
    await expect(ben.locator("#conn-status")).to_have_text("Connected")
    await message_box(ann).fill("before the cut")
    await message_box(ann).press("Enter")
    await expect(messages(ben)).to_contain_text("before the cut")

    blocked = True
    for ws in routes:
        await ws.close(code=1011, reason="connection reset")
    await expect(ben.locator("#conn-status")).to_have_text("Reconnecting…")
    for i in range(3):
        await message_box(ann).fill(f"during the cut {i}")
        await message_box(ann).press("Enter")
    await expect(messages(ann).locator(".msg")).to_have_count(4)
    await expect(messages(ben)).not_to_contain_text("during the cut")

    blocked = False
    await expect(ben.locator("#conn-status")).to_have_text("Connected", timeout=30_000)
    await expect(ben.locator("#room-status")).to_contain_text("You have everything you missed")
    await expect(messages(ben).locator(".msg-text")).to_have_text(
        ["before the cut", "during the cut 0", "during the cut 1", "during the cut 2"]
    )
