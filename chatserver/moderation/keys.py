"""Redis keys of the moderation extension. Room keys use the room channel as hash tag (the
same slot as the room's history, so Lua scripts can touch both); community keys use the
community name.

Per room channel ``c``:
- ``mod:{c}:hold:<id>``        hash: ``r`` record (msgpack), ``s`` status, ``x`` resolution
- ``mod:{c}:holdq``            zset: pending hold ids by creation time (ms)
- ``mod:{c}:hi:<user>:<cmid>`` the hold id a client message id created (retries)
- ``mod:{c}:slow:<user>``      slow mode: set for the interval after a member's post
- ``mod:{c}:recent:<user>``    list: the member's recent posts ("<unix s>|<digest>")
- ``mod:{c}:watch``            zset: moderator-feed subscribers "<node>/<client>" -> expiry
- ``mod:{c}:rep:<offset>``     hash: reporter -> report (msgpack)
- ``mod:{c}:reports``          zset: offsets with open reports -> number of reporters
- ``mod:{c}:hidden:<offset>``  set when reports hid the message (once)
Per community ``k``:
- ``mod:{k}:audit``            stream: the audit log (field ``d`` = msgpack entry)
- ``mod:{k}:mutes`` / ``mod:{k}:bans`` / ``mod:{k}:kicks``  hashes: sanctions (msgpack)
- ``mod:{k}:posts``            hash: user -> messages posted or held (new-member hold)
- ``mod:{k}:names`` / ``mod:{k}:seen``  hash user -> {name, seen} and zset user -> last post
  (ms): the community's recent members by display name, for moderators (issue 25)
Global: ``mod:expiring`` zset of "<channel>\\n<hold id>" -> expiry (ms), swept by every ext.
"""

from __future__ import annotations

EXPIRING = "mod:expiring"


def hold(channel: str, hold_id: str) -> str:
    return f"mod:{{{channel}}}:hold:{hold_id}"


def hold_queue(channel: str) -> str:
    return f"mod:{{{channel}}}:holdq"


def hold_idempotency(channel: str, user: str, client_msg_id: str | None) -> str:
    if not client_msg_id:
        return f"mod:{{{channel}}}:hi:-"
    return f"mod:{{{channel}}}:hi:{user}:{client_msg_id}"


def slow(channel: str, user: str) -> str:
    return f"mod:{{{channel}}}:slow:{user}"


def recent(channel: str, user: str) -> str:
    return f"mod:{{{channel}}}:recent:{user}"


def watchers(channel: str) -> str:
    return f"mod:{{{channel}}}:watch"


def reporters(channel: str, offset: int) -> str:
    return f"mod:{{{channel}}}:rep:{offset}"


def reports(channel: str) -> str:
    return f"mod:{{{channel}}}:reports"


def hidden(channel: str, offset: int) -> str:
    return f"mod:{{{channel}}}:hidden:{offset}"


def audit(community: str) -> str:
    return f"mod:{{{community}}}:audit"


def sanctions(community: str, kind: str) -> str:
    return f"mod:{{{community}}}:{kind}"


def posts(community: str) -> str:
    return f"mod:{{{community}}}:posts"


def names(community: str) -> str:
    return f"mod:{{{community}}}:names"


def seen(community: str) -> str:
    return f"mod:{{{community}}}:seen"
