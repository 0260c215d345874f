"""An outage stays where it is: a failover of one cluster shard repairs gaps only on the
channels of that shard (the other shards' channels missed nothing), and delivery on the
failed-over shard follows publishing again promptly."""

from __future__ import annotations

import asyncio
import itertools
import time

from tests.harness import RawClient, token, unique


def pubs_of(client: RawClient, channel: str):
    def wanted(p: dict) -> bool:
        body = p.get("push", {})
        return body.get("channel") == channel and "pub" in body and bool(body["pub"].get("offset"))

    return wanted


async def send_until_accepted(sender: RawClient, channel: str, text: str, deadline: float) -> tuple[int, float]:
    """Post (retrying error 100 with the same client_msg_id); (offset, ack time)."""
    while True:
        reply = await sender.rpc("chat.send", {"channel": channel, "text": text, "client_msg_id": text.replace(":", "-")})
        if "result" in reply:
            return int(reply["result"]["offset"]), time.monotonic()
        assert reply["error"]["code"] == 100 and reply["error"]["temporary"], reply
        assert time.monotonic() < deadline, reply
        await asyncio.sleep(0.05)


async def test_failover_of_one_shard_repairs_only_its_channels(cluster, spawn, clients):
    s = spawn(cluster.url(cluster.nodes[0]), name="shard-local")
    community = unique("loc")
    # One room per master.
    rooms: dict[int, str] = {}
    for i in itertools.count():
        channel = f"{community}:r{i}"
        rooms.setdefault(cluster.owner(f"chat:{{{channel}}}:p").port, channel)
        if len(rooms) == 3:
            break
    channels = list(rooms.values())
    for channel in channels:
        s.make_room(community, channel.split(":")[1])
        r = s.api("PUT", f"/api/communities/{community}/rooms/{channel.split(':')[1]}/moderation", {"hooks": {"flood": {"rate": 10000, "per": 1}}})
        assert r.status_code == 200, r.text
    roles = {community: "member"}
    member = await clients(s.ws_url)
    await member.connect(token("listener", roles))
    for channel in channels:
        assert "subscribe" in await member.call("subscribe", {"channel": channel})
    sender = await clients(s.ws_url)
    await sender.connect(token("poster", roles))
    deadline = time.monotonic() + 60
    for channel in channels:
        await send_until_accepted(sender, channel, f"{channel}-before", deadline)
        await member.next_push(timeout=10, where=pubs_of(member, channel))

    doomed, *healthy = channels
    await asyncio.to_thread(cluster.failover, cluster.owner(f"chat:{{{doomed}}}:p"))
    lags = []
    for n in range(5):
        for channel in channels:
            _, acked = await send_until_accepted(sender, channel, f"{channel}-after{n}", deadline)
            push = await member.next_push(timeout=10, where=pubs_of(member, channel))
            assert push["push"]["pub"]["data"]["text"] == f"{channel}-after{n}"
            if channel == doomed:
                lags.append(time.monotonic() - acked)
    log = s.log()
    for channel in healthy:
        assert f"offset gap on {channel}" not in log, log[-3000:]
    assert max(lags) < 0.5, lags
    print(f"after the failover: delivery {max(lags) * 1000:.0f} ms after the ack at most")


async def test_master_killed_delivery_follows_publishing(spawn, clients):
    """A master with a replica is killed mid-stream (its own small cluster): posts to its
    room fail with error 100 until the replica takes over; once a post is acknowledged
    again, members get it within 0.5 s; rooms on other shards never stop."""
    from loadtests.topology import Cluster

    small = Cluster(masters=3, replicas_per_master=1, node_timeout_ms=1000)
    try:
        await asyncio.to_thread(small.start)
        s = spawn(small.url(small.nodes[0]), name="shard-kill")
        community = unique("kill")
        rooms: dict[int, str] = {}
        for i in itertools.count():
            channel = f"{community}:r{i}"
            rooms.setdefault(small.owner(f"chat:{{{channel}}}:p").port, channel)
            if len(rooms) == 3:
                break
        channels = list(rooms.values())
        for channel in channels:
            name = channel.split(":")[1]
            s.make_room(community, name)
            r = s.api("PUT", f"/api/communities/{community}/rooms/{name}/moderation", {"hooks": {"flood": {"rate": 10000, "per": 1}}})
            assert r.status_code == 200, r.text
        roles = {community: "member"}
        member = await clients(s.ws_url)
        await member.connect(token("listener", roles))
        for channel in channels:
            assert "subscribe" in await member.call("subscribe", {"channel": channel})
        sender = await clients(s.ws_url)
        await sender.connect(token("poster", roles))
        deadline = time.monotonic() + 90
        doomed = channels[0]
        for channel in channels:
            await send_until_accepted(sender, channel, f"{channel}-before", deadline)
            await member.next_push(timeout=10, where=pubs_of(member, channel))
        small.owner(f"chat:{{{doomed}}}:p").kill()
        killed = time.monotonic()
        lags = []
        for n in range(10):
            for channel in channels:
                _, acked = await send_until_accepted(sender, channel, f"{channel}-after{n}", deadline)
                push = await member.next_push(timeout=15, where=pubs_of(member, channel))
                assert push["push"]["pub"]["data"]["text"] == f"{channel}-after{n}"
                lags.append((round(acked - killed, 2), channel == doomed, round(time.monotonic() - acked, 3)))
            await asyncio.sleep(0.1)
        worst = max(lag for _, _, lag in lags)
        assert worst < 0.5, lags
        log = s.log()
        for channel in channels[1:]:
            assert f"offset gap on {channel}" not in log, log[-3000:]
        first = next(at for at, on_doomed, _ in lags if on_doomed)
        print(f"master killed: its room took posts again {first:.2f}s later; delivery at most {worst * 1000:.0f} ms after an ack")
    finally:
        await asyncio.to_thread(small.stop)
