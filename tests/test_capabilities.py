"""Issue 23: the capability table (``rooms.capabilities``) walked cell by cell through a real
server. Every (channel kind, actor, action) cell that is not NA is driven by the call that
asks it (over JSON; a sample of kinds again over Protobuf) and the answer must be the
table's: allowed, or refused with the cell's code. A new kind, actor or action without a
driver here makes ``test_every_cell_has_a_driver`` fail; docs/protocol.md must show the
table the code has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rooms.capabilities import (
    ACTIONS,
    NA,
    PROFILES,
    RPC_ACTIONS,
    TABLE,
    Action,
    Actor,
    Kind,
    markdown,
)
from tests.harness import RawClient, ServerProcess, token, unique

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------- pure checks


def test_the_table_is_complete():
    for kind in Kind:
        assert PROFILES[kind], kind
        for actor in PROFILES[kind]:
            for action in Action:
                assert (kind, actor, action) in TABLE, (kind, actor, action)


def test_every_registered_rpc_has_its_action_in_the_table():
    """A new RPC method cannot arrive without saying which action of the table it asks for
    (or that it touches only the caller's own data)."""
    from chatserver.app import Server
    from chatserver.config import Settings

    server = Server(Settings(redis_url="redis://127.0.0.1:1", secret="s" * 32, api_key="k" * 32))
    registered = set(server.registry.rpc)
    missing = sorted(registered - set(RPC_ACTIONS))
    assert not missing, f"RPC methods without a row in rooms.capabilities.RPC_ACTIONS: {missing}"
    stale = sorted(set(RPC_ACTIONS) - registered)
    assert not stale, f"RPC_ACTIONS names methods no extension registers: {stale}"


def test_docs_show_the_table_of_the_code():
    doc = (ROOT / "docs" / "protocol.md").read_text()
    begin, end = "<!-- capabilities:begin -->\n", "<!-- capabilities:end -->"
    assert begin in doc and end in doc
    shown = doc.split(begin, 1)[1].split(end, 1)[0]
    assert shown == markdown(), "docs/protocol.md is stale: run python scripts/capabilities_doc.py"


def test_a_private_conversation_has_no_board_for_anyone():
    for actor in PROFILES[Kind.PRIVATE_QA]:
        for action in ACTIONS[Kind.PRIVATE_QA]:
            cell = TABLE[(Kind.PRIVATE_QA, actor, action)]
            assert cell is not None and cell is not NA and cell.code == 102


def test_reserved_subjects():
    from rooms.capabilities import reserved_subject

    assert reserved_subject("platform") and reserved_subject("System") and reserved_subject("erased-abc")
    assert reserved_subject("alice") is None


def test_every_cell_has_a_driver():
    for kind in Kind:
        assert kind in CHANNEL_OF, f"no channel for kind {kind}: add it to this test"
        for action in ACTIONS[kind]:
            assert action in DRIVERS, f"no driver for action {action}: add it to this test"
        for actor in PROFILES[kind]:
            assert actor in ROLE_OF or actor in (Actor.OWNER, Actor.PLATFORM), f"no client for actor {actor}"


# ---------------------------------------------------------------------------- the world


ROLE_OF = {
    Actor.OUTSIDER: None,
    Actor.MEMBER: "member",
    Actor.SUPPORTER: "supporter",
    Actor.HOST: "host",
    Actor.MODERATOR: "moderator",
    Actor.ADMIN: "admin",
    Actor.CONVERSATION_MEMBER: "member",
    Actor.INVITED_HOST: "host",
}

CHANNEL_OF = {
    Kind.ROOM: lambda w: w.room,
    Kind.QA_BOARD: lambda w: w.room + "/qa",
    Kind.SCREENING: lambda w: w.room + "/screening",
    Kind.ROOM_MOD: lambda w: w.room + "/mod",
    Kind.PRIVATE: lambda w: w.dm,
    Kind.PRIVATE_QA: lambda w: w.dm + "/qa",
    Kind.USER: lambda w: "",  # per actor: its own channel or the poster's
    Kind.COMMUNITY: lambda w: w.community + "/mod",
}


class World:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.community = unique("cap")
        self.room = server.make_room(self.community, "r")
        self.users = {actor: unique(actor.value[:6]) for actor in ROLE_OF}
        self.poster = unique("poster")
        self.dm = ""
        self.messages: dict[str, dict[str, Any]] = {}
        self.question = ""


def _code(reply: dict[str, Any]) -> int | None:
    return (reply.get("error") or {}).get("code")


async def _rpc(c: RawClient, method: str, **data: Any) -> int | None:
    return _code(await c.rpc(method, data))


async def _ok(c: RawClient, method: str, **data: Any) -> dict[str, Any]:
    reply = await c.rpc(method, data)
    assert "result" in reply, (method, reply)
    return reply["result"]


async def _setup(server: ServerProcess, clients) -> World:
    w = World(server)
    c = w.community
    poster = await clients(server.ws_url)
    assert "connect" in await poster.connect(token(w.poster, {c: "moderator"}))
    w.poster_client = poster
    # The conversation member must be known to the community (connected with a role).
    cm = await clients(server.ws_url)
    assert "connect" in await cm.connect(token(w.users[Actor.CONVERSATION_MEMBER], {c: "member"}))
    opened = await _ok(poster, "support.open", community=c, user=w.users[Actor.CONVERSATION_MEMBER], hosts=[w.users[Actor.INVITED_HOST]])
    w.dm = opened["channel"]
    for channel in (w.room, w.dm):
        sent = await _ok(poster, "chat.send", channel=channel, text="a message to react to and report")
        w.messages[channel] = sent
    board = w.room + "/qa"
    session = await _ok(
        poster, "qa.create", channel=board, title="Open hour", question_interval=0, premoderation=False,
        hosts=[{"user": w.users[Actor.HOST], "name": "Host"}],
    )
    await _ok(poster, "qa.start", channel=board, session=session["session"]["id"])
    asked = await _ok(poster, "qa.ask", channel=board, text="What helps on a bad day?")
    w.question = asked["question"]["id"] if "question" in asked else asked["id"]
    return w


# ---------------------------------------------------------------------------- drivers


async def _subscribe(c, w, channel, kind):
    reply = await c.call("subscribe", {"channel": channel})
    code = _code(reply)
    if code is None:
        await c.call("unsubscribe", {"channel": channel})
    return None if code == 105 else code  # 105: the server already subscribed it (user#)


async def _history(c, w, channel, kind):
    if kind in (Kind.QA_BOARD, Kind.PRIVATE_QA):
        return await _rpc(c, "qa.sessions", channel=channel)
    return _code(await c.call("history", {"channel": channel, "limit": 1}))


async def _subscribed(c, channel, call):
    sub = await c.call("subscribe", {"channel": channel})
    try:
        return await call()
    finally:
        if "subscribe" in sub:
            await c.call("unsubscribe", {"channel": channel})


async def _presence(c, w, channel, kind):
    return await _rpc(c, "presence.counts", channel=channel)


async def _typing(c, w, channel, kind):
    return await _subscribed(c, channel, lambda: _rpc(c, "chat.typing", channel=channel, typing=True))


async def _post(c, w, channel, kind):
    return await _rpc(c, "chat.send", channel=channel, text="hello from the table")


async def _own_message(c, w, channel):
    reply = await c.rpc("chat.send", {"channel": channel, "text": "mine"})
    if "result" in reply:
        return reply["result"]["offset"]
    return w.messages[channel]["offset"]  # not theirs: the table answers before the author check


async def _edit(c, w, channel, kind):
    offset = await _own_message(c, w, channel)
    return await _rpc(c, "chat.edit", channel=channel, offset=offset, text="mine, edited")


async def _delete(c, w, channel, kind):
    offset = await _own_message(c, w, channel)
    return await _rpc(c, "chat.delete", channel=channel, offset=offset)


async def _react(c, w, channel, kind):
    m = w.messages[channel]
    return await _subscribed(
        c, channel, lambda: _rpc(c, "chat.react", channel=channel, id=m["id"], offset=m["offset"], reaction="heart")
    )


async def _report(c, w, channel, kind):
    return await _rpc(c, "chat.report", channel=channel, offset=w.messages[channel]["offset"], reason="table walk")


async def _ask(c, w, channel, kind):
    return await _rpc(c, "qa.ask", channel=channel, text="A question from the table?")


async def _vote(c, w, channel, kind):
    return await _rpc(c, "qa.vote", channel=channel, question=w.question)


async def _run_qa(c, w, channel, kind):
    return await _rpc(c, "qa.pin", channel=channel, question=w.question, pinned=True)


async def _moderate(c, w, channel, kind):
    if kind is Kind.COMMUNITY:
        return await _rpc(c, "mod.sanctions", community=w.community)
    return await _rpc(c, "mod.holds", channel=channel)


async def _open_support(c, w, channel, kind):
    return await _rpc(c, "support.open", community=w.community, user=c.user)


async def _waiting(c, w, channel, kind):
    return await _rpc(c, "peer.waiting", community=w.community)


DRIVERS = {
    Action.SUBSCRIBE: _subscribe,
    Action.HISTORY: _history,
    Action.PRESENCE: _presence,
    Action.TYPING: _typing,
    Action.POST: _post,
    Action.EDIT: _edit,
    Action.DELETE: _delete,
    Action.REACT: _react,
    Action.REPORT: _report,
    Action.ASK: _ask,
    Action.VOTE: _vote,
    Action.RUN_QA: _run_qa,
    Action.MODERATE: _moderate,
    Action.OPEN_SUPPORT: _open_support,
    Action.WAITING: _waiting,
}


def _status_code(status: int) -> int | None:
    return {403: 103, 404: 102}.get(status, None if status < 300 else status)


def _platform(w: World, kind: Kind, action: Action) -> int | None:
    """The HTTP API (the platform's key)."""
    s = w.server
    room = (w.room if kind is Kind.ROOM else w.dm).split(":", 1)[1] if kind in (Kind.ROOM, Kind.PRIVATE) else ""
    base = f"/api/communities/{w.community}"
    if action is Action.POST:
        return _status_code(s.api("POST", f"{base}/rooms/{room}/messages", {"text": "announcement", "system": True}).status_code)
    if action is Action.DELETE:
        r = s.api("POST", f"{base}/rooms/{room}/messages", {"text": "to delete", "system": True})
        assert r.status_code == 201, r.text
        return _status_code(s.api("DELETE", f"{base}/rooms/{room}/messages/{r.json()['offset']}").status_code)
    if action is Action.MODERATE:
        path = f"{base}/audit" if kind is Kind.COMMUNITY else f"{base}/rooms/{room}/holds"
        return _status_code(s.api("GET", path).status_code)
    raise AssertionError(f"no platform driver for {action}")


def _expected(kind: Kind, actor: Actor, action: Action) -> int | None:
    cell = TABLE[(kind, actor, action)]
    return None if cell is None else cell.code  # type: ignore[union-attr]


async def _client(server, clients, w: World, actor: Actor, protobuf: bool) -> RawClient:
    c = await clients(server.ws_url, protobuf_mode=protobuf)
    if actor is Actor.OWNER:
        user, roles = unique("owner"), {w.community: "member"}
    else:
        role = ROLE_OF[actor]
        user = w.users[actor] if actor in (Actor.CONVERSATION_MEMBER, Actor.INVITED_HOST, Actor.HOST) else unique(actor.value[:6])
        roles = {w.community: role} if role else {unique("elsewhere"): "member"}
    reply = await c.connect(token(user, roles))
    assert "connect" in reply, reply
    c.user = user  # type: ignore[attr-defined]
    return c


async def _walk(server, clients, kinds, protobuf: bool) -> int:
    w = await _setup(server, clients)
    walked = 0
    mismatches = []
    for kind in kinds:
        for actor in PROFILES[kind]:
            actions = [a for a in ACTIONS[kind] if TABLE[(kind, actor, a)] is not NA]
            if not actions:
                continue
            if actor is Actor.PLATFORM:
                for action in actions:
                    got = _platform(w, kind, action)
                    walked += 1
                    if got != _expected(kind, actor, action):
                        mismatches.append((kind.value, actor.value, action.value, got, _expected(kind, actor, action)))
                continue
            # One connection per (kind, actor): refusals count toward the error limit.
            c = await _client(server, clients, w, actor, protobuf)
            channel = CHANNEL_OF[kind](w)
            if kind is Kind.USER:
                channel = f"user#{c.user}" if actor is Actor.OWNER else f"user#{w.poster}"
            for action in actions:
                got = await DRIVERS[action](c, w, channel, kind)
                walked += 1
                want = _expected(kind, actor, action)
                if got != want:
                    mismatches.append((kind.value, actor.value, action.value, got, want))
    assert not mismatches, "cells where the server and the table differ (kind, actor, action, got, table):\n" + "\n".join(
        map(str, mismatches)
    )
    return walked


@pytest.fixture(scope="module")
def capserver(valkey, tmp_path_factory):
    config = tmp_path_factory.mktemp("caps") / "caps.toml"
    config.write_text("[moderation]\nreport_threshold = 1000\n")
    server = ServerProcess(valkey.url, name="caps", args=["--config", str(config)])
    server.wait_ready()
    yield server
    server.stop()


async def test_every_cell_through_a_real_server_json(capserver, clients):
    walked = await _walk(capserver, clients, list(Kind), protobuf=False)
    expected = sum(1 for (k, a, act), cell in TABLE.items() if cell is not NA)
    assert walked == expected


async def test_a_sample_of_cells_over_protobuf(capserver, clients):
    assert await _walk(capserver, clients, [Kind.ROOM, Kind.PRIVATE, Kind.PRIVATE_QA], protobuf=True) > 50
