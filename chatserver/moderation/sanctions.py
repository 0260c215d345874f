"""Mutes, bans and kick blocks: stored in Redis per community, cached in every process.

The hot path (every post, every subscribe) only reads the in-process cache. A change is
written to Redis and announced on the control channel (``mod.sanction``); every process
updates its cache when it hears it, and reloads everything every ``RELOAD_SECONDS`` in case
a control message was missed while its pub/sub connection was down. An expired sanction is
simply ignored (and removed when next touched).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgpack

from chatserver.protocol import codes
from rooms.channels import parse_channel
from rooms.retention import PSEUDONYM_PREFIX, pseudonym, pseudonym_key

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext
    from chatserver.stores import ModerationStore

log = logging.getLogger("chatserver.moderation.sanctions")

KINDS = ("mutes", "bans", "kicks")
RELOAD_SECONDS = 30
UNSUBSCRIBE_KICKED = codes.UNSUBSCRIBE_KICKED  # below 2500: the SDK stays unsubscribed
UNSUBSCRIBE_BANNED = codes.UNSUBSCRIBE_BANNED


@dataclass(frozen=True, slots=True)
class Sanction:
    until: float  # unix seconds; 0 = until lifted
    by: str = ""
    reason: str = ""
    at: float = 0.0

    def active(self, now: float) -> bool:
        return self.until == 0 or self.until > now

    def pack(self) -> bytes:
        return msgpack.packb({"u": self.until, "b": self.by, "r": self.reason, "a": self.at}, use_bin_type=True)

    @classmethod
    def unpack(cls, raw: bytes) -> Sanction:
        d = msgpack.unpackb(raw, raw=False)
        return cls(float(d.get("u", 0)), d.get("b", ""), d.get("r", ""), float(d.get("a", 0)))


def kick_field(room: str, user: str) -> str:
    return f"{room}\n{user}"


class Sanctions:
    def __init__(self, ext: ExtensionContext, store: ModerationStore) -> None:
        self.ext = ext
        self.store = store
        # kind -> community -> field (user, or "room\nuser" for kicks) -> sanction
        self.cache: dict[str, dict[str, dict[str, Sanction]]] = {k: {} for k in KINDS}
        self._task: asyncio.Task[None] | None = None
        self._changes = 0  # bumped by every applied change; a reload that raced one is dropped
        self._pseudonym_key = pseudonym_key(ext.settings.secret, ext.settings.api_key)
        self._erased: dict[tuple[str, str], tuple[tuple[int, int, int], bool]] = {}

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self.ext.registry.on_control("mod.sanction", self._on_control)
        for _ in range(5):
            if await self.reload():
                break
        self._task = asyncio.ensure_future(self._reload_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _reload_loop(self) -> None:
        while True:
            await asyncio.sleep(RELOAD_SECONDS)
            try:
                await self.reload()
            except Exception:
                self.ext.tasks.log_failure(log, "reloading sanctions failed; keeping the cached ones")

    async def reload(self) -> bool:
        """Read every community's sanctions; False (cache untouched) if a change raced it."""
        before = self._changes
        communities = sorted(self.ext.catalog.communities)
        fresh: dict[str, dict[str, dict[str, Sanction]]] = {k: {} for k in KINDS}
        if communities:
            results = await self.store.sanctions(communities, KINDS)
            i = 0
            for community in communities:
                for kind in KINDS:
                    raw = results[i]
                    i += 1
                    if raw:
                        fresh[kind][community] = {f.decode(): Sanction.unpack(v) for f, v in raw.items()}
        if self._changes != before:
            return False  # a change arrived while reading: keep it, read everything again later
        self.cache = fresh
        return True

    # ---- reads (hot path: no Redis) ------------------------------------------------------------

    def get(self, kind: str, community: str, field: str, now: float | None = None) -> Sanction | None:
        table = self.cache[kind].get(community, {})
        s = table.get(field)
        if s is None and table and self._pseudonymous(kind, community, table):
            # An erased member's sanction names their pseudonym: it keeps applying to the id.
            room, sep, user = field.rpartition("\n")
            s = table.get(room + sep + pseudonym(user, self._pseudonym_key))
        if s is None or not s.active(time.time() if now is None else now):
            return None
        return s

    def _pseudonymous(self, kind: str, community: str, table: dict[str, Sanction]) -> bool:
        """Whether the table names a pseudonym (cached until the table changes)."""
        marker = (id(table), len(table), self._changes)
        cached = self._erased.get((kind, community))
        if cached is None or cached[0] != marker:
            found = any(f.startswith(PSEUDONYM_PREFIX) or ("\n" + PSEUDONYM_PREFIX) in f for f in table)
            self._erased[(kind, community)] = (marker, found)
            return found
        return cached[1]

    def listing(self, kind: str, community: str) -> dict[str, Sanction]:
        now = time.time()
        return {f: s for f, s in self.cache[kind].get(community, {}).items() if s.active(now)}

    # ---- writes ----------------------------------------------------------------------------

    async def put(self, kind: str, community: str, field: str, sanction: Sanction) -> None:
        await self.store.put_sanction(kind, community, field, sanction.pack())
        self._apply(kind, community, field, sanction)

    async def lift(self, kind: str, community: str, field: str) -> bool:
        removed = await self.store.lift_sanction(kind, community, field)
        self._apply(kind, community, field, None)
        return removed

    def _apply(self, kind: str, community: str, field: str, sanction: Sanction | None) -> None:
        self._changes += 1
        table = self.cache.setdefault(kind, {}).setdefault(community, {})
        if sanction is None:
            table.pop(field, None)
        else:
            table[field] = sanction

    def _on_control(self, msg: dict[str, Any]) -> None:
        kind = str(msg.get("what", ""))
        if kind not in KINDS:
            return
        community = str(msg.get("community", ""))
        field = str(msg.get("field", ""))
        raw = msg.get("s")
        sanction = Sanction.unpack(raw) if raw else None
        self._apply(kind, community, field, sanction)
        if kind == "bans" and sanction is not None:
            self.drop_local_subscriptions(community, field, "banned from this community")

    def drop_local_subscriptions(self, community: str, user: str, reason: str) -> None:
        """Unsubscribe ``user``'s connections on this process from every channel of
        ``community`` (rooms, Q&A boards, moderator feeds). Private channels stay."""
        for conn in list(self.ext.local_users.get(user, ())):
            for channel in list(conn.subs):
                parsed = parse_channel(channel)
                if parsed is not None and parsed.community == community:
                    conn.server_unsubscribe(channel, UNSUBSCRIBE_BANNED, reason)
