#!/usr/bin/env python3
"""Make the README's screenshots of the web client by driving the same browser the tests use.

Starts ``chatserver run --dev`` on a free port with its own embedded Valkey in a temporary
data dir, sets up a community through the HTTP API, signs in five people in Debian's
Chromium (Playwright for Python), plays a short evening in a support room, and saves:

- docs/screenshots/member.png              the member view (a reply, support reactions, a
                                           member's own notices)
- docs/screenshots/member-phone.png        the same at phone width (375 px)
- docs/screenshots/member-crisis.png       crisis resources beside the conversation, with the
                                           message box and the notices in view (1280x860)
- docs/screenshots/member-crisis-phone.png the same at 375x812: the panel on top, Close in reach
- docs/screenshots/moderator.png           the moderator console (a crisis case above the hold
                                           queue, a crisis hold, a link hold, a report)
- docs/screenshots/qa.png                  the host's Q&A view during a live session

    python scripts/screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
API_KEY = "screenshots-api-key-" + "k" * 16
COMMUNITY = "ms"
WIDE = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 812}
TALL = {"width": 1280, "height": 1080}  # the console and the Q&A board need more height


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, CHATSERVER_API_KEY=API_KEY, CHATSERVER_LOG_LEVEL="warning")
        env.pop("CHATSERVER_SECRET", None)
        cmd = [sys.executable, "-m", "chatserver", "run", "--dev", "--no-demo", "--port", str(self.port), "--data-dir", data_dir]
        self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"the server exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        sys.exit("the server did not become ready in 30 s")

    def api(self, method: str, path: str, body: dict) -> None:
        r = httpx.request(method, self.url + path, json=body, headers={"X-API-Key": API_KEY}, timeout=10)
        if r.status_code >= 300:
            sys.exit(f"{method} {path}: {r.status_code} {r.text}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def setup(server: Server) -> None:
    server.api("PUT", f"/api/communities/{COMMUNITY}", {"title": "Living with MS"})
    rooms = [("evening", "Evening chat"), ("newly-diagnosed", "Newly diagnosed"), ("clinic", "Ask the clinic")]
    for name, title in rooms:
        server.api("PUT", f"/api/communities/{COMMUNITY}/rooms/{name}", {"title": title, "settings": {"join_leave": True}})
    # Links in the evening room wait for a moderator (shows a second kind of hold).
    server.api("PUT", f"/api/communities/{COMMUNITY}/rooms/evening/moderation", {"hooks": {"links": {"mode": "hold"}}})


def sign_in(browser, url: str, name: str, role: str, room: str, viewport=WIDE, scheme: str = "light") -> Page:
    context = browser.new_context(viewport=viewport, color_scheme=scheme)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(f"{url}/?room={COMMUNITY}:{room}")
    page.get_by_label("Display name").fill(name)
    page.get_by_label("Community", exact=True).select_option(COMMUNITY)
    page.get_by_label("Role", exact=True).select_option(role)
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#conn-status")).to_have_text("Connected")
    expect(page.get_by_role("heading", level=1)).not_to_have_text("…")
    return page


def say(page: Page, text: str, *, shown: bool = True) -> None:
    """Send ``text``; wait until it is in the room unless moderation keeps it back."""
    box = page.get_by_role("textbox", name="Write a message")
    box.fill(text)
    box.press("Enter")
    if shown:
        expect(page.get_by_role("log")).to_contain_text(text[:20])
    page.wait_for_timeout(150)


def react(page: Page, text: str, action: str) -> None:
    """Pick ``action`` (a reaction, or Reply) in the menu of the message containing ``text``."""
    item = page.get_by_role("log").locator(".msg", has_text=text)
    item.locator("summary").click()
    item.get_by_role("button", name=action).click()
    page.wait_for_timeout(150)


def reply(page: Page, text: str, answer: str) -> None:
    react(page, text, "Reply")
    say(page, answer, shown=False)


def member_scene(url: str, browser, out: Path) -> dict[str, Page]:
    pages = {
        "mo": sign_in(browser, url, "Mo (moderator)", "moderator", "evening"),
        "ben": sign_in(browser, url, "Ben", "member", "evening"),
        "carla": sign_in(browser, url, "Carla", "member", "evening"),
        "ann": sign_in(browser, url, "Ann", "member", "evening"),
    }
    ann, ben, carla, mo = pages["ann"], pages["ben"], pages["carla"], pages["mo"]
    say(mo, "Good evening, everyone. This room is open until 11 pm; be kind to yourselves.")
    say(ben, "Evening all. Rough day with the fatigue again.")
    say(carla, "Same here. I've started pacing: 20 minutes on, 10 off. It helps a bit.")
    say(ann, "Hi, I'm new here. I was diagnosed in March and still taking it all in.")
    say(ben, "Welcome, Ann. It gets easier to talk about, honestly.")
    react(carla, "Welcome, Ann", "React: ♥ Heart")
    react(mo, "Welcome, Ann", "React: ♥ Heart")
    react(ann, "pacing", "React: Thanks")
    react(ben, "pacing", "React: Same here")
    reply(ann, "pacing", "Thank you. Does the pacing help on work days too? If anyone wants to talk, text me on 07700 900123")
    expect(ann.locator(".own-redacted")).to_be_visible()
    carla.get_by_role("textbox", name="Write a message").press_sequentially("That pacing trick", delay=30)
    expect(ann.locator("#typing")).to_contain_text("Carla is typing")
    ann.screenshot(path=str(out / "member.png"))
    phone = sign_in(browser, url, "Dee", "member", "evening", viewport=PHONE)
    expect(phone.get_by_role("log")).to_contain_text("text me on")
    phone.get_by_role("log").evaluate("el => el.scrollTop = el.scrollHeight")
    phone.screenshot(path=str(out / "member-phone.png"))
    return pages


def moderator_scene(url: str, pages: dict[str, Page], out: Path) -> None:
    ann, ben, carla, mo = pages["ann"], pages["ben"], pages["carla"], pages["mo"]
    say(carla, "Some nights I just want to end my life. I'm so tired of all of it.", shown=False)
    expect(carla.get_by_role("alert").filter(has_text="not alone")).to_be_visible()
    say(ben, "This helped me a lot: https://example.org/ms-fatigue-guide", shown=False)
    say(ben, "Buy my miracle supplement, it cures MS in a week!")
    expect(ann.get_by_role("log")).to_contain_text("miracle supplement")
    item = ann.get_by_role("log").locator(".msg", has_text="miracle supplement")
    item.locator("summary").click()
    item.get_by_role("button", name="Report to moderators").click()
    dialog = ann.get_by_role("dialog", name="Report this message")
    dialog.get_by_label("What is wrong?").select_option("misinformation")
    dialog.get_by_role("button", name="Send report").click()
    expect(ann.locator(".own-info")).to_contain_text("reached the moderators")
    mo.get_by_role("tab", name="Moderation (2)").click()
    expect(mo.locator(".item", has_text="miracle supplement")).to_be_visible()
    mo.get_by_label("Find a member by name").fill("be")
    mo.get_by_label("Member", exact=True).select_option(label="Ben")
    mo.get_by_role("button", name="Mute", exact=True).click()
    mo.get_by_role("button", name="Lift mute").click()
    mo.get_by_label("Slow mode").select_option("10")
    mo.get_by_role("button", name="Apply slow mode").click()
    expect(mo.locator("table")).to_contain_text("Slow mode changed")
    mo.set_viewport_size(TALL)
    # The top of the console: Carla's crisis case above the hold queue.
    expect(mo.get_by_role("region", name="Crisis cases").locator(".item", has_text="Carla")).to_contain_text("Waiting for a moderator")
    mo.locator("#panel-mod").evaluate("el => { el.scrollTop = 0; }")
    mo.wait_for_timeout(500)
    mo.screenshot(path=str(out / "moderator.png"))
    # The crisis view: resources beside the conversation on a desktop, on top on a phone; the
    # message box and the newest notice stay in view either way.
    carla.locator("#composer-text").focus()
    carla.screenshot(path=str(out / "member-crisis.png"))
    carla.set_viewport_size(PHONE)
    carla.wait_for_timeout(300)
    carla.screenshot(path=str(out / "member-crisis-phone.png"))


def qa_scene(url: str, browser, out: Path) -> None:
    host = sign_in(browser, url, "Dr Rivera", "host", "clinic")
    mo = sign_in(browser, url, "Mo (moderator)", "moderator", "clinic")
    members = [sign_in(browser, url, name, "member", "clinic") for name in ("Ann", "Ben", "Carla", "Dee")]
    for page in (host, mo, *members):
        page.get_by_role("tab", name="Q&A").click()
    host.get_by_role("button", name="New session…").click()
    host.get_by_role("dialog").get_by_label("Title").fill("Fatigue and sleep with MS")
    host.get_by_role("dialog").get_by_role("button", name="Create").click()
    host.get_by_role("button", name="Start session").click()
    questions = [
        (members[0], "Is it normal to feel exhausted after a short walk?", True),
        (members[1], "Does melatonin interact with disease-modifying treatments?", False),
        (members[2], "How do you tell MS fatigue apart from depression?", False),
        (members[3], "Is a short nap after lunch a good idea or does it make nights worse?", False),
    ]
    for page, text, anonymous in questions:
        page.get_by_label("Your question").fill(text)
        page.get_by_label("Ask anonymously").set_checked(anonymous)
        page.get_by_role("button", name="Ask", exact=True).click()
        expect(page.get_by_role("tabpanel", name="Q&A").get_by_role("status")).to_contain_text("screened")
    screening = mo.get_by_role("region", name="Waiting for screening")
    expect(screening.locator(".item")).to_have_count(4)
    for _ in range(4):
        screening.locator(".item").first.get_by_role("button", name="Publish").click()
        mo.wait_for_timeout(200)
    expect(host.locator(".qa-board article.question")).to_have_count(4)
    votes = {"exhausted": members, "depression": members[:2], "melatonin": members[2:]}
    for text, voters in votes.items():
        for page in voters:
            page.locator("article.question", has_text=text).get_by_role("button", name="Upvote").click()
    host.wait_for_timeout(800)
    host.locator("article.question", has_text="nap after lunch").get_by_role("button", name="Answer…").click()
    host.get_by_role("dialog").get_by_label("Answer").fill(
        "A short nap of 20 to 30 minutes before 3 pm helps many people without spoiling the night."
    )
    host.get_by_role("dialog").get_by_role("button", name="Publish answer").click()
    host.locator("article.question", has_text="exhausted").get_by_role("button", name="Answering now").click()
    expect(host.get_by_role("region", name="Answering now")).to_contain_text("exhausted")
    host.set_viewport_size(TALL)
    host.locator("#panel-qa").evaluate("el => el.scrollTop = 0")
    host.wait_for_timeout(500)
    host.screenshot(path=str(out / "qa.png"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not Path(args.chromium).exists():
        sys.exit(f"Chromium not found at {args.chromium}: apt-get install -y chromium")
    expect.set_options(timeout=20_000)
    with tempfile.TemporaryDirectory(prefix="chat-screens-") as data_dir:
        server = Server(data_dir)
        try:
            setup(server)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
                pages = member_scene(server.url, browser, out)
                moderator_scene(server.url, pages, out)
                qa_scene(server.url, browser, out)
                browser.close()
        finally:
            server.stop()
    for name in sorted(out.glob("*.png")):
        print(name.relative_to(ROOT) if name.is_relative_to(ROOT) else name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
