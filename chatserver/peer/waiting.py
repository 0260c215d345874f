"""Waiting for a reply (issue 27.1) and the supporters' "I'm on it" (27.5).

A room is a support room when its settings say so (``extra: {"support": true}``, with
``reply_wait`` seconds, default 600, and ``reactions_count_as_reply``). A member's post there
is tracked from the moment it is published; the first reply by someone else (a message with
``reply_to`` naming it, or a reaction when the room counts them) ends the tracking and is
measured (time to first reply, per room). A post still unanswered after ``reply_wait``
enters the community's waiting list (oldest first), is counted, goes to the audit log as
``post.unanswered`` (a webhook event; never the text) and is announced live to the
community's moderators (``<community>/mod``) and supporters (``user#<id>``). It leaves the
list when answered. Supporters, moderators and admins read the list (``peer.waiting``) and
mark a post as taken (``peer.take``); everyone watching sees who has it.

Cost: the post path asks the room's settings (a dict lookup) and does nothing more in rooms
that are not support rooms; a support room's post costs one tracking write (and a reply one
script call). The move to the waiting list is a sweep (``peer_sweep.lua``) each process runs
about once a second per community with support rooms; whichever process moves a post
announces it, so it is announced once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from chatserver.errors import ReplyError
from chatserver.moderation.audit import SYSTEM, Actor
from chatserver.posting import Published, Submission
from chatserver.protocol import codes
from chatserver.publication import Publication
from chatserver.stats import LatencyHistogram
from rooms.capabilities import Action
from rooms.model import Role, Room
from rooms.policy import community_channel, may

log = logging.getLogger("chatserver.peer.waiting")

DEFAULT_REPLY_WAIT = 600.0
MAX_LIST = 200
BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0, 86400.0)


@dataclass(frozen=True, slots=True)
class SupportRoom:
    reply_wait: float
    reactions_count: bool


def support_of(room: Room) -> SupportRoom | None:
    """The room's support settings, or None for an ordinary room."""
    extra = room.settings.extra
    if not extra.get("support"):
        return None
    wait = extra.get("reply_wait", DEFAULT_REPLY_WAIT)
    if isinstance(wait, bool) or not isinstance(wait, int | float) or wait <= 0:
        wait = DEFAULT_REPLY_WAIT
    return SupportRoom(float(wait), bool(extra.get("reactions_count_as_reply", False)))


def post_key(channel: str, message_id: str) -> str:
    return f"{channel}|{message_id}"


class WaitingStore(Protocol):
    async def track(self, community: str, key: str, post: dict[str, Any], due_ms: int) -> None: ...

    async def answer(self, community: str, key: str, replier: str) -> tuple[dict[str, Any], bool] | None: ...

    async def sweep(self, community: str, now_ms: int, limit: int = 100) -> list[dict[str, Any]]: ...

    async def waiting(self, community: str, limit: int) -> list[dict[str, Any]]: ...

    async def take(self, community: str, key: str, taker: dict[str, Any]) -> dict[str, Any] | None: ...

    async def add_supporter(self, community: str, user: str) -> None: ...

    async def supporters(self, community: str) -> list[str]: ...


class Audit(Protocol):
    async def append(self, community: str, action: str, actor: Actor, *, target: dict[str, Any] | None = None) -> str: ...


class Events(Protocol):
    async def publish_event(self, channel: str, event: dict[str, Any]) -> Any: ...

    async def notify_user(self, user: str, event: dict[str, Any]) -> None: ...


class WaitingMetrics(Collector):
    def __init__(self) -> None:
        self.first_reply: dict[str, LatencyHistogram] = {}  # room channel -> seconds to first reply
        self.unanswered: dict[str, int] = {}  # room channel -> posts that entered the waiting list

    def collect(self) -> Iterator[HistogramMetricFamily | CounterMetricFamily]:
        h = HistogramMetricFamily(
            "chat_peer_time_to_first_reply_seconds", "Seconds from a post in a support room to its first reply by someone else", labels=["room"]
        )
        for room, hist in sorted(self.first_reply.items()):
            h.add_metric([room], hist.buckets(), hist.sum)
        yield h
        c = CounterMetricFamily("chat_peer_posts_unanswered", "Posts in support rooms that entered the waiting list", labels=["room"])
        for room, n in sorted(self.unanswered.items()):
            c.add_metric([room], n)
        yield c


class Waiting:
    def __init__(
        self, store: WaitingStore, audit: Audit, events: Events, rooms: Any, interval: float = 1.0, streams: Any = None
    ) -> None:
        self.store = store
        self.streams = streams  # to drop posts removed meanwhile (moderators, their author, erasure)
        self.audit = audit
        self.events = events
        self.catalog = rooms  # the catalog (its ``rooms`` by channel)
        self.interval = interval
        self.metrics = WaitingMetrics()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ the post path

    async def observe(self, submission: Submission, review: Any, outcome: Any) -> None:
        """Poster observer: tracks members' posts and counts replies, in support rooms only."""
        if submission.kind != "message" or not isinstance(outcome, Published) or outcome.duplicate:
            return
        room = submission.room
        support = support_of(room)
        if support is None:
            return
        if submission.reply_to:
            # A reply answers (when someone else wrote the post); it is not tracked itself:
            # the thread's first post is.
            await self.answered(room, submission.reply_to, submission.author.user)
        elif submission.role is Role.MEMBER:
            now_ms = int(time.time() * 1000)
            post = {
                "channel": room.channel,
                "id": outcome.id,
                "offset": outcome.offset,
                "user": submission.author.user,
                "name": submission.author.name,
                "ts": now_ms,
            }
            await self.store.track(room.community, post_key(room.channel, outcome.id), post, now_ms + int(support.reply_wait * 1000))

    async def on_reaction(self, conn: Any, room: Room, message_id: str, on: bool) -> None:
        """Reaction observer: a reaction answers when the room says reactions count."""
        support = support_of(room)
        if support is None or not support.reactions_count or not on:
            return
        await self.answered(room, message_id, conn.user)

    async def answered(self, room: Room, message_id: str, replier: str) -> None:
        got = await self.store.answer(room.community, post_key(room.channel, message_id), replier)
        if got is None:
            return
        post, was_waiting = got
        seconds = max(0.0, time.time() - post["ts"] / 1000)
        self.metrics.first_reply.setdefault(room.channel, LatencyHistogram(BUCKETS)).observe(seconds)
        if was_waiting:
            await self._announce(room.community, {"type": "waiting.answered", "community": room.community, "channel": room.channel, "id": message_id})

    # ------------------------------------------------------------------ the sweep

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sweep()
            except Exception:
                log.warning("waiting-for-a-reply sweep failed", exc_info=True)

    async def sweep(self) -> int:
        communities = {r.community for r in list(self.catalog.rooms.values()) if r.settings.extra.get("support")}
        now_ms = int(time.time() * 1000)
        moved = 0
        for community in sorted(communities):
            for post in await self.store.sweep(community, now_ms):
                if not await self._still_there(post):
                    await self.store.answer(community, post_key(post["channel"], post["id"]), "")
                    continue
                moved += 1
                channel = post["channel"]
                self.metrics.unanswered[channel] = self.metrics.unanswered.get(channel, 0) + 1
                await self.audit.append(
                    community, "post.unanswered", SYSTEM,
                    target={"channel": channel, "id": post["id"], "offset": post["offset"], "user": post["user"]},
                )
                await self._announce(community, {"type": "waiting.added", "community": community, "post": post})
        return moved

    async def _still_there(self, post: dict[str, Any]) -> bool:
        """Whether the post is still in its room (not deleted by a moderator or its author)."""
        if self.streams is None:
            return True
        entry = await self.streams.entry(post["channel"], int(post.get("offset") or 0))
        if entry is None:
            return False
        try:
            event = orjson.loads(Publication.unpack(post["channel"], entry.offset, "", entry.payload).data)
        except orjson.JSONDecodeError:
            return False
        return isinstance(event, dict) and event.get("id") == post["id"] and event.get("type") == "message"

    async def _announce(self, community: str, event: dict[str, Any]) -> None:
        try:
            await self.events.publish_event(f"{community}/mod", event)
        except ReplyError:
            pass
        for user in await self.store.supporters(community):
            await self.events.notify_user(user, event)

    # ------------------------------------------------------------------ RPCs

    async def on_connect(self, conn: Any) -> None:
        """Supporters are remembered per community, so waiting-list events reach them."""
        identity = conn.identity
        for community, role in identity.member.communities.items():
            if role is Role.SUPPORTER:
                await self.store.add_supporter(community, conn.user)

    def _community(self, conn: Any, data: Any) -> str:
        community = data.get("community") if isinstance(data, dict) else None
        if not isinstance(community, str) or not community:
            raise ReplyError(codes.BAD_REQUEST, "bad request: community required")
        denied = may(conn.identity.member, Action.WAITING, community_channel(community), None)  # the table
        if denied is not None:
            raise ReplyError(denied.code, f"permission denied: {denied.reason}")
        return community

    async def rpc_waiting(self, conn: Any, data: Any) -> dict[str, Any]:
        """``peer.waiting {community}`` -> the waiting list, oldest first."""
        community = self._community(conn, data)
        posts = []
        for post in await self.store.waiting(community, MAX_LIST):
            if await self._still_there(post):
                posts.append(post)
            else:  # removed since it entered the list: it leaves the list
                await self.store.answer(community, post_key(post["channel"], post["id"]), "")
        return {"community": community, "posts": posts}

    async def rpc_take(self, conn: Any, data: Any) -> dict[str, Any]:
        """``peer.take {community, channel, id}``: "I'm on it" on a waiting post."""
        community = self._community(conn, data)
        channel, message_id = data.get("channel"), data.get("id")
        if not isinstance(channel, str) or not isinstance(message_id, str) or not channel.startswith(community + ":"):
            raise ReplyError(codes.BAD_REQUEST, "bad request: channel (a room of the community) and id required")
        me = {"user": conn.user, "name": conn.identity.member.name}
        taken = await self.store.take(community, post_key(channel, message_id), me)
        if taken is None:
            raise ReplyError(codes.BAD_REQUEST, "bad request: that post is not waiting for a reply")
        mine = taken.get("user") == conn.user
        if mine:
            await self._announce(community, {"type": "waiting.taken", "community": community, "channel": channel, "id": message_id, "by": taken})
        return {"channel": channel, "id": message_id, "taken": taken, "mine": mine}
