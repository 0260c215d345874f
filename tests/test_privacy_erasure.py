"""Issue 13, item 4 and issue 22: access (export) and erasure requests over the HTTP API.

One member does everything a member can that writes: messages in two rooms (one redacted,
one edited, one deleted), reactions (given, and received on their message), an anonymous
and a named question, a vote, a report they filed (with a reason), a held crisis message
(and the crisis case it opened), a private support conversation a host was invited to, a
typing indicator, and they are banned: the export lists it all; the erasure closes their
connection (3520) first, removes their messages live for members online (a member who was
offline recovers exactly), their questions, votes, reactions, holds, report, keys and
private channel, renames them to a pseudonym in the audit log, the webhook deliveries and
the ban (which keeps applying), is itself audited with counts and no content, and a second
call removes nothing and says so. Then every key of this module's own Valkey is read: none
holds their id, their name or any text they wrote.

The race: a member reconnecting and posting in a loop (on two processes) while the erasure
runs loses everything acknowledged before the answer; other members' messages stay."""

from __future__ import annotations

import asyncio
import contextlib
import time

import orjson
import pytest
import redis
import websockets

from tests.harness import Closed, RawClient, ServerProcess, Valkey, token, unique
from tests.moderation_support import joined, mod, next_event, send
from tests.qa_support import People, subscribe
from tests.webhook_receiver import Receiver

SECRET = "test-webhook-secret-erasure-0123456789"


@pytest.fixture(scope="module")
def receiver():
    r = Receiver(SECRET)
    yield r
    r.stop()


@pytest.fixture(scope="module")
def own_valkey():
    """A Valkey of this module's own: the test reads every key (another test's data in a
    shared store would be found, or changed meanwhile)."""
    v = Valkey()
    yield v
    v.stop()


@pytest.fixture(scope="module")
def servers(own_valkey, receiver, tmp_path_factory):
    path = tmp_path_factory.mktemp("erasure") / "erasure.toml"
    path.write_text(
        f"""
[moderation.hooks.flood]
rate = 1000
per = 1

[[webhooks]]
id = "platform"
url = "{receiver.url}"
events = ["*"]
secret = "{SECRET}"
retry_base = 0.2
retry_max = 1
timeout = 2
"""
    )
    started = [ServerProcess(own_valkey.url, name=f"erasure-{n}", args=["--config", str(path)]) for n in (1, 2)]
    for s in started:
        s.wait_ready()
    yield started
    for s in started:
        s.stop()

TEXTS = [
    "ferncastle lanterns glow at dusk",
    "my number is 07700 900314 ferncastle",
    "ferncastle second room hello",
    "ferncastle tpyo here",
    "ferncastle fixed typo here",
    "ferncastle anonymous question about sleep",
    "ferncastle named question about diet",
    "ferncastle I want to end it all",
]
MARKERS = ["ferncastle", "07700 900314", "900314"]


async def rejoin_after_block(clients, url: str, user: str, roles: dict[str, str]) -> RawClient:
    """Connect as ``user`` once the erasure's block has lifted (a few seconds after the
    answer: refused with 3520 until then)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return await joined(clients, url, user, roles)
        except Closed as exc:
            assert exc.code == 3520, exc
            assert time.monotonic() < deadline, "the block did not lift"
            await asyncio.sleep(0.2)


def every_value(client: redis.Redis) -> dict[bytes, bytes]:
    """Every key of the store with its value read by type (as one blob)."""
    out: dict[bytes, bytes] = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == b"string":
            value = [client.get(key) or b""]
        elif kind == b"hash":
            value = [b for kv in client.hgetall(key).items() for b in kv]
        elif kind == b"list":
            value = client.lrange(key, 0, -1)
        elif kind == b"set":
            value = list(client.smembers(key))
        elif kind == b"zset":
            value = [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == b"stream":
            value = [b for _, fields in client.xrange(key) for kv in fields.items() for b in kv]
        else:
            value = []
        out[key] = b"\x00".join(v if isinstance(v, bytes) else str(v).encode() for v in value)
    return out


async def test_export_then_erase_leaves_no_trace_in_the_store(servers, own_valkey, clients):
    server = servers[0]
    valkey = own_valkey
    community = unique("erase")
    r1 = server.make_room(community, "one")
    r2 = server.make_room(community, "two")
    user = unique("u-erasable")
    name = "Ottilie Vexworth"
    people = People(server.ws_url, community)
    try:
        member = await people.join(user, name=name)
        host_user = unique("host")
        host = await people.join(host_user, "host")
        moderator = await joined(clients, server.ws_url, unique("mod"), {community: "moderator"}, r1 + "/mod", f"{community}/mod")
        watcher = await joined(clients, server.ws_url, unique("w"), {community: "member"}, r1)
        offline = await joined(clients, server.ws_url, unique("o"), {community: "member"}, r1)
        other = await joined(clients, server.ws_url, unique("other"), {community: "member"}, r1)
        for ch in (r1, r2):
            await subscribe(member, ch)
        before = (await offline.call("history", {"channel": r1}))["history"]
        await offline.close()

        sent = [await member.call_rpc("chat.send", {"channel": r1, "text": t}) for t in TEXTS[:2]]
        assert sent[1]["status"] == "redacted"
        published = await member.call("publish", {"channel": r2, "data": {"text": TEXTS[2]}})
        assert "publish" in published, published
        typo = await member.call_rpc("chat.send", {"channel": r1, "text": TEXTS[3]})
        await member.call_rpc("chat.edit", {"channel": r1, "offset": typo["offset"], "text": TEXTS[4]})
        held = await member.call_rpc("chat.send", {"channel": r1, "text": TEXTS[7]})
        assert held["status"] == "held"
        theirs = await send(other, r1, "someone else's words")
        await member.call_rpc("chat.report", {"channel": r1, "offset": theirs["offset"], "reason": "ferncastle rude"})
        # Someone else reports one of theirs: the reason (about words that go) goes with it.
        assert "result" in await other.rpc("chat.report", {"channel": r1, "offset": sent[0]["offset"], "reason": "ferncastle oversharing"})
        await member.rpc("chat.typing", {"channel": r1})
        # Reactions: given to someone else's message and to their own, received from others.
        await member.call_rpc("chat.react", {"channel": r1, "offset": theirs["offset"], "id": theirs["id"], "reaction": "hug"})
        await member.call_rpc("chat.react", {"channel": r1, "offset": sent[0]["offset"], "id": sent[0]["id"], "reaction": "same"})
        assert "result" in await other.rpc("chat.react", {"channel": r1, "offset": sent[0]["offset"], "id": sent[0]["id"], "reaction": "heart"})
        # A message they delete themselves.
        gone_first = await member.call_rpc("chat.send", {"channel": r1, "text": "ferncastle regret this"})
        await member.call_rpc("chat.delete", {"channel": r1, "offset": gone_first["offset"]})
        board = f"{r1}/qa"
        await subscribe(host, f"{r1}/screening")
        sid = (await host.call_rpc("qa.create", {"channel": board, "title": "Sleep", "question_interval": 0}))["session"]["id"]
        await host.call_rpc("qa.start", {"channel": board, "session": sid})
        anon = await member.call_rpc("qa.ask", {"channel": board, "session": sid, "text": TEXTS[5], "anonymous": True})
        await member.call_rpc("qa.ask", {"channel": board, "session": sid, "text": TEXTS[6]})
        await host.call_rpc("qa.screen", {"channel": board, "session": sid, "question": anon["question"]["id"], "action": "publish"})
        asker = await people.join(unique("asker"))
        asked = await asker.call_rpc("qa.ask", {"channel": board, "session": sid, "text": "what helps with sleep?"})
        await host.call_rpc("qa.screen", {"channel": board, "session": sid, "question": asked["question"]["id"], "action": "publish"})
        await member.call_rpc("qa.vote", {"channel": board, "session": sid, "question": asked["question"]["id"]})
        # A private support conversation with a moderator, a host invited to it, where they write too.
        conv = await mod(moderator, "support.open", community=community, user=user)
        dm = conv["channel"]
        await mod(moderator, "support.invite", channel=dm, user=host_user)
        await subscribe(member, dm)
        await member.call_rpc("chat.send", {"channel": dm, "text": "ferncastle private words"})
        await mod(moderator, "mod.ban", channel=r1, user=user, reason="spam")

        # Access: one JSON document with everything.
        doc = server.api("GET", f"/api/users/{user}/export")
        assert doc.status_code == 200, doc.text
        d = doc.json()
        assert {m["text"] for m in d["messages"]} == {
            TEXTS[0], "my number is [phone hidden] ferncastle", TEXTS[2], TEXTS[4], "ferncastle private words"
        }
        assert sorted((q["text"], q["anonymous"]) for q in d["questions"]) == [(TEXTS[5], True), (TEXTS[6], False)]
        assert [(r["channel"], r["offset"], r["reason"]) for r in d["reports"]] == [(r1, theirs["offset"], "ferncastle rude")]
        assert sorted((r["message"], r["reaction"]) for r in d["reactions"]) == sorted([(theirs["id"], "hug"), (sent[0]["id"], "same")])
        assert [v["question"] for v in d["votes"]] == [asked["question"]["id"]]
        assert [(e["community"], e["name"]) for e in d["directory"]] == [(community, name)]
        assert [h["id"] for h in d["holds"]] == [held["id"]]
        assert [(s["kind"], s["community"]) for s in d["sanctions"]] == [("ban", community)]
        assert {"verdict.redact", "ban", "report"} <= {e["action"] for e in d["audit"]}
        assert d["presence"] == {"online": True}
        assert d["conversations"] == [dm]
        assert [c["user"] for c in d["crisis_cases"]] == [user]  # opened by the held crisis message
        assert "ferncastle private words" in {m["text"] for m in d["messages"]}
        assert server.api("GET", f"/api/users/{unique('nobody')}/export").status_code == 404

        # Erasure while connected: closed first with 3520.
        for _ in range(4):
            await next_event(watcher, r1, "message")
        erased = server.api("POST", f"/api/users/{user}/erase", {"actor": "dpo@example.org"})
        assert erased.status_code == 200, erased.text
        result = erased.json()
        closed = await member.wait_closed()
        assert closed.code == 3520
        removed = result["removed"]
        assert result["nothing"] is False and result["pseudonym"].startswith("erased-")
        assert removed["messages"] == 4 and removed["questions"] == 2 and removed["holds"] == 1
        assert removed["reports"] == 2 and removed["sanctions"] == 1 and removed["audit_entries"] >= 3
        assert removed["conversations"] == 1 and removed["crisis_cases"] == 1
        assert removed["votes"] == 1 and removed["reactions"] == 1 and removed["reaction_events"] == 2
        # Members online see the messages go.
        gone = {(await next_event(watcher, r1, "message.deleted"))["offset"] for _ in range(4)}
        assert gone == {sent[0]["offset"], sent[1]["offset"], typo["offset"], gone_first["offset"]}
        # A member who was offline recovers exactly, without a word of theirs.
        back = await joined(clients, server.ws_url, unique("o"), {community: "member"})
        sub = (await back.call("subscribe", {"channel": r1, "recover": True, "offset": before.get("offset", 0), "epoch": before["epoch"]}))["subscribe"]
        assert sub["recovered"] is True
        assert "ferncastle" not in str(sub["publications"]) and user not in str(sub["publications"])
        # Nothing in the store holds their id, their name or anything they wrote.
        # (Read until clean or 10 s: the closed connection's presence leave is written after
        # its close; nothing else may stay.)
        store = redis.Redis.from_url(valkey.url)
        try:
            deadline = time.monotonic() + 10
            while True:
                found = [
                    (key, needle, value[:300])
                    for key, value in every_value(store).items()
                    for needle in (user, name, *MARKERS)
                    if needle.encode() in key or needle.encode() in value
                ]
                if not found or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert not found, found[:5]
        finally:
            store.close()

        # A second call removes nothing and says so; an unknown user likewise.
        second = server.api("POST", f"/api/users/{user}/erase").json()
        assert second["nothing"] is True and "nothing" in second["message"]
        assert all(v == 0 for k, v in second["removed"].items())
        unknown = server.api("POST", f"/api/users/{unique('nobody')}/erase").json()
        assert unknown["nothing"] is True
        # The ban keeps applying to the returning id (after the scan: returning writes their
        # channel's position again); the audit names the pseudonym.
        again = await rejoin_after_block(clients, server.ws_url, user, {community: "member"})
        refused = await send(again, r1, "I am back")
        assert refused["error"]["code"] == 1003
        await again.close()
        entries = server.api("GET", f"/api/communities/{community}/audit?limit=1000").json()["entries"]
        assert user not in orjson.dumps(entries).decode()
        assert any(e["action"] == "ban" and e["target"]["user"] == result["pseudonym"] for e in entries)
        erase_entry = [e for e in entries if e["action"] == "user.erase"]
        assert len(erase_entry) == 1 and erase_entry[0]["actor"]["user"] == "dpo@example.org"
        assert erase_entry[0]["details"]["removed"]["messages"] == 4 and "text" not in erase_entry[0]

    finally:
        await people.close()


async def test_erasure_wins_the_race_with_a_member_reconnecting_and_posting(servers, clients):
    """A member posts in a loop and reconnects at once when closed, alternating between two
    processes, while the erasure runs; another member posts meanwhile. Everything the member
    got acknowledged before the answer is gone; every message of the other member stays."""
    community = unique("race")
    room = servers[0].make_room(community, "r", history_size=50_000)  # nothing trimmed meanwhile
    user = unique("u-racer")
    racer_acks: list[tuple[int, str]] = []
    other_acks: list[tuple[int, str]] = []
    answered = asyncio.Event()
    refused = 0

    async def racer() -> None:
        nonlocal refused
        n = 0
        while not answered.is_set():
            n += 1
            c = None
            try:
                c = await RawClient.open(servers[n % 2].ws_url)
                reply = await c.connect(token(user, {community: "member"}))
                assert "error" not in reply, reply
                while not answered.is_set():
                    text = f"racer words {n}-{len(racer_acks)}"
                    got = await c.rpc("chat.send", {"channel": room, "text": text})
                    if "result" in got and not answered.is_set():
                        racer_acks.append((got["result"]["offset"], text))
                    elif "erased" in got.get("error", {}).get("message", ""):
                        refused += 1
            except Closed as exc:
                refused += exc.code == 3520
            except websockets.exceptions.ConnectionClosed as exc:  # closed while sending
                refused += exc.rcvd is not None and exc.rcvd.code == 3520
            finally:
                if c is not None:
                    await c.close()

    async def bystander() -> None:
        c = await joined(clients, servers[1].ws_url, unique("by"), {community: "member"})
        i = 0
        while not answered.is_set():
            i += 1
            got = await send(c, room, f"bystander words {i}")
            assert "offset" in got, got
            other_acks.append((got["offset"], f"bystander words {i}"))

    tasks = [asyncio.create_task(racer()), asyncio.create_task(bystander())]
    try:
        deadline = time.monotonic() + 30
        while len(racer_acks) < 30:
            assert time.monotonic() < deadline, "the member's loop did not get going"
            await asyncio.sleep(0.05)
        erased = await asyncio.to_thread(servers[0].api, "POST", f"/api/users/{user}/erase", {"actor": "dpo@example.org"})
        answered.set()
        assert erased.status_code == 200, erased.text
    finally:
        answered.set()
        for t in tasks:
            with contextlib.suppress(Exception):
                await t
    assert refused > 0  # the loop really ran into the erasure

    reader = await joined(clients, servers[0].ws_url, unique("reader"), {community: "member"})
    publications: list[dict] = []
    while True:  # the whole history, a page (at most 1000) at a time
        since = {"offset": publications[-1]["offset"]} if publications else None
        page = (await reader.call("history", {"channel": room, "limit": 1000, **({"since": since} if since else {})}))["history"]
        publications += page.get("publications", [])
        if len(page.get("publications", [])) < 1000:
            break
    events = [p["data"] if isinstance(p["data"], dict) else orjson.loads(p["data"]) for p in publications]
    kept = {(p.get("offset", 0), e.get("text")) for p, e in zip(publications, events, strict=True) if e.get("type") == "message"}
    assert len(kept) >= len(other_acks)
    assert not [e for e in events if e.get("user") == user]
    assert not set(racer_acks) & kept
    assert set(other_acks) <= kept, sorted(set(other_acks) - kept)[:5]
