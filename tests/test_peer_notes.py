"""Content notes (docs/peer-support.md) through two real server processes: the author or a
moderator marks a post with a note from the community's list; members get the note live, in
history and in recovery; others may not mark it; each member's show/hide preferences are
their own data."""

from __future__ import annotations

import orjson

from tests import own_store
from tests.harness import token, unique
from tests.presence_helpers import member, rpc_result

# This module's own store: blocks, mutes and note preferences stay off the shared one.
server = own_store.server
valkey = own_store.valkey



def event_of(pub: dict) -> dict:
    raw = pub["data"]
    return orjson.loads(raw) if isinstance(raw, (bytes, str)) else raw


def note_events(pushes_or_pubs: list[dict]) -> list[dict]:
    out = []
    for p in pushes_or_pubs:
        pub = p["push"]["pub"] if "push" in p else p
        e = event_of(pub)
        if e.get("type") == "message.note":
            out.append(e)
    return out


async def test_a_note_from_the_communitys_list_reaches_members_live_in_history_and_recovery(server, spawn, valkey, clients):
    other = spawn(valkey.url, name="peer-notes")
    community = unique("cn")
    channel = server.make_room(community, "lobby")
    r = server.api("PUT", f"/api/communities/{community}", {"title": community, "settings": {"content_notes": ["loss", "eating"]}})
    assert r.status_code in (200, 201), r.text
    ann = await member(clients, server.ws_url, "ann", community, channel=channel)
    ben = await member(clients, other.ws_url, "ben", community, channel=channel)
    mod = await member(clients, other.ws_url, "mo", community, role="moderator", channel=channel)
    listed = await rpc_result(ben, "peer.notes", {"community": community})
    assert listed == {"notes": ["loss", "eating"], "prefs": {}}
    position = (await ben.call("history", {"channel": channel, "limit": 0}))["history"]

    msg = await rpc_result(ann, "chat.send", {"channel": channel, "text": "my dad died last week"})
    marked = await rpc_result(ann, "peer.note", {"channel": channel, "id": msg["id"], "offset": msg["offset"], "note": "loss"})
    assert marked["note"] == "loss"
    live = await ben.next_push(timeout=15, where=lambda p: bool(note_events([p])) if "pub" in p.get("push", {}) else False)
    (event,) = note_events([live])
    assert (event["message_id"], event["offset"], event["note"], event["by"]["user"]) == (msg["id"], msg["offset"], "loss", "ann")

    # Not on the list; not someone else's post (unless a moderator); not a wrong offset.
    bad = await ann.rpc("peer.note", {"channel": channel, "id": msg["id"], "offset": msg["offset"], "note": "weather"})
    assert bad["error"]["code"] == 107
    other_post = await ben.rpc("peer.note", {"channel": channel, "id": msg["id"], "offset": msg["offset"], "note": "eating"})
    assert other_post["error"]["code"] == 103
    wrong = await ann.rpc("peer.note", {"channel": channel, "id": "nope", "offset": msg["offset"], "note": "loss"})
    assert wrong["error"]["code"] == 107
    await rpc_result(mod, "peer.note", {"channel": channel, "id": msg["id"], "offset": msg["offset"], "note": "eating"})

    # History and recovery carry the notes, in order.
    hist = (await ben.call("history", {"channel": channel, "limit": 50}))["history"]["publications"]
    assert [e["note"] for e in note_events(hist)] == ["loss", "eating"]
    back = await clients(server.ws_url)
    await back.connect(token("cat", {community: "member"}, name="Cat"))
    sub = (await back.call("subscribe", {"channel": channel, "recover": True, "epoch": position["epoch"], "offset": position.get("offset", 0)}))["subscribe"]
    assert sub["recovered"] is True
    assert [e["note"] for e in note_events(sub["publications"])] == ["loss", "eating"]


async def test_note_preferences_are_the_members_own_and_go_with_erasure(server, clients):
    community = unique("cn")
    server.make_room(community, "lobby")
    user = unique("gil")
    g = await member(clients, server.ws_url, user, community)
    prefs = await rpc_result(g, "peer.note_prefs", {"prefs": {"loss": "show", "eating": "hide"}})
    assert prefs == {"prefs": {"loss": "show", "eating": "hide"}}
    assert (await rpc_result(g, "peer.note_prefs", {"prefs": {"loss": "ask"}}))["prefs"] == {"eating": "hide"}
    assert (await g.rpc("peer.note_prefs", {"prefs": {"loss": "maybe"}}))["error"]["code"] == 107
    doc = server.api("GET", f"/api/users/{user}/export").json()
    assert doc["content_note_preferences"] == [{"note": "eating", "pref": "hide"}]
    erased = server.api("POST", f"/api/users/{user}/erase", {"actor": "dpo@example.org"})
    assert erased.status_code == 200, erased.text
    assert erased.json()["removed"]["content_note_preferences"] == 1
