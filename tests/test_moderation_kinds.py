"""The interface other extensions use (e.g. Q&A questions): ``Poster.submit`` runs an item of
any kind through the gates for its kind and the room's pipeline, and the on-approve
registered for that kind publishes a held one.

This runs a real Server (chatserver.app) in the test process against the session's real Valkey; the author's
connection is a real ``Connection`` object without a socket (its pushes are not read here:
what the author is told travels through Redis, on their private channel)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chatserver.app import Server
from chatserver.auth import Identity
from chatserver.config import Settings
from chatserver.connection import Connection
from chatserver.errors import ReplyError
from chatserver.moderation.audit import Actor, AuditFilter
from chatserver.posting import Held, Outcome, Placed, Published, Submission, from_sender
from chatserver.protocol.codec import JSON
from rooms.model import Community, Member, Role, Room
from tests.harness import API_KEY, SECRET, unique


@pytest.fixture
async def server(valkey):
    settings = Settings(redis_url=valkey.url, secret=SECRET, api_key=API_KEY, seed_demo=False, node_name=unique("inproc"))
    server = Server(settings, ["chatserver.moderation"])
    await server.start()
    yield server
    await server.stop()


def author(server: Server, community: str, user: str) -> Connection:
    conn = Connection(server.connection_context, JSON)
    conn.identity = Identity(Member(user, user.title(), {community: Role.MEMBER}), None)
    return conn


async def test_questions_are_moderated_and_published_by_their_kind(server):
    community = unique("qa")
    await server.catalog.put_community(Community(community))
    room = Room(community, "r")
    await server.catalog.put_room(room)
    mod = server.moderation
    assert mod is not None
    published: list[tuple[str, str, str]] = []

    async def publish_question(hold, text: str, actor: Actor) -> dict:
        published.append((hold.id, text, actor.user))
        return {"question_id": hold.id}

    mod.register_hold_kind("question", publish_question)
    with pytest.raises(ValueError, match="registered twice"):
        mod.register_hold_kind("question", publish_question)
    conn = author(server, community, unique("asker"))

    placed: list[tuple[str, str, tuple[str, ...]]] = []

    async def to_board(sub: Submission, item_id: str, text: str, hidden: tuple[str, ...]) -> Placed:
        placed.append((item_id, text, hidden))
        return Placed()

    async def ask(text: str, **fields: Any) -> Outcome:
        return await server.poster.submit(from_sender(conn, room, text, to_board, kind="question", **fields))

    fine = await ask("How do I manage fatigue?", item_id="f1")
    assert isinstance(fine, Published) and fine.text == "How do I manage fatigue?"
    redacted = await ask("email me at a@example.org please")
    assert isinstance(redacted, Published) and redacted.text == "email me at [email hidden] please"
    assert redacted.hidden == ("email",)
    assert placed[0] == ("f1", "How do I manage fatigue?", ())

    held = await ask("is there a point, I want to die", item_id="q1", payload={"anonymous": True})
    assert isinstance(held, Held) and held.record is not None
    assert held.record.kind == "question" and held.record.priority == "high" and held.record.payload["anonymous"] is True
    first = await ask("I can't go on", client_msg_id="c1")
    again = await ask("I can't go on", client_msg_id="c1")
    assert isinstance(first, Held) and isinstance(again, Held) and again.id == first.id and again.duplicate
    assert len(placed) == 2  # held questions are not placed
    pending = await mod.store.pending(room.channel)
    assert [h.id for h in pending] == ["q1", first.id]

    result = await mod.holds.approve(Actor("m1", "M", "moderator"), room.channel, "q1", "Is there a point?")
    assert result["status"] == "approved" and result["resolution"]["published"] == {"question_id": "q1"}
    assert published == [("q1", "Is there a point?", "m1")]

    await mod.actions.mute(Actor("m1", "M", "moderator"), community, conn.user, duration=60)
    with pytest.raises(ReplyError) as muted:
        await ask("another question")
    assert muted.value.code == 1002
    entries = await mod.audit.read(community, AuditFilter(action="verdict"))
    assert [e["action"] for e in entries] == ["verdict.hold", "verdict.hold", "verdict.redact"]
    assert {e["details"]["kind"] for e in entries} == {"question"}


async def test_audit_log_keeps_entries_for_the_retention_time_only(server):
    from chatserver.moderation.audit import AuditLog
    from chatserver.redis import moderation_keys as keys
    from chatserver.redis.moderation_store import RedisModerationStore

    community = unique("ret")
    log = AuditLog(RedisModerationStore(server.redis, server.commands), retention=1)
    await log.append(community, "mute", Actor("m1"), target={"user": "u"}, text="old words")
    await asyncio.sleep(1.2)
    assert await log.read(community, AuditFilter()) == []  # past retention: not returned
    await log.append(community, "unmute", Actor("m1"), target={"user": "u"})
    assert [e["action"] for e in await log.read(community, AuditFilter())] == ["unmute"]
    assert await server.redis.xlen(keys.audit(community)) == 1  # and really gone
    assert 0 < await server.redis.ttl(keys.audit(community)) <= 1


async def test_a_connection_runs_in_process_with_its_context(server):
    """A Connection needs only the ConnectionContext the composition root builds: here it is
    driven without a socket (the ASGI fallback writer captures its frames), against the real
    Valkey, through connect, subscribe and a publish that comes back to it."""
    import orjson

    from tests.harness import token

    community = unique("inproc")
    await server.catalog.put_community(Community(community))
    await server.catalog.put_room(Room(community, "r"))
    frames: list[dict] = []

    async def asgi_send(message: dict) -> None:
        if message["type"] == "websocket.send":
            frames.extend(orjson.loads(line) for line in message["text"].splitlines())

    conn = Connection(server.connection_context, JSON, asgi_send=asgi_send)
    server.node.accept(conn)
    channel = f"{community}:r"
    user = unique("inproc-user")
    commands = [
        {"id": 1, "connect": {"token": token(user, {community: "member"})}},
        {"id": 2, "subscribe": {"channel": channel}},
        {"id": 3, "publish": {"channel": channel, "data": {"text": "hello from inside"}}},
    ]
    try:
        await conn.handle_message("\n".join(orjson.dumps(c).decode() for c in commands))
        for _ in range(100):
            if any(f.get("push", {}).get("pub") for f in frames):
                break
            await asyncio.sleep(0.02)
        replies = {f["id"]: f for f in frames if f.get("id")}
        assert replies[1]["connect"]["client"] == conn.client_id
        assert "error" not in replies[2] and "error" not in replies[3]
        pushed = [f["push"] for f in frames if f.get("push", {}).get("pub")]
        assert [p["channel"] for p in pushed] == [channel]
        assert pushed[0]["pub"]["data"]["text"] == "hello from inside"
        assert pushed[0]["pub"]["info"]["user"] == user
    finally:
        await server.node.release(conn)
