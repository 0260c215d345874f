"""RedisCatalog: communities and rooms, stored in Redis, cached in every process.

Keys: ``chat:communities`` (hash name -> JSON), ``chat:rooms`` (hash "<community>:<room>"
-> JSON). A change is written to Redis and announced on the control channel; every process
reloads its cache when it hears it, so lookups on the hot path never touch Redis.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import redis.asyncio as aioredis

from chatserver.engine import CatalogError, Control
from rooms.model import Community, Room, RoomSettings, valid_name

log = logging.getLogger("chatserver.catalog")

COMMUNITIES = "chat:communities"
ROOMS = "chat:rooms"


class RedisCatalog:
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

    async def _announce(self) -> None:
        await self.control.send("catalog")

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
            await self._announce()
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
            await self._announce()
        return created

    async def update_room(self, community: str, name: str, changes: dict[str, Any]) -> Room:
        await self.load()
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
            await self._announce()
        return removed

    async def seed(
        self,
        communities: list[dict[str, Any]],
        rooms: list[dict[str, Any]],
        demo: bool,
    ) -> list[str]:
        """Create config-defined communities and rooms that do not exist yet; on an empty
        store (and with ``demo``), also community ``demo`` with room ``lobby``."""
        created: list[str] = []
        await self.load()
        empty = await self.is_empty()
        for c in communities:
            community = Community.from_dict(c)
            if await self.put_community(community, create_only=True):
                created.append(f"community {community.name}")
        for r in rooms:
            if "community" not in r or "name" not in r:
                raise CatalogError("each [[rooms]] entry needs community and name")
            room = Room.from_dict(r)
            if room.community not in self.communities:
                await self.put_community(Community(room.community), create_only=True)
            if await self.put_room(room, create_only=True):
                created.append(f"room {room.channel}")
        if empty and demo:
            if await self.put_community(
                Community("demo", "Demo community", {}), create_only=True
            ):
                created.append("community demo")
            lobby = Room("demo", "lobby", "Lobby", RoomSettings(join_leave=True))
            if await self.put_room(lobby, create_only=True):
                created.append("room demo:lobby")
        return created


__all__ = ["CatalogError", "RedisCatalog"]
