"""Issue 25, in a real browser: the moderator's console covers the whole community (every
room's holds and reports, each naming its room by its display name, a room filter, counts
per room) and never follows the chat view; one <h1> per view; the Spanish tab strip reflows
at 320 px; after a language switch focus is on the view's heading; a lock closes the
member's message box; ban offers durations first. Each state passes axe-core with every
rule (moderate and best practice included) at 1280x860 and 375x812, in English and Spanish,
and reflows at 320 px."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser import experience
from tests.browser.a11y import _inject_axe, reflow_problems
from tests.browser.conftest import message_box, messages
from tests.browser.experience import CRISIS, DESKTOP, PHONE, send
from tests.harness import unique

site = experience.site
person = experience.person
SMALL = {"width": 320, "height": 812}

# Every axe rule: WCAG 2.0/2.1 A and AA and the best practices (page-has-heading-one,
# region, heading-order ...), whatever their impact.
EVERY_RULE = """async () => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}, resultTypes: ["violations"]});
  return result.violations.map((v) => v.id + " (" + v.impact + "): " + v.help + " -> " + v.nodes.map((n) => n.target.join(" ")).join(", "));
}"""


async def axe_every_rule(page, state: str) -> list[str]:
    await _inject_axe(page)
    return [f"[{state}] {v}" for v in await page.evaluate(EVERY_RULE)]


def community_with_two_rooms(site) -> str:
    """A community with the rooms "Lobby" and "Quiet garden" (links held in the garden)."""
    community = unique("i25")
    assert site.api("PUT", f"/api/communities/{community}", {"title": "Issue 25"}).status_code in (200, 201)
    for name, title in (("lobby", "Lobby"), ("garden", "Quiet garden")):
        r = site.api("PUT", f"/api/communities/{community}/rooms/{name}", {"title": title, "settings": {}})
        assert r.status_code in (200, 201), r.text
    r = site.api("PUT", f"/api/communities/{community}/rooms/garden/moderation", {"hooks": {"links": {"mode": "hold"}}})
    assert r.status_code == 200, r.text
    return community


async def go_to_room(page, title: str) -> None:
    if await page.locator("#sidebar").get_attribute("open") is None:
        await page.locator("#sidebar > summary").click()
    await page.locator("#room-list").get_by_role("button", name=title, exact=True).click()
    await expect(page.locator("#room-title")).to_have_text(title)


async def say(page, text: str) -> None:
    """Send from the message box, whatever language the page speaks."""
    await page.locator("#composer-text").fill(text)
    await page.locator("#composer-text").press("Enter")


async def check_every_state(pages_and_states, where: str, failing: list[str]) -> None:
    for page, state in pages_and_states:
        failing.extend(await axe_every_rule(page, f"{state}, {where}"))


async def test_the_console_shows_every_room_and_never_follows_the_chat_view(site, person):
    community = community_with_two_rooms(site)
    mo = await person("Mo", community, "moderator", bypass_csp=True)
    ann = await person("Ann", community)
    ben = await person("Ben", community)
    await go_to_room(ann, "Lobby")
    await go_to_room(ben, "Quiet garden")
    await go_to_room(mo, "Quiet garden")  # the chat view is in the garden: the console is not
    await send(ann, CRISIS)
    await expect(ann.locator(".own-held")).to_contain_text("Held for review")
    await send(ben, "a lovely walk https://example.org/walk")
    await expect(ben.locator(".own-held")).to_contain_text("Held for review")

    await mo.get_by_role("tab", name="Moderation (2)").click()
    holds = mo.get_by_role("region", name="Held for review").locator(".item")
    await expect(holds).to_have_count(2)
    # Highest priority first (the Lobby's crisis message), each naming its room by display name.
    await expect(holds.nth(0)).to_contain_text("High priority")
    await expect(holds.nth(0)).to_contain_text("in Lobby")
    await expect(holds.nth(1)).to_contain_text("in Quiet garden")
    await expect(holds.nth(1)).to_contain_text("example.org")
    counts = mo.locator("#mod-room-counts")
    await expect(counts).to_contain_text("Lobby 1")
    await expect(counts).to_contain_text("Quiet garden 1")
    await expect(mo.get_by_role("tab", name="Moderation (2)")).to_have_attribute("title", "Waiting: Lobby 1, Quiet garden 1")
    assert f"{community}:" not in await mo.locator("#panel-mod").inner_text()
    # One h1 in the view.
    await expect(mo.locator("h1:visible")).to_have_count(1)
    await expect(mo.get_by_role("heading", level=1)).to_have_text("Moderation: every room of the community")

    # Talk privately: the chat view moves to the conversation; the console still has the Lobby.
    case = mo.locator("#case-list .item", has_text="can't go on")
    await expect(case).to_contain_text("in Lobby")
    await case.get_by_role("button", name="Talk privately").click()
    await expect(mo.locator("#private-note")).to_contain_text("Private conversation with Ann")
    await mo.get_by_role("tab", name="Moderation (2)").click()
    await expect(holds.nth(0)).to_contain_text("High priority")
    await expect(holds.nth(0)).to_contain_text("in Lobby")
    await expect(mo.locator("#panel-mod")).not_to_contain_text("Nothing is waiting")

    # The room filter: only the garden's hold (and no crisis case from the Lobby).
    await mo.get_by_label("Show").select_option(label="Quiet garden (1)")
    await expect(holds).to_have_count(1)
    await expect(holds.first).to_contain_text("example.org")
    await expect(mo.locator("#case-list")).not_to_contain_text("can't go on")
    await mo.get_by_label("Show").select_option(label="All rooms (2)")
    await expect(holds).to_have_count(2)
    await expect(mo.locator("#case-list")).to_contain_text("can't go on")

    # Approving the garden's hold from the console (the chat view is elsewhere) posts it there.
    await holds.nth(1).get_by_role("button", name="Approve", exact=True).click()
    await expect(holds).to_have_count(1)
    await expect(messages(ben)).to_contain_text("a lovely walk")
    await expect(mo.get_by_role("tab", name="Moderation (1)")).to_be_visible()

    failing: list[str] = []
    problems: list[str] = []
    for viewport in (DESKTOP, PHONE):
        await mo.set_viewport_size(viewport)
        await check_every_state([(mo, "console, whole community")], f"{viewport['width']}x{viewport['height']}", failing)
    await mo.set_viewport_size(SMALL)
    problems += await reflow_problems(mo, "console, 320 px")
    assert failing == [], "\n".join(failing)
    assert problems == [], "\n".join(problems)


async def test_lock_closes_the_members_box_and_ban_offers_durations_first(site, person):
    community = community_with_two_rooms(site)
    mo = await person("Mo", community, "moderator", bypass_csp=True)
    ann = await person("Ann", community, bypass_csp=True)
    await go_to_room(mo, "Lobby")
    await go_to_room(ann, "Lobby")
    await send(ann, "hello everyone")
    await expect(messages(mo)).to_contain_text("hello everyone")
    await mo.get_by_role("tab", name="Moderation").click()
    await expect(mo.get_by_role("heading", name="Room controls: Lobby")).to_be_visible()
    await mo.get_by_role("button", name="Lock room").click()
    await expect(ann.locator("#mute-banner")).to_contain_text("This room is locked")
    await expect(message_box(ann)).to_have_attribute("aria-disabled", "true")
    await expect(ann.get_by_role("button", name="Send")).to_have_attribute("aria-disabled", "true")
    await message_box(ann).press("Enter")
    failing = await axe_every_rule(ann, "member in a locked room")
    await mo.get_by_role("button", name="Unlock room").click()
    await expect(ann.locator("#mute-banner")).to_be_hidden()
    await expect(message_box(ann)).not_to_have_attribute("aria-disabled", "true")

    # Ban: a duration is the default, "until lifted" comes last.
    await mo.get_by_role("tab", name="Chat").click()
    item = messages(mo).locator(".msg", has_text="hello everyone")
    await item.locator("summary").click()
    await item.get_by_role("button", name="Ban author…").click()
    dialog = mo.get_by_role("dialog")
    duration = dialog.get_by_label("For how long")
    assert await duration.evaluate("(s) => s.options[s.selectedIndex].value") == "86400"
    labels = await duration.locator("option").all_inner_texts()
    assert labels[-1] == "Until lifted", labels
    failing += await axe_every_rule(mo, "ban dialog")
    await mo.keyboard.press("Escape")
    assert failing == [], "\n".join(failing)


async def test_spanish_console_headings_tab_strip_and_focus_after_a_language_switch(site, person):
    community = community_with_two_rooms(site)
    ann = await person("Ann", community)
    await go_to_room(ann, "Lobby")
    mo = await person("Mo", community, "moderator", viewport=PHONE, locale="es-ES", bypass_csp=True)
    await send(ann, CRISIS)
    tab = mo.get_by_role("tab", name="Moderación (1)")
    await expect(tab).to_be_visible()
    failing: list[str] = []
    problems: list[str] = []
    for viewport in (PHONE, DESKTOP):
        where = f"{viewport['width']}x{viewport['height']}"
        await mo.set_viewport_size(viewport)
        for name in ("Chat", "Preguntas", "Moderación (1)"):
            await mo.get_by_role("tab", name=name).click()
            await expect(mo.locator("h1:visible")).to_have_count(1)
            failing += await axe_every_rule(mo, f"{name}, {where}")
        holds = mo.locator("#panel-mod .item.priority-high")
        await expect(holds.first).to_contain_text("en Lobby")
        await expect(mo.locator("#panel-mod")).to_contain_text("Reportes")
        await expect(mo.locator("#panel-mod")).not_to_contain_text("Avisos")
    await mo.set_viewport_size(SMALL)
    for name in ("Moderación (1)", "Chat"):
        await mo.get_by_role("tab", name=name).click()
        problems += await reflow_problems(mo, f"{name}, 320 px")
    tabs = await mo.locator("#tabs").evaluate("(el) => [el.scrollWidth, el.clientWidth]")
    assert tabs[0] <= tabs[1], tabs

    # The language switch: the page reloads in English and focus is on the view's heading.
    await mo.locator("#lang-select").select_option("en")
    await expect(mo.get_by_role("tab", name="Moderation (1)")).to_be_visible()
    await expect(mo.locator("#room-title")).to_be_focused()
    await mo.locator("#lang-select").select_option("es")
    await expect(mo.get_by_role("tab", name="Moderación (1)")).to_be_visible()
    await expect(mo.locator("#room-title")).to_be_focused()
    assert failing == [], "\n".join(failing)
    assert problems == [], "\n".join(problems)


async def test_server_words_reach_a_spanish_member_in_spanish(site, person):
    """Held and rejected notices, redaction markers and a removal name nothing in program
    words: a Spanish member reads them in Spanish (the rejection chosen by an English
    moderator from a preset too), with the room's display name."""
    from tests.browser.test_translation import catalogue

    es = catalogue("es")
    community = community_with_two_rooms(site)
    mo = await person("Mo", community, "moderator")
    ana = await person("Ana", community, viewport=PHONE, locale="es-ES", bypass_csp=True)
    await go_to_room(ana, "Quiet garden")
    await say(ana, "mirad https://example.org/paseo")
    notice = ana.locator(".own-held", has_text="mirad")
    await expect(notice).to_contain_text(es["notice_code.held_link"])
    await mo.get_by_role("tab", name="Moderation (1)").click()
    hold = mo.locator("#panel-mod .item", has_text="example.org/paseo")
    await expect(hold).to_contain_text("A link to a site that is not on the allowed list")
    await hold.get_by_role("button", name="Reject…").click()
    await mo.get_by_role("dialog").get_by_role("button", name="Reject").click()
    rejected = ana.locator(".own-rejected")
    await expect(rejected).to_contain_text(es["reject.link_unknown"])

    await go_to_room(ana, "Lobby")
    await say(ana, "llamadme al +44 20 7946 0958 por la tarde")
    await expect(messages(ana)).to_contain_text("[oculto: número de teléfono]")
    await expect(messages(ana)).not_to_contain_text("phone hidden")
    await mo.get_by_role("tab", name="Chat").click()
    await go_to_room(mo, "Lobby")
    await expect(messages(mo)).to_contain_text("[phone number hidden]")
    item = messages(mo).locator(".msg", has_text="llamadme")
    await item.locator("summary").click()
    await item.get_by_role("button", name="Remove author from room").click()
    await mo.get_by_role("dialog").get_by_role("button", name="Remove").click()
    await expect(ana.locator(".own-info")).to_contain_text("te sacó de Lobby")
    page_text = await ana.locator("body").inner_text()
    assert f"{community}:" not in page_text and "rpc " not in page_text and "bad request" not in page_text
    failing = await axe_every_rule(ana, "Spanish member after a rejection, a redaction and a removal, 375x812")
    await ana.set_viewport_size(SMALL)
    problems = await reflow_problems(ana, "Spanish member, 320 px")
    assert failing == [], "\n".join(failing)
    assert problems == [], "\n".join(problems)


async def test_a_second_moderators_fresh_console_names_people(site, person):
    """Dee posts, is muted and leaves; a second moderator opening a fresh browser reads her
    name (the server's directory of recent members), never "not seen recently" or an id."""
    community = community_with_two_rooms(site)
    dee = await person("Dee Daly", community)
    mo = await person("Mo", community, "moderator")
    await go_to_room(dee, "Lobby")
    await go_to_room(mo, "Lobby")
    await send(dee, "morning all")
    item = messages(mo).locator(".msg", has_text="morning all")
    await item.locator("summary").click()
    await item.get_by_role("button", name="Mute author…").click()
    await mo.get_by_role("dialog").get_by_role("button", name="Mute").click()
    await expect(dee.locator("#mute-banner")).to_be_visible()
    await dee.context.close()
    flo = await person("Flo", community, "moderator", viewport=PHONE, bypass_csp=True)
    await flo.get_by_role("tab", name="Moderation").click()
    audit = flo.get_by_role("table")
    await expect(audit).to_contain_text("Muted")
    await expect(audit).to_contain_text("Dee Daly")
    await expect(flo.locator(".sanctions")).to_contain_text("Muted: Dee Daly")
    panel = await flo.locator("#panel-mod").inner_text()
    assert "not seen recently" not in panel and "dev-dee" not in panel and "mute" not in panel.split("\n"), panel
    failing = await axe_every_rule(flo, "second moderator's console, 375x812")
    assert failing == [], "\n".join(failing)
