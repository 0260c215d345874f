"""RedisCatalog: communities and rooms, stored in Redis, cached in every process.

Keys: ``chat:communities`` (hash name -> JSON), ``chat:rooms`` (hash "<community>:<room>"
-> JSON). A change is written to Redis and announced on the control channel with what
changed (``{"c": community}`` or ``{"r": "<community>:<room>"}``); every process rereads
that one record when it hears it (``on_control``: O(1) per change, and the latest write
wins whatever order the announcements arrive in), so lookups on the hot path never touch
Redis. An announcement without a key (seeding, which writes in batches) reloads everything.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import redis.asyncio as aioredis

from chatserver.engine import CatalogError, Control
from chatserver.member_data import MemberScope
from chatserver.redis.broker import deleted_key, edits_key, meta_key, stream_key
from rooms.model import Community, Room, RoomSettings, valid_name
from rooms.private import private_of

log = logging.getLogger("chatserver.catalog")

COMMUNITIES = "chat:communities"
ROOMS = "chat:rooms"
SEED_BATCH = 1000  # records per pipelined write when seeding


class RedisCatalog:
    member_phase = 10  # conversations go whole, first (their channels with them)

    def __init__(self, client: aioredis.Redis, control: Control) -> None:
        self.redis = client
        self.control = control
        self.communities: dict[str, Community] = {}
        self.rooms: dict[str, Room] = {}

    async def load(self) -> None:
        raw_c = await self.redis.hgetall(COMMUNITIES)
        raw_r = await self.redis.hgetall(ROOMS)
        communities = {}
        for value in raw_c.values():
            c = Community.from_dict(orjson.loads(value))
            communities[c.name] = c
        rooms = {}
        for value in raw_r.values():
            try:
                r = Room.from_dict(orjson.loads(value))
            except (ValueError, KeyError) as exc:
                log.error("skipping unreadable room record: %s", exc)
                continue
            rooms[r.channel] = r
        self.communities = communities
        self.rooms = rooms

    def room(self, community: str, name: str) -> Room | None:
        return self.rooms.get(f"{community}:{name}")

    def rooms_of(self, community: str) -> list[Room]:
        return sorted(
            (r for r in self.rooms.values() if r.community == community), key=lambda r: r.name
        )

    async def _announce(self, **changed: str) -> None:
        await self.control.send("catalog", **changed)

    async def on_control(self, msg: dict[str, Any]) -> None:
        """An announced change: reread the record it names (or everything)."""
        community = msg.get("c")
        channel = msg.get("r")
        if isinstance(community, str) and community:
            await self._reread_community(community)
        elif isinstance(channel, str) and channel:
            await self._reread_room(channel)
        else:
            await self.load()

    async def _reread_community(self, name: str) -> None:
        raw = await self.redis.hget(COMMUNITIES, name)
        if raw is None:
            self.communities.pop(name, None)
            return
        community = Community.from_dict(orjson.loads(raw))
        if self.communities.get(name) != community:  # an equal one is kept (caches key on it)
            self.communities[name] = community

    async def _reread_room(self, channel: str) -> None:
        raw = await self.redis.hget(ROOMS, channel)
        if raw is None:
            self.rooms.pop(channel, None)
            return
        try:
            room = Room.from_dict(orjson.loads(raw))
        except (ValueError, KeyError) as exc:
            log.error("skipping unreadable room record: %s", exc)
            return
        if self.rooms.get(channel) != room:
            self.rooms[channel] = room

    async def is_empty(self) -> bool:
        # One key per call: the two hashes hash to different cluster slots.
        return not (await self.redis.exists(COMMUNITIES) or await self.redis.exists(ROOMS))

    async def put_community(self, community: Community, *, create_only: bool = False) -> bool:
        if not valid_name(community.name):
            raise CatalogError(
                f"invalid community name {community.name!r}: use 1-64 of a-z, 0-9, '-', '_'"
            )
        data = orjson.dumps(community.to_dict())
        if create_only:
            created = bool(await self.redis.hsetnx(COMMUNITIES, community.name, data))
        else:
            await self.redis.hset(COMMUNITIES, community.name, data)
            created = True
        if created:
            self.communities[community.name] = community
            await self._announce(c=community.name)
        return created

    async def put_room(self, room: Room, *, create_only: bool = False) -> bool:
        if not valid_name(room.name):
            raise CatalogError(f"invalid room name {room.name!r}: use 1-64 of a-z, 0-9, '-', '_'")
        if room.community not in self.communities:
            raise CatalogError(f"no community {room.community!r}")
        data = orjson.dumps(room.to_dict())
        if create_only:
            created = bool(await self.redis.hsetnx(ROOMS, room.channel, data))
        else:
            await self.redis.hset(ROOMS, room.channel, data)
            created = True
        if created:
            self.rooms[room.channel] = room
            await self._announce(r=room.channel)
        return created

    async def update_room(self, community: str, name: str, changes: dict[str, Any]) -> Room:
        await self._reread_room(f"{community}:{name}")  # the latest stored record
        room = self.room(community, name)
        if room is None:
            raise KeyError(f"{community}:{name}")
        title = changes.pop("title", room.title)
        if not isinstance(title, str):
            raise CatalogError("title must be a string")
        settings: RoomSettings = room.settings.updated(changes.pop("settings", {}) or {})
        if changes:
            raise CatalogError(f"unknown room fields: {', '.join(sorted(changes))}")
        new = Room(community=room.community, name=room.name, title=title, settings=settings)
        await self.put_room(new)
        return new

    async def delete_room(self, community: str, name: str) -> bool:
        removed = bool(await self.redis.hdel(ROOMS, f"{community}:{name}"))
        if removed:
            self.rooms.pop(f"{community}:{name}", None)
            await self._announce(r=f"{community}:{name}")
        return removed

    # ---- member data (chatserver.member_data): private support conversations ----------------

    def _conversations(self, user: str) -> list[Room]:
        rooms = sorted(self.rooms.values(), key=lambda r: r.channel)
        return [room for room in rooms if (conv := private_of(room)) is not None and conv.member == user]

    async def export_member(self, scope: MemberScope) -> dict[str, list[Any]]:
        return {"conversations": [room.channel for room in self._conversations(scope.user)]}

    async def forget_member(self, scope: MemberScope) -> dict[str, int]:
        """A conversation with the member goes whole: its record and every channel of it
        (the invited hosts' notices naming the member go with the stream store's turn)."""
        counts = {"conversations": 0, "keys": 0}
        dropped: set[str] = set()
        for room in self._conversations(scope.user):
            conv = private_of(room)
            if conv is not None:
                scope.notified.update(conv.hosts)
            for channel in (room.channel, f"{room.channel}/mod", f"{room.channel}/qa", f"{room.channel}/screening"):
                counts["keys"] += int(await self.redis.delete(stream_key(channel), meta_key(channel), deleted_key(channel), edits_key(channel)))
            await self.delete_room(room.community, room.name)
            dropped.add(room.channel)
            counts["conversations"] += 1
            scope.touched.add(room.community)
        scope.rooms = [room for room in scope.rooms if room.channel not in dropped]  # gone whole
        return counts

    async def seed(
        self,
        communities: list[dict[str, Any]],
        rooms: list[dict[str, Any]],
        demo: bool,
    ) -> list[str]:
        """Create config-defined communities and rooms that do not exist yet; on an empty
        store (and with ``demo``), also community ``demo`` with room ``lobby``. Written in
        pipelined batches (``HSETNX``: a record someone else created meanwhile is kept), then
        one announcement: every process reloads once, whatever the number of rooms."""
        await self.load()
        empty = await self.is_empty()
        new_communities: dict[str, Community] = {}
        new_rooms: dict[str, Room] = {}

        def want_community(community: Community) -> None:
            if community.name not in self.communities and community.name not in new_communities:
                if not valid_name(community.name):
                    raise CatalogError(
                        f"invalid community name {community.name!r}: use 1-64 of a-z, 0-9, '-', '_'"
                    )
                new_communities[community.name] = community

        for c in communities:
            want_community(Community.from_dict(c))
        for r in rooms:
            if "community" not in r or "name" not in r:
                raise CatalogError("each [[rooms]] entry needs community and name")
            room = Room.from_dict(r)
            if not valid_name(room.name):
                raise CatalogError(f"invalid room name {room.name!r}: use 1-64 of a-z, 0-9, '-', '_'")
            want_community(Community(room.community))
            if room.channel not in self.rooms and room.channel not in new_rooms:
                new_rooms[room.channel] = room
        if empty and demo:
            want_community(Community("demo", "Demo community", {}))
            lobby = Room("demo", "lobby", "Lobby", RoomSettings(join_leave=True))
            if lobby.channel not in self.rooms and lobby.channel not in new_rooms:
                new_rooms[lobby.channel] = lobby
        created = [f"community {name}" for name in await self._put_new(COMMUNITIES, new_communities)]
        created += [f"room {channel}" for channel in await self._put_new(ROOMS, new_rooms)]
        if created:
            await self.load()
            await self._announce()
        return created

    async def _put_new(self, key: str, records: dict[str, Community] | dict[str, Room]) -> list[str]:
        """``HSETNX`` each record, in pipelined batches; the names that were created."""
        created: list[str] = []
        items = list(records.items())
        for start in range(0, len(items), SEED_BATCH):
            batch = items[start : start + SEED_BATCH]
            pipe = self.redis.pipeline(transaction=False)
            for name, record in batch:
                pipe.hsetnx(key, name, orjson.dumps(record.to_dict()))
            results = await pipe.execute()
            created += [name for (name, _), ok in zip(batch, results, strict=True) if ok]
        return created


__all__ = ["CatalogError", "RedisCatalog"]
