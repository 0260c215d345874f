"""A server too busy to read a pong in time does not blame the client: a pong that waits
behind the client's own command still being handled keeps the connection (a client that
does not answer at all is still closed with 3012: test_protocol_errors.test_no_pong_closes_3012)."""

from __future__ import annotations

import asyncio

from tests.harness import token, unique
from tests.moderation_support import send

# A hook that takes 3 s on "sleepy" (timeout 3.5 s): the member's command is handled for
# longer than the pong timeout, while the client answers the server's pings at once.
SLOW_CONFIG = """
[moderation.hooks.slowpoke]
use = "tests.moderation_test_hooks:sleeping_hook"
timeout = 3
"""


async def test_pong_behind_a_slow_command_keeps_the_connection(spawn, valkey, clients, tmp_path):
    config = tmp_path / "slow.toml"
    config.write_text(SLOW_CONFIG)
    s = spawn(
        valkey.url,
        env={"CHATSERVER_PING_INTERVAL": "1", "CHATSERVER_PONG_TIMEOUT": "1"},
        args=["--config", str(config)],
    )
    community = unique("busy")
    channel = s.make_room(community, "r")
    r = s.api("PUT", f"/api/communities/{community}/rooms/r/moderation", {"pipeline": ["slowpoke"]})
    assert r.status_code == 200, r.text
    c = await clients(s.ws_url)  # RawClient answers every ping at once
    assert "connect" in await c.connect(token("pat", {community: "member"}))
    result = await asyncio.wait_for(send(c, channel, "so sleepy"), 10)
    # The slow hook timed out, so the message waits for review; the connection survived
    # the pings whose pongs were queued behind this command.
    assert result.get("status") == "held", result
    assert not c.closed.done()
    await asyncio.sleep(2.5)  # the queued pongs are read now: pings go on normally
    assert not c.closed.done()
    assert "ping" in await c.call("ping", {})
