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
