"""Mentions and notifications (issue 27.2).

After a message is published (a Poster observer): the author of the message it replies to
(``reply_to``) and the members it names (``@Display Name``, resolved among the room's online
members and the community's directory of recent members) are told on their own channel
(``user#<id>``: ``{"type": "notify", "kind": "reply" | "mention", channel, id, offset, by}``,
never the text). A member who has no connection anywhere also produces a ``member.notify``
webhook event (room, message id, kind; the text only when the community's settings say
``notify_text = true``) so the platform can send a push. Nobody is told about their own
message, across a block, or from a room they muted (``peer.mute``).

Cost: a message without ``reply_to`` and without ``@`` costs a substring test; a reply reads
the room's recent entries (the newest 50, then up to 500; a byte search before decoding), in
the background, to find who wrote the message it answers.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Protocol

import orjson

from chatserver.errors import ReplyError
from chatserver.posting import Published, Submission
from chatserver.protocol import codes
from chatserver.publication import Publication

log = logging.getLogger("chatserver.peer.notifications")

SCAN = 500  # recent entries read to find the message a reply answers
DIRECTORY = 1000  # recent members searched for a mention
MAX_TARGETS = 20
MAX_MUTES = 1000


class MuteStore(Protocol):
    async def set_muted(self, user: str, channel: str, muted: bool, limit: int) -> bool | None: ...

    async def muted(self, user: str) -> list[str]: ...

    async def is_muted(self, user: str, channel: str) -> bool: ...

    async def hidden(self, user: str) -> frozenset[str]: ...


def mentioned(text: str, names: dict[str, str]) -> list[str]:
    """Users named ``@<display name>`` in ``text`` (``names``: display name -> user)."""
    out: list[str] = []
    lowered = text.lower()
    for name, user in sorted(names.items(), key=lambda kv: -len(kv[0])):
        if not name or "@" + name.lower() not in lowered:
            continue
        if re.search(r"(?<![\w@])@" + re.escape(name) + r"(?![\w])", text, re.IGNORECASE) and user not in out:
            out.append(user)
    return out


class Notifications:
    def __init__(self, ext: Any, store: MuteStore, directory: Any, presence: Any, webhooks: Any) -> None:
        self.ext = ext
        self.store = store
        self.directory = directory  # recent_members(community, limit)
        self.presence = presence  # the presence service (room members online, who is online)
        self.webhooks = webhooks  # the webhook service, or None
        self.sent = 0
        self.pushed = 0

    async def observe(self, submission: Submission, review: Any, outcome: Any) -> None:
        if submission.kind != "message" or not isinstance(outcome, Published) or outcome.duplicate:
            return
        text = outcome.text or submission.text
        if not submission.reply_to and "@" not in text:
            return
        # In the background: the sender's reply never waits for the lookups.
        self.ext.tasks.spawn(self._guarded(submission, outcome, text), "peer notifications")

    async def _guarded(self, submission: Submission, outcome: Published, text: str) -> None:
        try:
            await self._notify(submission, outcome, text)
        except Exception:
            self.ext.tasks.log_failure(log, "notifications for a message failed")

    async def _notify(self, submission: Submission, outcome: Published, text: str) -> None:
        room = submission.room
        author = submission.author.user
        targets: dict[str, str] = {}
        if submission.reply_to:
            replied = await self._author_of(room.channel, submission.reply_to)
            if replied and replied != author:
                targets[replied] = "reply"
        if "@" in text:
            for user in mentioned(text, await self._names(room)):
                if user != author:
                    targets.setdefault(user, "mention")
        if not targets:
            return
        hidden = await self.store.hidden(author)
        targets = {u: k for u, k in list(targets.items())[:MAX_TARGETS] if u not in hidden}
        if not targets:
            return
        online = await self.presence.store.online(list(targets))
        community = self.ext.catalog.communities.get(room.community)
        with_text = bool(community is not None and community.settings.get("notify_text"))
        by = {"user": author, "name": submission.author.name}
        for user, kind in targets.items():
            if await self.store.is_muted(user, room.channel):
                continue
            event = {"type": "notify", "kind": kind, "channel": room.channel, "id": outcome.id, "offset": outcome.offset, "by": by}
            await self.ext.notifier.notify_user(user, event)
            self.sent += 1
            here = bool(self.ext.local_users.get(user))  # connected to this process: online now
            if not online.get(user) and not here and self.webhooks is not None:
                data: dict[str, Any] = {"user": user, "kind": kind, "channel": room.channel, "id": outcome.id, "by": by}
                if with_text:
                    data["text"] = text
                await self.webhooks.emit("member.notify", room.community, data)
                self.pushed += 1

    async def _author_of(self, channel: str, message_id: str) -> str | None:
        """Who wrote ``message_id``: the newest 50 entries first (most replies answer a
        recent message), then up to ``SCAN``."""
        first = await self.ext.streams.entries_before(channel, None, 50)
        found = self._find(channel, first, message_id)
        if found is not None or len(first) < 50:
            return found
        rest = await self.ext.streams.entries_before(channel, first[-1].offset, SCAN - 50)
        return self._find(channel, rest, message_id)

    @staticmethod
    def _find(channel: str, entries: list[Any], message_id: str) -> str | None:
        needle = message_id.encode()
        for entry in entries:
            if needle not in entry.payload:  # a byte search before any decoding
                continue
            try:
                event = orjson.loads(Publication.unpack(channel, entry.offset, "", entry.payload).data)
            except orjson.JSONDecodeError:
                continue
            if isinstance(event, dict) and event.get("type") == "message" and event.get("id") == message_id:
                user = event.get("user")
                return user if isinstance(user, str) else None
        return None

    async def _names(self, room: Any) -> dict[str, str]:
        names: dict[str, str] = {}
        for entry in await self.directory.recent_members(room.community, DIRECTORY):
            if entry.get("name"):
                names.setdefault(entry["name"], entry["user"])
        try:
            _, staff, members = await self.presence.store.members(self.presence.room_ref(room.channel), DIRECTORY)
            for m in (*staff, *members):
                if m.name:
                    names[m.name] = m.user
        except Exception:
            log.debug("presence members not read for mentions", exc_info=True)
        return names

    # ------------------------------------------------------------------ RPC

    async def rpc_mute(self, conn: Any, data: Any) -> dict[str, Any]:
        """``peer.mute {channel, muted}``: no notifications from that room (default: muted)."""
        channel = data.get("channel") if isinstance(data, dict) else None
        if not isinstance(channel, str) or self.ext.resolver.resolve(channel) is None:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown channel {channel!r}")
        muted = data.get("muted", True)
        if not isinstance(muted, bool):
            raise ReplyError(codes.BAD_REQUEST, "bad request: muted must be true or false")
        changed = await self.store.set_muted(conn.user, channel, muted, MAX_MUTES)
        if changed is None:
            raise ReplyError(codes.LIMIT_EXCEEDED, f"limit exceeded: at most {MAX_MUTES} muted rooms")
        return {"channel": channel, "muted": muted, "changed": changed}

    async def rpc_settings(self, conn: Any, data: Any) -> dict[str, Any]:
        """``peer.settings {}`` -> the member's own settings (muted rooms)."""
        return {"muted": await self.store.muted(conn.user)}
