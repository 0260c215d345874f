"""A member's crisis resources stay, in her language, and the panel tells the truth (issue 25,
items 1 and 2), in a real browser at 1280x860 and 375x812, in English and Spanish:

- after a reload the server gives her resources back (support.resources, not browser storage),
  folded, with the first helpline a tap-to-call link in view; "Support resources" in the header
  opens them again at any time;
- the panel follows her case: acknowledged, a moderator talking with her, closed; closing asks
  the moderator what becomes of the held message (here: not posted, with a reason she sees);
  the closed conversation's message box is closed and says so, with the resources one click away.
Every state passes the accessibility audit.
"""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser import experience
from tests.browser.a11y import axe_audit
from tests.browser.experience import CRISIS, DESKTOP, PHONE, inside_window, room
from tests.harness import ServerProcess

person = experience.person
COMMUNITY = "apoyo"

CONFIG = f"""
[moderation]
mute_min = 1

[crisis]
resources_linger = 600

[[communities]]
name = "{COMMUNITY}"
title = "Apoyo"

[[communities.resources]]
locale = "es-MX"
name = "Línea de la Vida"
contact = "800 911 2000"

[[communities.resources]]
locale = "en-GB"
name = "Samaritans"
contact = "116 123"
url = "https://www.samaritans.org"
"""

WORDS = {
    "en-GB": {
        "helpline": "Samaritans", "tel": "tel:116123", "button": "Support resources", "close": "Close",
        "open": "A moderator has been told", "acknowledged": "A moderator has seen this",
        "talking": "A moderator is talking with you", "closed": "The moderators have closed this",
        "composer_closed": "This private conversation has ended",
    },
    "es-MX": {
        "helpline": "Línea de la Vida", "tel": "tel:8009112000", "button": "Recursos de apoyo", "close": "Cerrar",
        "open": "Se ha avisado a un moderador", "acknowledged": "Un moderador lo ha visto",
        "talking": "Un moderador está hablando contigo", "closed": "Los moderadores han cerrado esto",
        "composer_closed": "Esta conversación privada ha terminado",
    },
}


async def send(page, text: str) -> None:
    """Write and send, whatever language the page speaks (once the page is in its room)."""
    await expect(page.locator("#room-title")).not_to_have_text("…")
    await page.locator("#composer-text").fill(text)
    await page.locator("#composer-text").press("Enter")


@pytest.fixture(scope="module")
def site(valkey, tmp_path_factory):
    config = tmp_path_factory.mktemp("resources") / "chatserver.toml"
    config.write_text(CONFIG)
    server = ServerProcess(valkey.url, args=["--dev", "--config", str(config)], name="web-resources")
    server.wait_ready()
    server.make_room(COMMUNITY, "lobby")
    yield server
    server.stop()


@pytest.mark.parametrize(("viewport", "locale", "name"), [(PHONE, "es-MX", "Lucía"), (DESKTOP, "en-GB", "Hannah")])
async def test_resources_come_back_after_a_reload_in_her_language(person, viewport, locale, name):
    words = WORDS[locale]
    page = await person(name, COMMUNITY, viewport=viewport, locale=locale, bypass_csp=True)
    panel = page.locator("#crisis")
    await send(page, CRISIS)
    await expect(panel).to_contain_text(words["helpline"])
    if locale.startswith("es"):
        await expect(panel).to_contain_text("Tu mensaje")  # the crisis hook's notice, in Spanish

    # A reload: the page asks the server, and her resources come back folded.
    await page.reload()
    await expect(page.locator("#conn-status")).to_have_attribute("data-state", "connected")
    call = panel.locator(f'a[href="{words["tel"]}"]')
    await expect(call).to_be_visible()
    await inside_window(page, call, f"first helpline after a reload, {viewport}")
    assert await axe_audit(page, f"resources after a reload, {locale}") == []

    # Closed: the header's "Support resources" brings them back, whole, where her case stands.
    await panel.get_by_role("button", name=words["close"], exact=True).click()
    await expect(panel).to_be_hidden()
    await page.get_by_role("button", name=words["button"]).click()
    await expect(panel).to_contain_text(words["open"])
    await expect(panel.locator("h2")).to_be_focused()
    await expect(panel.locator(f'a[href="{words["tel"]}"]')).to_be_visible()
    assert await axe_audit(page, f"resources reopened from the header, {locale}") == []


@pytest.mark.parametrize(("viewport", "locale", "name"), [(DESKTOP, "en-GB", "Ruth"), (PHONE, "es-MX", "Marta")])
async def test_the_panel_follows_her_case_and_a_closed_conversation_says_so(person, site, viewport, locale, name):
    words = WORDS[locale]
    community, _ = room(site)
    mo = await person("Mo", community, "moderator", locale="en-GB", bypass_csp=True)
    member = await person(name, community, viewport=viewport, locale=locale, bypass_csp=True)
    panel = member.locator("#crisis")
    await send(member, CRISIS)
    await expect(panel).to_be_visible()

    await mo.get_by_role("tab", name="Moderation (1)").click()
    case = mo.locator("#case-list .item", has_text="can't go on")
    await case.get_by_role("button", name="Acknowledge").click()
    await expect(panel).to_contain_text(words["acknowledged"])
    await case.get_by_role("button", name="Talk privately").click()
    await expect(panel).to_contain_text(words["talking"])
    assert await axe_audit(member, f"a moderator is talking with her, {locale}") == []

    # Closing asks what becomes of her held message: not posted, with a reason she reads.
    await mo.get_by_role("tab", name="Moderation").click()
    await case.get_by_role("button", name="Close…").click()
    dialog = mo.get_by_role("dialog")
    await dialog.get_by_label("Held messages of this case").select_option("reject")
    await dialog.get_by_label("Why they are not posted (the member sees this)").fill("We talked in private instead")
    await dialog.get_by_role("button", name="Close case").click()
    await expect(case).to_contain_text("Closed")
    await expect(panel).to_contain_text(words["closed"])
    await expect(member.locator(".own-rejected").first).to_contain_text("We talked in private instead")

    # The closed conversation: the box is closed, in words, with her resources one click away.
    box = member.locator("#composer-text")
    await expect(box).to_have_attribute("readonly", "")
    banner = member.locator("#mute-banner")
    await expect(banner).to_contain_text(words["composer_closed"])
    await panel.get_by_role("button", name=words["close"], exact=True).first.click()
    await banner.get_by_role("button", name=words["button"]).click()
    await expect(panel.locator("h2")).to_be_focused()
    await expect(panel).to_contain_text(words["closed"])
    assert await axe_audit(member, f"closed case and conversation, {locale}") == []
    assert await axe_audit(mo, "console after closing a case with its hold") == []
