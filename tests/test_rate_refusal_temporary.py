"""A rate refusal ("you are posting too fast; try again in N s") is a temporary error with
the wait: the client may send the same message again after N seconds. Refusals for what a
message says stay permanent (docs/protocol.md, error 1001)."""

from __future__ import annotations

import re

from tests.harness import token, unique


async def test_posting_too_fast_is_temporary_with_the_wait_other_refusals_are_not(server, clients, fmt):
    community = unique("rate")
    channel = server.make_room(community, "r")
    r = server.api(
        "PUT",
        f"/api/communities/{community}/rooms/r/moderation",
        {
            "pipeline": ["flood", "rules"],
            "hooks": {"flood": {"rate": 3, "per": 60}, "rules": {"rules": [{"words": ["badword"], "reason": "not that word"}]}},
        },
    )
    assert r.status_code == 200, r.text
    client = await clients(server.ws_url, protobuf_mode=fmt == "protobuf")
    assert "connect" in await client.connect(token(unique("u"), {community: "member"}))
    rude = await client.call("publish", {"channel": channel, "data": {"text": "badword"}})
    assert rude["error"]["code"] == 1001 and "not that word" in rude["error"]["message"]
    assert not rude["error"].get("temporary")  # sending it again will not help
    for n in range(2):  # the refused one counted too: three in the minute
        ok = await client.call("publish", {"channel": channel, "data": {"text": f"hello {n}"}})
        assert "error" not in ok, ok
    for call in ("publish", "rpc"):
        if call == "publish":
            reply = await client.call("publish", {"channel": channel, "data": {"text": "one more"}})
        else:
            reply = await client.rpc("chat.send", {"channel": channel, "text": "one more"})
        error = reply["error"]
        assert error["code"] == 1001 and error.get("temporary") is True, error
        wait = re.search(r"try again in (\d+) s", error["message"])
        assert wait is not None and 1 <= int(wait.group(1)) <= 60, error
