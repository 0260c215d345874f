"""The engine's interfaces: what the rest of the server needs from the store behind it.

Implemented by ``chatserver.redis`` for one Redis/Valkey, a Redis Cluster and Sentinel
(``chatserver.redis.deployment`` picks the parts once). Every per-channel operation takes
the channel and keeps its keys in one hash slot, so it runs on a cluster unchanged. Nothing outside the engine's
package names a Redis command: services receive these interfaces from the composition root
(``chatserver.app``). The data types the interfaces speak are defined here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import msgpack

from presence.model import Counts, MemberFlags, OnlineMember
from rooms.model import Community, Room

# ---------------------------------------------------------------------------------- streams


@dataclass(frozen=True, slots=True)
class HistoryOptions:
    size: int
    ttl: int
    meta_ttl: int


@dataclass(frozen=True, slots=True)
class PublishResult:
    offset: int
    epoch: str
    duplicate: bool


@dataclass(frozen=True, slots=True)
class StreamEntry:
    offset: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class HistoryResult:
    top: int
    epoch: str
    entries: list[StreamEntry]
    deleted: int


class Streams(Protocol):
    """A channel's stream: publications with offsets and an epoch, kept for recovery."""

    async def publish(
        self,
        channel: str,
        payload: bytes,
        history: HistoryOptions,
        idempotency: tuple[str, str] | None = None,
        idempotency_ttl: int = 600,
    ) -> PublishResult:
        """Append and fan out atomically; ``idempotency`` = (user, client message id)."""
        ...

    async def published_offset(self, channel: str, user: str, client_msg_id: str) -> int | None:
        """The offset an earlier publish with this idempotency key got, if any."""
        ...

    async def publish_ephemeral(self, channel: str, payload: bytes) -> None:
        """Fan out without history or offset (join/leave, typing)."""
        ...

    async def history(
        self, channel: str, since: int | None, limit: int, reverse: bool = False
    ) -> HistoryResult: ...

    async def position(self, channel: str) -> tuple[int, str]: ...

    async def recover(
        self, channel: str, offset: int, epoch: str, max_count: int
    ) -> tuple[bool, HistoryResult]: ...

    async def delete(
        self, channel: str, offset: int, payload: bytes, history: HistoryOptions
    ) -> tuple[bool, int]:
        """Remove one publication and publish ``payload`` (its deletion) atomically."""
        ...

    async def edit(
        self, channel: str, offset: int, expected: bytes, payload: bytes, event: bytes, history: HistoryOptions
    ) -> tuple[int, int]:
        """Replace one publication's payload in place (compare-and-set on ``expected``) and
        publish ``event`` (its edit) atomically: (1 edited | 0 gone | -1 changed, event offset)."""
        ...

    async def entry(self, channel: str, offset: int) -> StreamEntry | None: ...

    async def entries_before(self, channel: str, before: int | None, count: int) -> list[StreamEntry]: ...


class Commands(Protocol):
    """Small reads and writes on a hot path, over the engine's pipelined connection (raw
    replies). Only the engine's own stores (``chatserver.redis``) build commands."""

    async def command(self, *args: bytes | str | int) -> Any: ...

    async def commands(self, commands: list[tuple[bytes | str | int, ...]]) -> list[Any]: ...


class Subscriptions(Protocol):
    """Fan-out subscriptions of this process (one per channel with local members)."""

    async def start(self, timeout: float = 10.0) -> None: ...

    async def close(self) -> None: ...

    async def subscribe(self, channel: bytes) -> None:
        """Returns once the subscription is confirmed."""
        ...

    def unsubscribe(self, channel: bytes) -> None: ...


class Control(Protocol):
    """Cross-process control messages (every process gets every message)."""

    async def send(self, kind: str, **fields: Any) -> None:
        """Every process's handlers for ``kind`` (``Hub.on_control``) get ``fields``."""
        ...


# ---------------------------------------------------------------------------------- catalog


class CatalogError(ValueError):
    """A catalog change that cannot be made (e.g. a room of a missing community)."""


class Catalog(Protocol):
    """Communities and rooms, cached per process (``load`` refreshes the cache; every change
    is announced to every process with what changed, and ``on_control`` rereads just that)."""

    communities: dict[str, Community]
    rooms: dict[str, Room]

    async def load(self) -> None: ...

    async def on_control(self, msg: dict[str, Any]) -> None: ...

    def room(self, community: str, name: str) -> Room | None: ...

    def rooms_of(self, community: str) -> list[Room]: ...

    async def put_community(self, community: Community, *, create_only: bool = False) -> bool: ...

    async def put_room(self, room: Room, *, create_only: bool = False) -> bool: ...

    async def update_room(self, community: str, name: str, changes: dict[str, Any]) -> Room: ...

    async def delete_room(self, community: str, name: str) -> bool: ...

    async def seed(self, communities: list[dict[str, Any]], rooms: list[dict[str, Any]], demo: bool) -> list[str]: ...


# ---------------------------------------------------------------------------------- presence


@dataclass(frozen=True, slots=True)
class RoomRef:
    """One room as a presence call needs it (settings read at call time)."""

    channel: str
    join_leave: bool
    threshold: int


@dataclass(frozen=True, slots=True)
class JoinOp:
    client: str
    user: str
    member: bytes  # flags digit + msgpack {n: name, r: role}
    entry: bytes  # msgpack client info


@dataclass(frozen=True, slots=True)
class LeaveOp:
    client: str
    user: str


PresenceOp = JoinOp | LeaveOp


@dataclass(frozen=True, slots=True)
class ApplyResult:
    lost: bool  # this node had no live presence in the room before the call
    due: bool  # the caller must publish a count event soon
    published: int  # join/leave messages published by the call
    counts: Counts


@dataclass(frozen=True, slots=True)
class ReadResult:
    due: bool
    published: int
    counts: Counts


class PresenceStore(Protocol):
    """Room presence, the process registry, user status and typing (docs/presence.md)."""

    calls: int
    node: str  # this process's id in the process registry

    async def apply(
        self,
        room: RoomRef,
        ops: Sequence[PresenceOp],
        *,
        beat: bool = False,
        forced: Sequence[str] = (),
        now: float | None = None,
    ) -> ApplyResult: ...

    async def counts(self, room: RoomRef, *, pending: bool = False, now: float | None = None) -> ReadResult: ...

    async def entries(
        self, room: RoomRef, max_entries: int, *, now: float | None = None
    ) -> tuple[ReadResult, dict[str, dict[str, Any]] | int]: ...

    async def members(
        self, room: RoomRef, limit: int, *, now: float | None = None
    ) -> tuple[ReadResult, list[OnlineMember], list[OnlineMember]]: ...

    async def register_node(self, users: Iterable[str] | None, *, now: float | None = None) -> bool: ...

    async def update_users(self, online: Sequence[str], offline: Sequence[str]) -> None: ...

    async def dead_nodes(self, *, now: float | None = None) -> list[str]: ...

    async def live_nodes(self, *, now: float | None = None) -> list[str]: ...

    async def drop_node(self) -> None: ...

    async def online(self, users: Sequence[str], *, now: float | None = None) -> dict[str, bool]: ...

    async def typing(
        self,
        channel: str,
        user: str,
        action: str,
        message: bytes,
        *,
        expires_at: float = 0.0,
        interval: float = 0.0,
        now: float | None = None,
    ) -> int: ...


# ---------------------------------------------------------------------------- presence entries
# A connection's presence entry (``JoinOp``): its flags, then name and role (msgpack).


def pack_member(flags: MemberFlags, name: str, role: str) -> bytes:
    return flags.encode().encode() + msgpack.packb({"n": name, "r": role}, use_bin_type=True)


def unpack_member(user: str, value: bytes) -> OnlineMember:
    flags = MemberFlags.decode(value)
    body = msgpack.unpackb(value[1:], raw=False) if len(value) > 1 else {}
    return OnlineMember(user=user, name=str(body.get("n", user)), role=str(body.get("r", "member")), flags=flags)
