"""Accessibility checks for the browser tests.

``axe_audit(page)`` runs the vendored axe-core (tests/browser/vendor, pinned and checked by
scripts/build_webclient.py) with the WCAG 2.0 and 2.1 level A and AA rules, plus the in-page
check for leaked program values (page_checks.js); it returns the serious and critical
violations and prints every violation. ``reflow_problems(page)`` measures WCAG 1.4.10.
``focus_is`` and ``tab_until`` follow keyboard focus (never on <body>).

axe is injected as a script tag. The page's Content-Security-Policy allows only its own
scripts, so the page must come from a browser context opened with ``bypass_csp=True``: the
test context ignores the policy, the page keeps it (it is never weakened).
"""

from __future__ import annotations

import json
from pathlib import Path

from playwright.async_api import expect

HERE = Path(__file__).parent
AXE_MANIFEST = json.loads((HERE / "vendor" / "axe-core.json").read_text())
AXE_SOURCE = (HERE / "vendor" / "axe.min.js").read_text()
PAGE_CHECKS = (HERE / "page_checks.js").read_text()
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING = {"serious", "critical"}

RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map((n) => n.target.join(" ") + (n.failureSummary ? " (" + n.failureSummary.replace(/\\s+/g, " ") + ")" : "")),
  }));
}"""


async def _inject_axe(page) -> None:
    if await page.evaluate("typeof window.axe === 'object'"):
        return
    try:
        await page.add_script_tag(content=AXE_SOURCE)
    except Exception as exc:
        raise AssertionError(
            "could not inject axe-core: open the page with open_page(..., bypass_csp=True) "
            f"(the page's CSP blocks other scripts): {exc}"
        ) from exc
    if not await page.evaluate("typeof window.axe === 'object'"):
        raise AssertionError("axe-core did not load: open the page with bypass_csp=True")


async def axe_audit(page, state: str = "") -> list[str]:
    """Serious and critical problems in the page as it is now (and print all of them)."""
    await _inject_axe(page)
    violations = await page.evaluate(RUN_AXE, WCAG_TAGS)
    failing = []
    for v in violations:
        for target in v["targets"]:
            line = f"[{state}] axe {v['id']} ({v['impact']}): {v['help']} -> {target}"
            print(line)
            if v["impact"] in FAILING:
                failing.append(line)
    for leak in await page.evaluate(PAGE_CHECKS, "leaks"):
        line = f"[{state}] {leak}"
        print(line)
        failing.append(line)
    return failing


async def reflow_problems(page, state: str = "") -> list[str]:
    return [f"[{state}] {p}" for p in await page.evaluate(PAGE_CHECKS, "reflow")]


FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return "<body>";
  return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " " + (el.getAttribute("aria-label") || el.textContent || "").trim().slice(0, 60);
}"""


async def focus_is(page, locator) -> None:
    """Focus is on ``locator`` (and so not on <body>)."""
    await expect(locator).to_be_focused()
    assert await page.evaluate(FOCUSED) != "<body>"


async def tab_until(page, locator, limit: int = 25, key: str = "Tab") -> None:
    """Press Tab (or ``key``, e.g. Shift+Tab) until ``locator`` has focus, never passing
    through <body>."""
    for _ in range(limit):
        await page.keyboard.press(key)
        assert await page.evaluate(FOCUSED) != "<body>", "Tab reached <body>"
        if await locator.evaluate("(el) => el === document.activeElement"):
            return
    raise AssertionError(f"{limit} Tabs did not reach {locator}; focus is on {await page.evaluate(FOCUSED)}")


async def enter_then_escape(page, dialog, first, back) -> None:
    """Enter (on the focused opener) opens ``dialog`` with focus on its field ``first``;
    Escape closes it and focus is on ``back``."""
    await page.keyboard.press("Enter")
    await focus_is(page, first)
    await page.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    await focus_is(page, back)
