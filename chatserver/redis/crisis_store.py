"""Crisis cases in Redis (``RedisCaseStore``). Every key of a community's cases is under the
community's hash tag, so each Lua call touches one cluster slot:

- ``crisis:{<c>}:case:<id>``   hash: id, state, user, name, channel, source, opened_at,
  deadline, last_at, count, ack_at/ack_by, contact_at/contact_by, closed_at/closed_by,
  outcome, note, escalated_at, conversation (times in ms, actors as JSON)
- ``crisis:{<c>}:items:<id>``  list: the crisis messages of the case (msgpack), oldest first
- ``crisis:{<c>}:open``        hash: user -> their open (not closed) case id
- ``crisis:{<c>}:cases``       zset: case id -> opened (ms), newest listed first
- ``crisis:{<c>}:due``         zset: open case id -> acknowledgement deadline (ms)
- ``crisis:{<c>}:notify``      zset: escalated case id -> announce again after (ms), until the
  escalating process confirms it announced the escalation

Lua: ``crisis_open.lua`` (one open case per member), ``crisis_join.lua``,
``crisis_transition.lua`` (compare-and-set between states), ``crisis_escalate.lua`` (exactly
one sweeper escalates a case), ``crisis_renotify.lua`` (an unannounced escalation is claimed
again after the grace time).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgpack
import redis.asyncio as aioredis

from chatserver.moderation import keys as mod_keys
from chatserver.redis.broker import load_lua

MAX_ITEMS = 50  # crisis messages kept per case (the newest)


def case_key(community: str, case_id: str) -> str:
    return f"crisis:{{{community}}}:case:{case_id}"


def items_key(community: str, case_id: str) -> str:
    return f"crisis:{{{community}}}:items:{case_id}"


def open_key(community: str) -> str:
    return f"crisis:{{{community}}}:open"


def index_key(community: str) -> str:
    return f"crisis:{{{community}}}:cases"


def due_key(community: str) -> str:
    return f"crisis:{{{community}}}:due"


def notify_key(community: str) -> str:
    return f"crisis:{{{community}}}:notify"


def last_key(community: str, user: str) -> str:
    return f"crisis:{{{community}}}:last:{user}"


def concern_key(community: str, user: str) -> str:
    return f"crisis:{{{community}}}:concern:{user}"


def _decode(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


class RedisCaseStore:
    def __init__(self, client: aioredis.Redis) -> None:
        self.redis = client
        self._open = client.register_script(load_lua("crisis_open.lua"))
        self._join = client.register_script(load_lua("crisis_join.lua"))
        self._transition = client.register_script(load_lua("crisis_transition.lua"))
        self._escalate = client.register_script(load_lua("crisis_escalate.lua"))
        self._renotify = client.register_script(load_lua("crisis_renotify.lua"))

    async def open(
        self, community: str, user: str, case_id: str, now_ms: int, deadline_ms: int, item: dict[str, Any], fields: dict[str, str]
    ) -> tuple[str, bool]:
        """Open a case for ``user`` or return their open one: (case id, created)."""
        flat: list[str] = []
        for name, value in fields.items():
            flat += [name, value]
        got, created = await self._open(
            keys=[
                open_key(community),
                case_key(community, case_id),
                items_key(community, case_id),
                index_key(community),
                due_key(community),
            ],
            args=[user, case_id, now_ms, deadline_ms, msgpack.packb(item, use_bin_type=True), *flat],
        )
        return (got.decode() if isinstance(got, bytes) else str(got)), bool(created)

    async def join(self, community: str, case_id: str, user: str, item: dict[str, Any], now_ms: int) -> bool:
        return bool(
            await self._join(
                keys=[case_key(community, case_id), items_key(community, case_id), open_key(community)],
                args=[msgpack.packb(item, use_bin_type=True), now_ms, case_id, user, MAX_ITEMS],
            )
        )

    async def transition(
        self, community: str, case_id: str, expected: Sequence[str], new: str, fields: dict[str, str], retention: int
    ) -> tuple[str, bool]:
        flat: list[str] = []
        for name, value in fields.items():
            flat += [name, value]
        before, changed = await self._transition(
            keys=[case_key(community, case_id), open_key(community), due_key(community), items_key(community, case_id)],
            args=[case_id, ",".join(expected), new, retention, *flat],
        )
        return (before.decode() if isinstance(before, bytes) else str(before)), bool(changed)

    async def escalate(self, community: str, case_id: str, now_ms: int, grace_ms: int) -> bool:
        return bool(
            await self._escalate(
                keys=[case_key(community, case_id), due_key(community), notify_key(community)], args=[case_id, now_ms, grace_ms]
            )
        )

    async def unannounced(self, communities: Sequence[str], now_ms: int) -> list[tuple[str, str]]:
        """(community, case id) of escalations nobody confirmed announcing by now."""
        if not communities:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for community in communities:
            pipe.zrangebyscore(notify_key(community), "-inf", now_ms, start=0, num=100)
        out = []
        for community, ids in zip(communities, await pipe.execute(), strict=True):
            out += [(community, i.decode()) for i in ids]
        return out

    async def claim_announcement(self, community: str, case_id: str, now_ms: int, grace_ms: int) -> bool:
        return bool(await self._renotify(keys=[notify_key(community)], args=[case_id, now_ms, grace_ms]))

    async def announced(self, community: str, case_id: str) -> None:
        await self.redis.zrem(notify_key(community), case_id)

    async def set_field(self, community: str, case_id: str, name: str, value: str) -> None:
        await self.redis.hset(case_key(community, case_id), name, value)

    async def get(self, community: str, case_id: str) -> tuple[dict[str, str], list[dict[str, Any]]] | None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(case_key(community, case_id))
        pipe.lrange(items_key(community, case_id), 0, -1)
        raw, items = await pipe.execute()
        if not raw:
            return None
        return _decode(raw), [msgpack.unpackb(i, raw=False) for i in items]

    async def open_case_of(self, community: str, user: str) -> str | None:
        got = await self.redis.hget(open_key(community), user)
        return None if got is None else got.decode()

    async def remember_closed(self, community: str, user: str, case_id: str, ttl: int) -> None:
        """The member's last closed case, for ``ttl`` seconds (her resources linger)."""
        await self.redis.set(last_key(community, user), case_id, ex=max(1, ttl))

    async def last_closed_of(self, community: str, user: str) -> str | None:
        got = await self.redis.get(last_key(community, user))
        return None if got is None else got.decode()

    async def claim_concern(self, community: str, user: str, limit: int, window: int) -> bool:
        """One more "I'm worried about this person" from ``user``: False past ``limit`` in
        ``window`` seconds."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(concern_key(community, user))
        pipe.expire(concern_key(community, user), window, nx=True)
        count, _ = await pipe.execute()
        return int(count) <= limit

    async def recent(self, community: str, limit: int) -> list[tuple[dict[str, str], list[dict[str, Any]]]]:
        """Cases newest first (closed ones until their retention ends); stale ids pruned."""
        ids = [i.decode() for i in await self.redis.zrevrange(index_key(community), 0, max(0, limit - 1))]
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for case_id in ids:
            pipe.hgetall(case_key(community, case_id))
            pipe.lrange(items_key(community, case_id), 0, -1)
        results = await pipe.execute()
        out = []
        stale = []
        for n, case_id in enumerate(ids):
            raw, items = results[2 * n], results[2 * n + 1]
            if not raw:
                stale.append(case_id)
                continue
            out.append((_decode(raw), [msgpack.unpackb(i, raw=False) for i in items]))
        if stale:
            await self.redis.zrem(index_key(community), *stale)
        return out

    async def due(self, communities: Sequence[str], now_ms: int) -> list[tuple[str, str]]:
        """(community, case id) of open cases past their acknowledgement deadline."""
        if not communities:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for community in communities:
            pipe.zrangebyscore(due_key(community), "-inf", now_ms, start=0, num=100)
        out = []
        for community, ids in zip(communities, await pipe.execute(), strict=True):
            out += [(community, i.decode()) for i in ids]
        return out

    async def counts(self, communities: Sequence[str]) -> dict[str, tuple[int, int]]:
        """community -> (cases not closed, cases waiting for acknowledgement)."""
        if not communities:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for community in communities:
            pipe.hlen(open_key(community))
            pipe.zcard(due_key(community))
        results = await pipe.execute()
        return {c: (int(results[2 * n]), int(results[2 * n + 1])) for n, c in enumerate(communities)}

    async def has_posted(self, community: str, user: str) -> bool:
        """Whether ``user`` has posted in the community (moderation's post counts)."""
        return bool(await self.redis.hget(mod_keys.posts(community), user))
