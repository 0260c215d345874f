"""Accessibility as a tested property (target: WCAG 2.1 level AA).

- axe-core (vendored, pinned) audits every view and state: sign-in, the member view, the
  crisis panel, the moderator console with a held message and a report, Q&A as host and as
  member, and an open dialog; at 1280x860 and 375x812; in light and dark schemes. Any serious
  or critical violation fails; the rest are printed.
- Reflow (WCAG 1.4.10): at 320 and 375 px no element of any view is wider than the window
  and nothing scrolls sideways, each panel included.
- Keyboard paths: sign in, post, switch views with the arrow keys, approve a held message,
  report a message and close the dialog with Escape; after each step focus is on the expected
  element, never on <body>.

One server, one browser and one set of signed-in pages serve every audited state.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from playwright.async_api import expect

from tests.browser.a11y import axe_audit, enter_then_escape, focus_is, reflow_problems, tab_until
from tests.browser.conftest import TIMEOUT_MS, message_box, messages, sign_in
from tests.harness import unique

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 812}
SMALL_PHONE = {"width": 320, "height": 812}


@dataclass
class Scene:
    community: str
    newcomer: object  # the sign-in page
    ann: object  # a member shown crisis resources
    ben: object  # a member who reported a message and asked a question
    mo: object  # a moderator: a held message, a crisis hold, a report, audit entries
    hal: object  # the Q&A host

    @property
    def pages(self):
        return [self.newcomer, self.ann, self.ben, self.mo, self.hal]

    def states(self):
        """(name, page, tab to show or None)."""
        return [
            ("sign-in", self.newcomer, None),
            ("member view", self.ben, "Chat"),
            ("crisis panel", self.ann, "Chat"),
            ("moderator chat", self.mo, "Chat"),
            ("moderator console", self.mo, "Moderation"),
            ("Q&A host", self.hal, "Q&A"),
            ("Q&A member", self.ben, "Q&A"),
        ]


async def send(page, text: str) -> None:
    await message_box(page).fill(text)
    await message_box(page).press("Enter")


async def show_tab(page, name: str) -> None:
    tab = page.get_by_role("tab", name=name)
    await tab.first.click()
    await expect(page.get_by_role("tabpanel").first).to_be_visible()


@pytest.fixture(scope="module")
async def scene(browser, web):
    community = unique("a11y")
    web.make_room(community, "lobby")
    r = web.api("PUT", f"/api/communities/{community}/rooms/lobby/moderation", {"hooks": {"links": {"mode": "hold"}}})
    assert r.status_code == 200, r.text
    contexts = []

    async def page_for(name: str | None, role: str = "member"):
        context = await browser.new_context(viewport=DESKTOP, bypass_csp=True)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda err: print(f"[{name}] page error: {err}"))
        if name:
            await sign_in(page, web.url, name, community, role)
        else:
            await page.goto(web.url + "/")
            await expect(page.get_by_label("Display name")).to_be_visible()
        return page

    mo = await page_for("Mo", "moderator")
    hal = await page_for("Dr Hal Okafor", "host")
    ann = await page_for("Ann", "member")
    ben = await page_for("Ben", "member")
    newcomer = await page_for(None)

    await send(ann, "Evening all. A long day, but the new routine is helping with the fatigue.")
    await send(ben, "Good to hear, Ann. Mine was a quiet one; I walked for ten minutes.")
    await send(ann, "This page helped me: https://example.org/a-rather-long-address/about-ms-fatigue-and-sleep")
    await expect(ann.locator(".own-held")).to_have_count(1)
    await send(ann, "I can't go on, I want to end my life")
    await expect(ann.get_by_role("alert").filter(has_text="not alone")).to_be_visible()
    # Ben reports Ann's first message: a report in the console.
    item = messages(ben).locator(".msg", has_text="Evening all")
    await item.locator("summary").click()
    await item.get_by_role("button", name="Report to moderators").click()
    dialog = ben.get_by_role("dialog", name="Report this message")
    await dialog.get_by_label("Anything else moderators should know (optional)").fill("Not really, just checking the report path")
    await dialog.get_by_role("button", name="Send report").click()
    await expect(ben.locator(".own-info")).to_contain_text("Your report reached the moderators")
    # Mo: two holds and a report; an audit entry with a long reason.
    await show_tab(mo, "Moderation (2)")
    await expect(mo.locator(".item.priority-high", has_text="I can't go on")).to_be_visible()
    await expect(mo.get_by_role("region", name="Reports")).to_contain_text("1 report")
    await mo.get_by_label("Member", exact=True).select_option(label="Ben")
    await mo.get_by_label("Mute for").select_option("60")
    await mo.get_by_role("button", name="Mute", exact=True).click()
    await expect(mo.locator(".sanctions")).to_contain_text("Muted: Ben")
    await mo.get_by_role("button", name="Lift mute").click()
    await expect(mo.get_by_role("table")).to_contain_text("Mute lifted")
    # Hal runs a live Q&A; Ben's question is on the board.
    await show_tab(hal, "Q&A")
    await hal.get_by_role("button", name="New session…").click()
    await hal.get_by_role("dialog").get_by_label("Title").fill("Sleep and fatigue: ask the nurse")
    await hal.get_by_role("dialog").get_by_role("button", name="Create").click()
    await hal.get_by_role("button", name="Start session").click()
    await show_tab(ben, "Q&A")
    await ben.get_by_label("Your question").fill("Does a short nap in the afternoon make night sleep worse?")
    await ben.get_by_role("button", name="Ask", exact=True).click()
    screening = hal.get_by_role("region", name="Waiting for screening")
    await screening.locator(".item", has_text="short nap").get_by_role("button", name="Publish").click()
    await expect(ben.locator("article.question")).to_have_count(1)
    await show_tab(ben, "Chat")
    yield Scene(community=community, newcomer=newcomer, ann=ann, ben=ben, mo=mo, hal=hal)
    for context in contexts:
        await context.close()


async def test_axe_finds_no_serious_violation_in_any_view_width_or_scheme(scene):
    failing: list[str] = []
    audited = 0
    for viewport in (DESKTOP, PHONE):
        for scheme in ("light", "dark"):
            for page in scene.pages:
                await page.set_viewport_size(viewport)
                await page.emulate_media(color_scheme=scheme)
            where = f"{viewport['width']}x{viewport['height']} {scheme}"
            for name, page, tab in scene.states():
                if tab:
                    await show_tab(page, tab)
                failing += await axe_audit(page, f"{name}, {where}")
                audited += 1
            # At phone width: rooms and people unfolded; and an open dialog.
            await show_tab(scene.ben, "Chat")
            if viewport is PHONE:
                await scene.ben.get_by_text("Rooms and people").click()
                await expect(scene.ben.get_by_role("button", name="lobby")).to_be_visible()
                failing += await axe_audit(scene.ben, f"member view, rooms and people open, {where}")
                await scene.ben.get_by_text("Rooms and people").click()
            await scene.ben.locator(".msg", has_text="Evening all").locator("summary").click()
            await scene.ben.get_by_role("button", name="Report to moderators").click()
            await expect(scene.ben.get_by_role("dialog")).to_be_visible()
            failing += await axe_audit(scene.ben, f"report dialog, {where}")
            await scene.ben.keyboard.press("Escape")
            await expect(scene.ben.get_by_role("dialog")).to_have_count(0)
            audited += 1
    for page in scene.pages:
        await page.emulate_media(color_scheme="light")
        await page.set_viewport_size(DESKTOP)
    assert audited == 32
    assert failing == [], "\n".join(failing)


async def test_no_view_is_wider_than_a_phone(scene):
    problems: list[str] = []
    for viewport in (SMALL_PHONE, PHONE):
        for page in scene.pages:
            await page.set_viewport_size(viewport)
        for name, page, tab in scene.states():
            if tab:
                await show_tab(page, tab)
            problems += await reflow_problems(page, f"{name}, {viewport['width']} px")
        ben = scene.ben
        await show_tab(ben, "Chat")
        await ben.get_by_text("Rooms and people").click()
        problems += await reflow_problems(ben, f"rooms and people open, {viewport['width']} px")
        await ben.get_by_text("Rooms and people").click()
        await ben.locator(".msg", has_text="Evening all").locator("summary").click()
        problems += await reflow_problems(ben, f"message menu open, {viewport['width']} px")
        await ben.get_by_role("button", name="Report to moderators").click()
        problems += await reflow_problems(ben, f"report dialog, {viewport['width']} px")
        await ben.keyboard.press("Escape")
    for page in scene.pages:
        await page.set_viewport_size(DESKTOP)
    assert problems == [], "\n".join(problems)


async def test_keyboard_paths_keep_focus_where_it_belongs(web, browser, open_page):
    community = unique("kbd")
    web.make_room(community, "lobby")
    r = web.api("PUT", f"/api/communities/{community}/rooms/lobby/moderation", {"hooks": {"links": {"mode": "hold"}}})
    assert r.status_code == 200, r.text
    ben = await open_page("Ben", community)
    await send(ben, "please report me")
    await send(ben, "first link: https://example.org/one")
    await send(ben, "second link: https://example.org/two")
    await expect(ben.locator(".own-held")).to_have_count(2)

    context = await browser.new_context(viewport={"width": 1100, "height": 760})
    try:
        page = await context.new_page()
        await page.goto(web.url + "/")
        # Sign in: the name field has focus on arrival; Tab through the form; Enter joins.
        await focus_is(page, page.get_by_label("Display name"))
        await page.keyboard.type("Kay")
        await page.keyboard.press("Tab")
        await focus_is(page, page.get_by_label("Community", exact=True))
        await page.get_by_label("Community", exact=True).select_option(community)
        await page.keyboard.press("Tab")
        await focus_is(page, page.get_by_label("Role", exact=True))
        await page.get_by_label("Role", exact=True).select_option("moderator")
        await tab_until(page, page.get_by_role("button", name="Join"), limit=2)
        await page.keyboard.press("Enter")
        # Signed in: the form is gone and focus is on the message box, not <body>.
        await focus_is(page, message_box(page))
        await expect(page.locator("#conn-status")).to_have_text("Connected")
        await expect(messages(page)).to_contain_text("please report me")

        # Post: Enter sends, focus stays in the (now empty) box.
        await page.keyboard.type("typed without a mouse")
        await page.keyboard.press("Enter")
        await expect(messages(page)).to_contain_text("typed without a mouse")
        await focus_is(page, message_box(page))
        await expect(message_box(page)).to_have_value("")

        # From the top of the page: the skip link, the language switch, Sign out, then the selected tab.
        await page.reload()
        await expect(page.locator("#conn-status")).to_have_text("Connected")
        await page.keyboard.press("Tab")
        skip = page.locator("#skip-link")
        await focus_is(page, skip)
        await expect(skip).to_have_text("Skip to the message box")
        await page.keyboard.press("Enter")
        await focus_is(page, message_box(page))
        await skip.focus()  # back at the top of the page
        await tab_until(page, page.get_by_role("tab", name="Chat"), limit=3)

        # Views switch with the arrow keys; the skip link follows the view on show.
        await page.keyboard.press("ArrowRight")
        await focus_is(page, page.get_by_role("tab", name="Q&A"))
        await expect(page.get_by_role("tabpanel", name="Q&A")).to_be_visible()
        await page.keyboard.press("Shift+Tab")
        await page.keyboard.press("Shift+Tab")
        await page.keyboard.press("Shift+Tab")
        await focus_is(page, skip)
        await expect(skip).to_have_text("Skip to the Q&A board")
        await page.keyboard.press("Enter")
        await focus_is(page, page.get_by_role("tabpanel", name="Q&A"))
        await page.keyboard.press("Shift+Tab")
        await focus_is(page, page.get_by_role("tab", name="Q&A"))
        await page.keyboard.press("ArrowRight")
        moderation_tab = page.get_by_role("tab", name="Moderation (2)")
        await focus_is(page, moderation_tab)
        console = page.get_by_role("tabpanel", name="Moderation (2)")
        await expect(console).to_be_visible()
        await page.keyboard.press("Shift+Tab")
        await page.keyboard.press("Shift+Tab")
        await page.keyboard.press("Shift+Tab")
        await expect(skip).to_have_text("Skip to the moderation console")
        await page.keyboard.press("Enter")
        await focus_is(page, page.locator("#panel-mod"))

        # Approve the first held message: focus moves on to the next one.
        first = page.locator(".item", has_text="first link")
        second = page.locator(".item", has_text="second link")
        await tab_until(page, first.get_by_role("button", name="Approve", exact=True))
        await page.keyboard.press("Enter")
        await expect(first).to_have_count(0)
        await focus_is(page, second)
        await expect(messages(ben)).to_contain_text("first link")
        # Reject the second: the dialog opens from the keyboard, Escape returns to its button.
        reject = second.get_by_role("button", name="Reject…")
        await tab_until(page, reject, limit=3)
        await page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog")
        # Focus starts on the reason presets (for a link hold: about links), then the words.
        await focus_is(page, dialog.get_by_label("Reason", exact=True))
        await page.keyboard.press("Escape")
        await expect(dialog).to_have_count(0)
        await focus_is(page, reject)
        await page.keyboard.press("Enter")
        await tab_until(page, dialog.get_by_label("Reason shown to the member"), limit=1)
        await expect(dialog.get_by_label("Reason shown to the member")).to_have_value("We could not check where this link leads, so we have not posted it.")
        await tab_until(page, dialog.get_by_role("button", name="Reject"), limit=2)
        await page.keyboard.press("Enter")
        await expect(second).to_have_count(0)
        # The queue is empty: focus is on its heading.
        await focus_is(page, page.get_by_role("heading", name="Held for review"))
        await expect(ben.locator(".own-rejected")).to_have_count(1)

        # Back to Chat (past the crisis cases above the queue): report a message; Escape closes
        # the dialog and returns to the menu button.
        await tab_until(page, page.get_by_role("tab", name="Moderation"), limit=8, key="Shift+Tab")
        await focus_is(page, page.get_by_role("tab", name="Moderation"))
        await page.keyboard.press("Home")
        await focus_is(page, page.get_by_role("tab", name="Chat"))
        menu = messages(page).locator(".msg", has_text="please report me").locator("summary")
        await tab_until(page, menu)
        await page.keyboard.press("Enter")
        # The menu: Reply, the support reactions, then Report.
        await page.keyboard.press("Tab")
        await focus_is(page, page.get_by_role("button", name="Reply"))
        await tab_until(page, page.get_by_role("button", name="Report to moderators"), limit=5)
        dialog = page.get_by_role("dialog", name="Report this message")
        await enter_then_escape(page, dialog, dialog.get_by_label("What is wrong?"), menu)
        # And sent: focus returns to the same button.
        await page.keyboard.press("Enter")
        await tab_until(page, page.get_by_role("button", name="Report to moderators"), limit=6)
        await page.keyboard.press("Enter")
        await tab_until(page, dialog.get_by_role("button", name="Send report"), limit=4)
        await page.keyboard.press("Enter")
        await expect(page.locator(".own-info")).to_contain_text("Your report reached the moderators")
        await focus_is(page, menu)
        # Dismissing that notice leaves focus in the conversation, not on <body>.
        dismiss = page.locator(".own-info").get_by_role("button", name="Dismiss this notice")
        await dismiss.focus()
        await page.keyboard.press("Enter")
        await expect(page.locator(".own-info")).to_have_count(0)
        await focus_is(page, message_box(page))
    finally:
        await context.close()


async def test_crisis_panel_heading_shows_its_focus_ring_and_close_returns_to_the_box(web, open_page):
    community = unique("kbd")
    web.make_room(community, "lobby")
    ann = await open_page("Ann", community)
    await send(ann, "I can't go on, I want to end my life")
    heading = ann.get_by_role("alert").get_by_role("heading")
    await focus_is(ann, heading)
    ring = await heading.evaluate("(el) => { const s = getComputedStyle(el); return [s.outlineStyle, parseFloat(s.outlineWidth)]; }")
    assert ring[0] != "none" and ring[1] >= 2, ring
    await ann.keyboard.press("Tab")
    await tab_until(ann, ann.get_by_role("alert").get_by_role("button", name="Close"))
    await ann.keyboard.press("Enter")
    await expect(ann.get_by_role("alert").filter(has_text="not alone")).to_have_count(0)
    await focus_is(ann, message_box(ann))


async def test_a_redacted_message_is_announced_once(web, open_page):
    community = unique("kbd")
    web.make_room(community, "lobby")
    ann = await open_page("Ann", community)
    await ann.evaluate("""() => {
      window.announced = [];
      const region = document.getElementById("announcer");
      new MutationObserver(() => { if (region.textContent) window.announced.push(region.textContent); })
        .observe(region, {childList: true, characterData: true, subtree: true});
    }""")
    await send(ann, "call me on +44 20 7946 0958 any evening")
    await expect(ann.locator(".own-redacted")).to_have_count(1)
    await expect(messages(ann)).to_contain_text("[phone number hidden]")
    await ann.wait_for_timeout(1500)  # both the answer and the private notice have arrived
    announced = await ann.evaluate("window.announced")
    assert len(announced) == 1, announced
    assert "Posted, with some details hidden" in announced[0]


async def test_the_checks_catch_what_they_are_for(scene):
    """The audit is only worth its silence if it speaks up: plant known faults and see them reported."""
    page = scene.newcomer
    await page.set_viewport_size(PHONE)
    await page.evaluate("""() => {
      const box = document.createElement("div");
      box.id = "planted";
      box.innerHTML = '<p style="color:#bbb;background:#fff">faint words</p><button></button>'
        + '<ol role="log"><li>an item</li></ol><p>null</p>'
        + '<div style="overflow-x:auto"><pre style="width:900px">a wide line</pre></div>';
      document.querySelector("#signin").append(box);
    }""")
    try:
        found = "\n".join(await axe_audit(page, "planted faults"))
        for rule in ("color-contrast", "button-name", "listitem", 'leaked value "null"'):
            assert rule in found, (rule, found)
        overflow = "\n".join(await reflow_problems(page, "planted faults"))
        assert "scrolls sideways" in overflow and "a wide line" in overflow, overflow
    finally:
        await page.evaluate("() => document.getElementById('planted').remove()")
        await page.set_viewport_size(DESKTOP)


async def test_screen_readers_get_a_list_of_messages_inside_the_log(scene):
    """What Chromium hands to screen readers (its accessibility tree over CDP): a log region
    named after the room, holding one list whose items are the messages."""
    page = scene.ben
    await show_tab(page, "Chat")
    cdp = await page.context.new_cdp_session(page)
    try:
        nodes = (await cdp.send("Accessibility.getFullAXTree"))["nodes"]
    finally:
        await cdp.detach()
    by_id = {node["nodeId"]: node for node in nodes}

    def role(node):
        return node.get("role", {}).get("value")

    def descendants(node):
        for child_id in node.get("childIds", []):
            child = by_id.get(child_id)
            if child:
                yield child
                yield from descendants(child)

    logs = [node for node in nodes if role(node) == "log"]
    assert len(logs) == 1, [role(n) for n in logs]
    assert logs[0].get("name", {}).get("value") == "Messages in lobby"
    lists = [node for node in descendants(logs[0]) if role(node) == "list"]
    assert len(lists) == 1
    items = [node for node in descendants(lists[0]) if role(node) == "listitem"]
    assert len(items) == await messages(page).locator(".msg").count() >= 2


async def test_axe_and_reflow_in_the_states_of_issue_15(scene):
    """The crisis panel folded to its banner; a reply being written, a message with support
    reactions, the jump to new messages and a muted member's banner with the disabled box;
    the reject dialog with reason presets after picking a member by name; the sign-in page
    in Spanish. Each at 1280x860 and 375x812, light and dark; reflow at 320 and 375 px."""
    ann, ben, mo, newcomer = scene.ann, scene.ben, scene.mo, scene.newcomer
    await show_tab(ann, "Chat")
    await ann.get_by_role("alert").get_by_role("button", name="Make smaller").click()
    await expect(ann.get_by_role("alert")).to_contain_text("Support is here")
    await show_tab(ben, "Chat")
    item = messages(ben).locator(".msg", has_text="Evening all")
    await item.locator("summary").click()
    await item.get_by_role("button", name="React: ♥ Heart").click()
    await expect(item.get_by_role("button", name="Heart: 1 reaction")).to_be_visible()
    await item.locator("summary").click()
    await item.get_by_role("button", name="Reply").click()
    await expect(ben.locator("#reply-preview")).to_contain_text("Replying to Ann")
    await ben.evaluate("() => { const b = document.getElementById('jump-new'); b.textContent = '2 new messages ↓'; b.hidden = false; }")
    await mo.evaluate("(c) => window.chatApp.conn.rpc('mod.mute', {community: c, user: 'dev-ben', duration: 600})", scene.community)
    await expect(ben.locator("#mute-banner")).to_be_visible()
    await show_tab(mo, "Moderation (2)")
    await mo.get_by_label("Find a member by name").fill("an")
    await mo.get_by_label("Member", exact=True).select_option(label="Ann")
    await mo.locator(".item", has_text="I can't go on").get_by_role("button", name="Reject…").click()
    await expect(mo.get_by_role("dialog")).to_be_visible()
    await newcomer.get_by_label("Language").select_option("es")
    await expect(newcomer.get_by_role("button", name="Entrar")).to_be_visible()

    pages = {"crisis banner": ann, "reply, reactions, jump, muted": ben, "reject presets": mo, "sign-in in Spanish": newcomer}
    failing: list[str] = []
    for viewport in (DESKTOP, PHONE):
        for scheme in ("light", "dark"):
            for name, page in pages.items():
                await page.set_viewport_size(viewport)
                await page.emulate_media(color_scheme=scheme)
                failing += await axe_audit(page, f"{name}, {viewport['width']}x{viewport['height']} {scheme}")
    problems: list[str] = []
    for viewport in (SMALL_PHONE, PHONE):
        for name, page in pages.items():
            await page.set_viewport_size(viewport)
            problems += await reflow_problems(page, f"{name}, {viewport['width']} px")
    await mo.keyboard.press("Escape")
    await newcomer.get_by_label("Idioma").select_option("en")
    for page in pages.values():
        await page.emulate_media(color_scheme="light")
        await page.set_viewport_size(DESKTOP)
    assert failing == [], "\n".join(failing)
    assert problems == [], "\n".join(problems)
