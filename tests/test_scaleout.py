"""Scale-out against real topologies: a Valkey Cluster (3 masters + 3 replicas) and Sentinel
(1 master, 1 replica, 3 sentinels), each with two gateway processes pointed at different
seed nodes. Rooms on different shards, history and recovery, presence and typing, a
moderator's hold/approve/delete/mute and a Q&A session across processes; then a failover
in the middle of a numbered stream: every acknowledged message reaches every member once,
in order, with no manual step."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import Any

import pytest

from loadtests.topology import migrate_slot
from tests.harness import RawClient, ServerProcess, token, unique
from tests.moderation_support import joined, mod, next_event, send
from tests.presence_helpers import event_of, room_event, rpc_result
from tests.qa_support import People, subscribe


class Deployment:
    def __init__(self, kind: str, topology: Any, gateways: list[ServerProcess]) -> None:
        self.kind = kind
        self.topology = topology
        self.a, self.b = gateways

    def failover_owner_of(self, channel: str) -> None:
        if self.kind == "cluster":
            self.topology.failover(self.topology.owner(f"chat:{{{channel}}}:p"))
        else:
            self.topology.failover()


@pytest.fixture(scope="module", params=["cluster", "sentinel"])
def deployment(request, modconfig):
    if request.param == "cluster":
        topology = request.getfixturevalue("cluster")
        urls = [topology.url(topology.nodes[0]), topology.url(topology.nodes[1], topology.nodes[2])]
    else:
        topology = request.getfixturevalue("sentinels")
        urls = [topology.url(topology.sentinels[0]), topology.url(*topology.sentinels[1:])]
    gateways = []
    try:
        for i, url in enumerate(urls):
            gateways.append(ServerProcess(url, name=f"{request.param}-{i}", args=["--config", str(modconfig)]))
        for g in gateways:
            g.wait_ready(60)
        yield Deployment(request.param, topology, gateways)
    finally:
        for g in gateways:
            g.stop()


def texts(pushes: list[dict[str, Any]]) -> list[str]:
    return [p["push"]["pub"]["data"]["text"] for p in pushes]


async def pubs(client: RawClient, channel: str | None, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    """The next ``count`` publications with an offset (on ``channel``; None: any room)."""

    def wanted(p: dict[str, Any]) -> bool:
        body = p.get("push", {})
        return "pub" in body and bool(body["pub"].get("offset")) and channel in (None, body.get("channel"))

    out: list[dict[str, Any]] = []
    with contextlib.suppress(TimeoutError):
        while len(out) < count:
            out.append(await client.next_push(timeout=timeout, where=wanted))
    return out


def rooms_on_distinct_shards(dep: Deployment, community: str, want: int) -> list[str]:
    """Room channels whose slots belong to ``want`` different masters (cluster), or any
    ``want`` rooms (Sentinel: one master)."""
    chosen: dict[int, str] = {}
    for i in itertools.count():
        channel = f"{community}:r{i}"
        owner = dep.topology.owner(f"chat:{{{channel}}}:p").port if dep.kind == "cluster" else i
        chosen.setdefault(owner, channel)
        if len(chosen) == want:
            break
    for channel in chosen.values():
        dep.a.make_room(community, channel.split(":")[1])
    return list(chosen.values())


async def test_rooms_on_different_shards_deliver_across_processes_in_order(deployment, clients):
    dep = deployment
    community = unique("so")
    rooms = rooms_on_distinct_shards(dep, community, 3)
    roles = {community: "member"}
    member = await joined(clients, dep.b.ws_url, "reader", roles, *rooms)
    sender = await joined(clients, dep.a.ws_url, "writer", roles)
    for n in range(5):
        for room in rooms:
            assert (await send(sender, room, f"{room} {n}"))["status"] == "published"
    got_all = await pubs(member, None, 5 * len(rooms))
    for room in rooms:
        got = [p for p in got_all if p["push"]["channel"] == room]
        assert texts(got) == [f"{room} {n}" for n in range(5)]
        assert [p["push"]["pub"]["offset"] for p in got] == [1, 2, 3, 4, 5]

    # History and recovery, served through the other process.
    room = rooms[0]
    history = (await member.call("history", {"channel": room, "limit": 10}))["history"]
    assert [p["data"]["text"] for p in history["publications"]] == [f"{room} {n}" for n in range(5)]
    epoch = history["epoch"]
    for n in range(5, 8):
        await send(sender, room, f"{room} {n}")
    late = await clients(dep.b.ws_url)
    await late.connect(token("late", roles))
    sub = (await late.call("subscribe", {"channel": room, "recover": True, "epoch": epoch, "offset": 5}))["subscribe"]
    assert sub["recovered"] is True
    assert [p["data"]["text"] for p in sub["publications"]] == [f"{room} {n}" for n in range(5, 8)]


async def test_presence_and_typing_across_processes(deployment, clients):
    dep = deployment
    community = unique("sop")
    channel = dep.a.make_room(community, "lounge")
    alice = await joined(clients, dep.a.ws_url, "alice", {community: "member"}, channel, name="Alice")
    bob = await joined(clients, dep.b.ws_url, "bob", {community: "moderator"}, channel, name="Bob")

    async def both_present() -> bool:
        stats = (await alice.call("presence_stats", {"channel": channel}))["presence_stats"]
        return bool(stats == {"num_clients": 2, "num_users": 2})

    deadline = time.monotonic() + 5
    while not await both_present():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    online = await rpc_result(bob, "presence.members", {"channel": channel})
    assert sorted(m["user"] for m in online["members"]) == ["alice", "bob"]
    assert (await rpc_result(alice, "chat.typing", {"channel": channel}))["sent"] is True
    push = await bob.next_push(where=room_event("typing", user="alice"))
    assert event_of(push)["name"] == "Alice"
    await alice.close()
    deadline = time.monotonic() + 5
    while (await bob.call("presence_stats", {"channel": channel}))["presence_stats"]["num_users"] != 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)


async def test_moderator_hold_approve_delete_mute_across_processes(deployment, clients):
    dep = deployment
    community = unique("som")
    channel = dep.a.make_room(community, "support")
    r = dep.a.api("PUT", f"/api/communities/{community}/rooms/support/moderation", {"hooks": {"new_member": {"first_messages": 5}}})
    assert r.status_code == 200, r.text
    moderator = await joined(clients, dep.b.ws_url, "mo", {community: "moderator"}, channel, f"{channel}/mod")
    author = await joined(clients, dep.a.ws_url, "au", {community: "member"}, channel)
    held = await send(author, channel, "hello, first time here", client_msg_id="h1")
    assert held["status"] == "held"
    hold = (await next_event(moderator, f"{channel}/mod", "hold.created"))["hold"]
    assert hold["id"] == held["id"]
    approved = await mod(moderator, "mod.approve", channel=channel, id=hold["id"])
    assert approved["status"] == "approved", approved
    notice = await next_event(author, "user#au", "moderation.approved")
    offset = notice["offset"]
    message = await next_event(moderator, channel, "message")
    assert message["text"] == "hello, first time here" and message["_offset"] == offset
    deleted = await mod(moderator, "mod.delete", channel=channel, offset=offset, reason="off topic")
    assert "error" not in deleted, deleted
    gone = await next_event(author, channel, "message.deleted")
    assert gone["_offset"] == offset + 1
    muted = await mod(moderator, "mod.mute", channel=channel, user="au", duration=30, reason="cool down")
    assert "error" not in muted, muted
    # The mute reaches the author's process (a control message): posting is refused there.
    deadline = time.monotonic() + 5
    while True:
        result = await send(author, channel, "still here?")
        if "error" in result:
            assert result["error"]["code"] == 1002
            break
        assert time.monotonic() < deadline, result
        await asyncio.sleep(0.2)


async def test_reactions_and_a_crisis_case_across_processes(deployment, clients):
    """Features whose scripts publish (reactions) or keep per-community keys (crisis cases)
    work on the topology: a reaction given on one process reaches a member on the other
    (SPUBLISH on a cluster), and a crisis message opens a case a moderator on the other
    process sees."""
    dep = deployment
    community = unique("sor")
    channel = dep.a.make_room(community, "circle")
    reader = await joined(clients, dep.b.ws_url, "reader", {community: "member"}, channel)
    writer = await joined(clients, dep.a.ws_url, "writer", {community: "member"}, channel)
    posted = await send(writer, channel, "a long day, thanks for listening")
    assert posted["status"] == "published", posted
    assert (await next_event(reader, channel, "message"))["id"] == posted["id"]
    reply = await writer.rpc(
        "chat.react", {"channel": channel, "id": posted["id"], "offset": posted["offset"], "reaction": "hug", "on": True}
    )
    assert reply["result"]["counts"] == {"hug": 1}, reply
    event = await next_event(reader, channel, "message.reactions")
    assert event["counts"] == {"hug": 1} and event["message_id"] == posted["id"]

    moderator = await joined(clients, dep.b.ws_url, "watch", {community: "moderator"}, f"{community}/mod")
    held = await send(writer, channel, "I have a plan and I'm going to do it this weekend")
    assert held["status"] == "held", held
    case = (await next_event(moderator, f"{community}/mod", "crisis.case"))["case"]
    assert case["user"] == "writer" and case["state"] == "open" and case["channel"] == channel


async def test_own_edit_and_an_erasure_across_processes(deployment, clients):
    """Issue 13 on the topology: a member's edit (a stream rewrite in the room's slot) reaches
    a member on the other process; an erasure asked on the other process closes the member's
    connection (3520), removes their messages from rooms on different shards live, and
    leaves no word of theirs in history."""
    dep = deployment
    community = unique("sop")
    rooms = [dep.a.make_room(community, name) for name in ("one", "two", "three")]
    user = unique("erasee")
    reader = await joined(clients, dep.b.ws_url, unique("reader"), {community: "member"}, *rooms)
    writer = await joined(clients, dep.a.ws_url, user, {community: "member"}, *rooms)
    posted = [await send(writer, room, f"quillwort words {i}") for i, room in enumerate(rooms)]
    for room in rooms:
        await next_event(reader, room, "message")
    edited = await mod(writer, "chat.edit", channel=rooms[0], offset=posted[0]["offset"], text="quillwort fixed")
    assert edited["status"] == "published", edited
    assert (await next_event(reader, rooms[0], "message.edited"))["text"] == "quillwort fixed"
    result = dep.b.api("POST", f"/api/users/{user}/erase", {"actor": "dpo"})
    assert result.status_code == 200, result.text
    assert result.json()["removed"]["messages"] == 3
    assert (await writer.wait_closed()).code == 3520
    gone = [await next_event(reader, None, "message.deleted") for _ in rooms]  # in any order
    assert sorted(e["id"] for e in gone) == sorted(p["id"] for p in posted)
    for room in rooms:
        hist = (await reader.call("history", {"channel": room, "limit": 50}))["history"]
        assert "quillwort" not in str(hist)


async def test_qa_session_across_processes(deployment):
    dep = deployment
    community = unique("soq")
    room = dep.a.make_room(community, "clinic")
    board = f"{room}/qa"
    screening = f"{room}/screening"
    people = People(dep.a.ws_url, community)
    try:
        host = await people.join("dr-h", "host", name="Dr H")
        moderator = await people.join("mod-q", "moderator", url=dep.b.ws_url)
        asker = await people.join("u-ask", url=dep.b.ws_url)
        for c in (host, moderator, asker):
            await subscribe(c, board)
        await subscribe(moderator, screening)
        sid = (await host.call_rpc("qa.create", {"channel": board, "title": "Ask", "question_interval": 0}))["session"]["id"]
        await host.call_rpc("qa.start", {"channel": board})
        asked = await asker.call_rpc("qa.ask", {"channel": board, "text": "What helps sleep?"})
        assert asked["status"] == "screening" and asked["session"] == sid
        qid = asked["question"]["id"]
        await moderator.wait_type(screening, "qa.question.submitted", question__id=qid)
        await moderator.call_rpc("qa.screen", {"channel": board, "question": qid, "action": "publish"})
        await asker.call_rpc("qa.vote", {"channel": board, "question": qid})
        await host.call_rpc("qa.answer", {"channel": board, "question": qid, "text": "A routine."})
        for watcher in (host, asker):
            await watcher.wait_type(board, "qa.question.published", question__id=qid)
            await watcher.wait_type(board, "qa.votes")
            await watcher.wait_type(board, "qa.question.answered", question__id=qid)
    finally:
        await people.close()


async def stream_through(dep: Deployment, clients: Any, event: Any, name: str) -> tuple[float, int, int]:
    """Numbered messages at 20/s into a new room (retrying error 100 with the same
    client_msg_id) while ``event(channel)`` runs in a thread; every acknowledged message
    must reach members on both gateways once, in order. Returns (event seconds, acked,
    retries)."""
    community = unique("sof")
    channel = dep.a.make_room(community, "stream")
    r = dep.a.api("PUT", f"/api/communities/{community}/rooms/stream/moderation", {"hooks": {"flood": {"rate": 10000, "per": 1}}})
    assert r.status_code == 200, r.text
    roles = {community: "member"}
    members = [
        await joined(clients, dep.a.ws_url, "m1", roles, channel),
        await joined(clients, dep.b.ws_url, "m2", roles, channel),
    ]
    publisher = await joined(clients, dep.a.ws_url, "pub", roles)
    acknowledged: list[int] = []
    retries = 0
    stop = asyncio.Event()

    async def publish() -> None:
        nonlocal retries
        n = 0
        while not stop.is_set():
            while True:
                reply = await publisher.rpc("chat.send", {"channel": channel, "text": f"n{n}", "client_msg_id": f"c{n}"})
                if "result" in reply:
                    assert reply["result"]["status"] == "published"
                    break
                assert reply["error"]["code"] == 100 and reply["error"]["temporary"], reply
                retries += 1
                await asyncio.sleep(0.1)
            acknowledged.append(n)
            n += 1
            await asyncio.sleep(0.05)

    task = asyncio.ensure_future(publish())
    await asyncio.sleep(1.5)
    started = time.monotonic()
    await asyncio.get_running_loop().run_in_executor(None, event, channel)
    took = time.monotonic() - started
    await asyncio.sleep(2.0)
    stop.set()
    await task
    assert len(acknowledged) >= 40
    for member in members:
        got = await pubs(member, channel, len(acknowledged), timeout=15)
        if texts(got) != [f"n{n}" for n in acknowledged]:
            print(dep.a.log(), dep.b.log())
        assert texts(got) == [f"n{n}" for n in acknowledged]
        offsets = [p["push"]["pub"]["offset"] for p in got]
        assert offsets == list(range(1, len(acknowledged) + 1))
        assert not member.closed.done()
    print(f"{dep.kind} {name}: took {took:.1f}s, {len(acknowledged)} acknowledged, {retries} retries")
    return took, len(acknowledged), retries


async def test_failover_mid_stream_every_acknowledged_message_once_in_order(deployment, clients):
    """The room's shard fails over (CLUSTER FAILOVER on its replica; SENTINEL FAILOVER)."""
    await stream_through(deployment, clients, deployment.failover_owner_of, "failover")


async def test_resharding_mid_stream_every_acknowledged_message_once_in_order(deployment, clients):
    """The room's slot moves to another master while members listen and a member posts
    (ASK/MOVED on commands, the server drops the sharded subscriptions)."""
    if deployment.kind != "cluster":
        return  # Sentinel has no slots; its failover is the test above
    topology = deployment.topology

    def move(channel: str) -> None:
        key = f"chat:{{{channel}}}:p"
        source = topology.owner(key)
        target = next(n for n in topology.masters() if n is not source)
        with source.client() as c:
            slot = int(c.execute_command("CLUSTER", "KEYSLOT", key))
        migrate_slot(topology, slot, source, target, pause=0.05)
        assert topology.owner(key) is target

    await stream_through(deployment, clients, move, "resharding")
