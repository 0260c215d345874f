"""Issue 15, translation, in a real browser: both catalogues (English and Spanish) have every
key the client uses; each view renders in Spanish and in English (the crisis cases and a
private conversation on both sides included) with no untranslated key, no English left in
the Spanish page, and times in the page's language."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser import experience
from tests.browser.experience import (
    CRISIS,
    PHONE,
    STATIC,
    moderation,
    room,
)

# The module's server and its signed-in pages (fixtures shared with the other issue-15 file).
site = experience.site
person = experience.person


def catalogue(lang: str) -> dict[str, str]:
    text = (STATIC / "js" / "lang" / f"{lang}.js").read_text()
    return dict(re.findall(r'^\s*"([a-z_.]+)": "((?:[^"\\]|\\.)*)",?$', text, re.M))


def test_both_catalogues_have_every_key_the_client_uses():
    en, es = catalogue("en"), catalogue("es")
    assert en.keys() == es.keys(), sorted(en.keys() ^ es.keys())
    used = set()
    for path in (STATIC / "js").glob("*.js"):
        used |= set(re.findall(r'\bt\("([a-z_.]+)"', path.read_text()))
    used |= set(re.findall(r'data-i18n[a-z-]*="([a-z_.]+)"', (STATIC / "index.html").read_text()))
    missing = sorted(k for k in used if k not in en and f"{k}.other" not in en)
    assert missing == []
    # And the catalogues are not copies: most values differ.
    same = [k for k in en if en[k] == es[k]]
    assert len(same) < 0.1 * len(en), same


VISIBLE_WORDS = """(marker) => {
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest("[hidden], script, style, .msg-text, .msg-quote, .item-text, .own-text, option")) continue;
    if (n.textContent.trim()) out.push(n.textContent.trim());
  }
  for (const el of document.querySelectorAll("[aria-label], [placeholder], [title], option")) {
    for (const attr of ["aria-label", "placeholder", "title"]) if (el.getAttribute(attr)) out.push(el.getAttribute(attr));
    if (el.tagName === "OPTION") out.push(el.textContent);
  }
  return out.join("\\n");
}"""


async def views_text(page, tabs) -> str:
    """The words of every view the page's role has (and an open dialog)."""
    texts = [await page.evaluate(VISIBLE_WORDS)]
    for tab in tabs:
        await page.get_by_role("tab").nth(tab).click()
        await page.wait_for_timeout(300)
        texts.append(await page.evaluate(VISIBLE_WORDS))
    if tabs:
        await page.get_by_role("tab").first.click()
    return "\n".join(texts)


async def test_every_view_renders_in_spanish_and_english_with_no_untranslated_key(site, person):
    community, _ = room(site)
    moderation(site, community, {"hooks": {"links": {"mode": "hold"}}})
    en, es = catalogue("en"), catalogue("es")
    # English words that would give away an untranslated string in the Spanish page.
    english_only = {v for k, v in en.items() if v != es[k] and len(v) >= 12 and "{" not in v}

    # Spanish from the browser's language (locale es-ES), no switch touched.
    newcomer = await person("x", community, signed_in=False, locale="es-ES")
    await expect(newcomer.get_by_role("button", name="Entrar")).to_be_visible()
    assert await newcomer.evaluate("document.documentElement.lang") == "es"
    pages = {"sign-in": (newcomer, [])}
    mo = await person("Mo", community, "moderator", locale="es-ES")
    ann = await person("Ann", community, locale="es-ES")
    hal = await person("Dr Hal", community, "host", locale="es-ES", viewport=PHONE)
    for text in ("hola a todos", "mirad https://example.org/x", CRISIS):
        await ann.locator("#composer-text").fill(text)
        await ann.locator("#composer-text").press("Enter")
    await expect(ann.get_by_role("alert")).to_contain_text("No estás solo")
    await hal.get_by_role("tab", name="Preguntas").click()
    await hal.get_by_role("button", name="Nueva sesión…").click()
    await hal.get_by_role("dialog").get_by_role("button", name="Crear").click()
    await hal.get_by_role("button", name="Empezar la sesión").click()
    await expect(hal.get_by_role("button", name="Terminar la sesión")).to_be_visible()
    await expect(mo.get_by_role("tab", name="Moderación (2)")).to_be_visible()
    # Ann's crisis case in the console, taken, and a private conversation on both sides; times
    # in the page's language.
    await mo.get_by_role("tab", name="Moderación (2)").click()
    case = mo.locator("#case-list .item", has_text="Ann")
    await expect(case).to_contain_text("Esperando a un moderador")
    await expect(case).to_contain_text("abierto ahora mismo")
    since = "async (ago) => (await import(new URL('js/cases.js', location.href))).openedSince(Date.now() - ago)"
    assert await mo.evaluate(since, 3 * 86400_000) == "abierto hace 3 días"
    assert await mo.evaluate(since, 125 * 60_000) == "abierto hace 2 h 5 min"
    await case.get_by_role("button", name="Atender").click()
    await expect(case).to_contain_text("Lo atiende Mo")
    await case.get_by_role("button", name="Hablar en privado").click()
    await expect(mo.locator("#private-note")).to_contain_text("Conversación privada con Ann")
    await expect(ann.locator("#room-title")).to_have_text("Conversación privada de apoyo")
    await expect(ann.locator("#private-note")).to_be_visible()
    pages.update({"member": (ann, [1]), "moderator": (mo, [1, 2]), "host": (hal, [1])})

    problems = []
    for view, (page, tabs) in pages.items():
        words = await views_text(page, tabs)
        if view == "moderator":
            # The console shows every room: the lobby's hold is there; then back to the conversation.
            await page.get_by_role("button", name="lobby").click()
            await page.get_by_role("tab").nth(2).click()
            await page.locator(".item", has_text="example.org").get_by_role("button", name="Rechazar…").click()
            words += "\n" + await page.evaluate(VISIBLE_WORDS)
            await page.keyboard.press("Escape")
            await page.locator("#case-list .item").get_by_role("button", name="Cerrar caso…").click()
            words += "\n" + await page.evaluate(VISIBLE_WORDS)
            await page.keyboard.press("Escape")
            await page.get_by_role("tab").first.click()
            await page.get_by_role("button", name="Apoyo: Ann").click()
            await expect(page.locator("#private-note")).to_be_visible()
        problems += [f"{view}: untranslated {m}" for m in re.findall(r"⟦[^⟧]*⟧", words)]
        problems += [f"{view}: English left: {v!r}" for v in english_only if v in words]

    # The switch in the top bar: the same pages in English (they reload, still signed in).
    for view, (page, tabs) in pages.items():
        await page.get_by_label("Idioma").select_option("en")
        await expect(page.get_by_label("Language")).to_have_value("en")
        assert await page.evaluate("document.documentElement.lang") == "en"
        if view != "sign-in":
            await expect(page.locator("#conn-status")).to_have_text("Connected")
        if view in ("member", "moderator"):  # back in the private conversation after the reload
            await expect(page.locator("#private-note")).to_be_visible()
        words = await views_text(page, tabs)
        problems += [f"{view} (en): untranslated {m}" for m in re.findall(r"⟦[^⟧]*⟧", words)]
    await expect(ann.get_by_role("tab", name="Chat")).to_be_visible()
    await expect(mo.get_by_role("tab", name="Moderation")).to_be_visible()  # the conversation holds nothing
    # Reloaded in English, both are back in the private conversation.
    await expect(ann.locator("#room-title")).to_have_text("Private support conversation")
    await expect(mo.locator("#room-title")).to_have_text("Support: Ann")
    assert problems == [], "\n".join(problems)


