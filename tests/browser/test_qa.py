"""The Q&A view in a real browser: a host runs a session, members ask (one anonymously) and
upvote, a moderator screens, the host answers; nobody sees who asked anonymously."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.a11y import axe_audit
from tests.harness import unique


async def open_qa(page):
    await page.get_by_role("tab", name="Q&A").click()
    await expect(page.get_by_role("tabpanel", name="Q&A")).to_be_visible()


async def ask(page, text: str, anonymous: bool = False) -> None:
    await page.get_by_label("Your question").fill(text)
    if anonymous:
        await page.get_by_label("Ask anonymously").check()
    await page.get_by_role("button", name="Ask", exact=True).click()
    await expect(page.get_by_role("tabpanel", name="Q&A").get_by_role("status")).to_contain_text("waiting to be screened")


def question(page, text: str):
    return page.locator("article.question", has_text=text)


async def test_qa_round_with_an_anonymous_question(web, open_page):
    community = unique("web")
    web.make_room(community, "clinic")
    # bypass_csp: the accessibility audit injects axe-core into the host's and Ben's pages.
    host = await open_page("Dr Rivera", community, "host", bypass_csp=True)
    mo = await open_page("Mo", community, "moderator")
    ann = await open_page("Ann", community)
    ben = await open_page("Ben", community, bypass_csp=True)
    for page in (host, mo, ann, ben):
        await open_qa(page)

    # The host creates and starts a session; everyone sees it go live.
    await host.get_by_role("button", name="New session…").click()
    dialog = host.get_by_role("dialog", name="New Q&A session")
    await dialog.get_by_label("Title").fill("Fatigue and sleep with MS")
    await dialog.get_by_role("button", name="Create").click()
    await host.get_by_role("button", name="Start session").click()
    for page in (host, mo, ann, ben):
        await expect(page.get_by_role("heading", name="Fatigue and sleep with MS")).to_contain_text("Live now")
        await expect(page.locator(".qa-hosts")).to_contain_text("Dr Rivera")
        await expect(page.locator(".qa-hosts")).to_contain_text("Verified professional")

    # Members ask; Ann anonymously. Questions wait for screening.
    await ask(ann, "Is it normal to feel exhausted after a short walk?", anonymous=True)
    await ask(ben, "Does melatonin interact with MS treatments?")
    screening = mo.get_by_role("region", name="Waiting for screening")
    await expect(screening.locator(".item")).to_have_count(2)
    await expect(screening.locator(".item", has_text="exhausted")).to_contain_text("Anonymous")
    await expect(ann.locator("article.question")).to_have_count(0)

    # The moderator screens both onto the board.
    for text in ("exhausted", "melatonin"):
        await screening.locator(".item", has_text=text).get_by_role("button", name="Publish").click()
    await expect(screening.locator(".item")).to_have_count(0)
    for page in (host, ann, ben):
        await expect(page.locator("article.question")).to_have_count(2)
        await expect(question(page, "exhausted")).to_contain_text("Anonymous")
        await expect(question(page, "melatonin")).to_contain_text("Ben")

    # Upvotes: Ben and the moderator vote for Ann's question; it leads the popular sort.
    await question(ben, "exhausted").get_by_role("button", name="Upvote").click()
    await expect(question(ben, "exhausted").get_by_role("button", name="Upvote")).to_have_attribute("aria-pressed", "true")
    await question(mo, "exhausted").get_by_role("button", name="Upvote").click()
    await question(ann, "melatonin").get_by_role("button", name="Upvote").click()
    for page in (host, ann, ben):
        await expect(question(page, "exhausted").get_by_role("button", name="Upvote")).to_contain_text("2")
        await expect(page.locator(".qa-board article.question").first).to_contain_text("exhausted")
    await ann.get_by_label("Recent").check()
    await expect(ann.locator(".qa-board article.question").first).to_contain_text("melatonin")

    # The host answers the top question: answering now for everyone, then the answer.
    await question(host, "exhausted").get_by_role("button", name="Answering now").click()
    for page in (ann, ben):
        answering = page.get_by_role("region", name="Answering now")
        await expect(answering).to_contain_text("exhausted")
    await host.get_by_role("region", name="Answering now").get_by_role("button", name="Answer…").click()
    dialog = host.get_by_role("dialog")
    await dialog.get_by_label("Answer").fill("Yes, fatigue after light effort is common with MS. Pace your day.")
    await dialog.get_by_role("button", name="Publish answer").click()
    for page in (ann, ben):
        answered = page.get_by_role("region", name="Answered")
        await expect(answered).to_contain_text("Pace your day")
        await expect(answered).to_contain_text("General information, not medical advice")
        await expect(page.get_by_role("region", name="Answering now")).to_be_hidden()

    # The board passes the accessibility audit for the host and a member.
    assert await axe_audit(host, "Q&A host, question answered") == []
    assert await axe_audit(ben, "Q&A member, question answered") == []

    # Nobody but moderators can learn who asked anonymously: no page shows Ann's name on it.
    for page in (host, ben, ann):
        await expect(question(page, "exhausted")).not_to_contain_text("Ann")
        assert "dev-ann" not in await page.locator("#panel-qa").inner_text()
    await question(mo, "exhausted").get_by_role("button", name="Who asked?").click()
    dialog = mo.get_by_role("dialog")
    await dialog.get_by_label("Why do you need to know?").fill("safety check")
    await dialog.get_by_role("button", name="Look up").click()
    await expect(mo.get_by_role("tabpanel", name="Q&A").get_by_role("status")).to_contain_text("asked by Ann")

    # Stage mode: members' room posts are refused with a way to the board.
    await host.get_by_role("button", name="Stage mode").click()
    await expect(host.get_by_role("button", name="Stage mode")).to_have_attribute("aria-pressed", "true")
    await ben.get_by_role("tab", name="Chat").click()
    await ben.get_by_role("textbox", name="Write a message").fill("can I still post here?")
    await ben.get_by_role("textbox", name="Write a message").press("Enter")
    refused = ben.locator(".own-failed", has_text="can I still post here?")
    await expect(refused).to_contain_text("Only the hosts can post in this room now")
    await refused.get_by_role("button", name="Ask on the Q&A board").click()
    await expect(ben.get_by_role("tabpanel", name="Q&A")).to_be_visible()
    await expect(ben.get_by_label("Your question")).to_be_visible()

    # The host ends the session; voting closes.
    await host.get_by_role("button", name="End session").click()
    for page in (ann, ben):
        await expect(page.get_by_role("heading", name="Fatigue and sleep with MS")).to_contain_text("Ended")
        await expect(page.get_by_label("Your question")).to_be_hidden()


async def test_crisis_question_brings_resources_and_a_hold_and_a_redacted_one_says_so(web, open_page):
    community = unique("web")
    web.make_room(community, "clinic")
    host = await open_page("Dr Rivera", community, "host")
    mo = await open_page("Mo", community, "moderator")
    ann = await open_page("Ann", community)
    for page in (host, mo, ann):
        await open_qa(page)
    await host.get_by_role("button", name="New session…").click()
    await host.get_by_role("dialog").get_by_label("Title").fill("Evening questions")
    await host.get_by_role("dialog").get_by_role("button", name="Create").click()
    await host.get_by_role("button", name="Start session").click()
    await expect(ann.get_by_role("heading", name="Evening questions")).to_contain_text("Live now")

    await ann.get_by_label("Your question").fill("Honestly some days I want to die, is that the MS?")
    await ann.get_by_label("Ask anonymously").check()
    await ann.get_by_role("button", name="Ask", exact=True).click()
    # Resources show above whichever view Ann is on; the question is held, privately.
    crisis = ann.get_by_role("alert").filter(has_text="not alone")
    await expect(crisis).to_be_visible()
    await expect(crisis).to_contain_text("Samaritans")
    await expect(ann.get_by_role("list", name="Notices about what you asked")).to_contain_text("Question held for review")
    # The moderator sees a high-priority hold of kind question; the host sees nothing of it.
    await mo.get_by_role("tab", name="Moderation (1)").click()
    hold = mo.locator(".item.priority-high", has_text="some days I want to die")
    await expect(hold).to_contain_text("question")
    await expect(host.get_by_role("region", name="Waiting for screening")).not_to_contain_text("want to die")
    await expect(host.locator("article.question")).to_have_count(0)
