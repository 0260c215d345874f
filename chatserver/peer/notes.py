"""Content notes (issue 27.4): a message's author, or a moderator or admin of the community,
marks a post with a note from the community's list (``content_notes`` in the community's
settings; a default list otherwise). The note is an event in the room's stream
(``message.note {message_id, offset, note, by}``; ``note: null`` takes it off), so members
get it live, in history and in recovery; clients show the note and open the text with a tap.
Each member keeps a preference per kind (``peer.note_prefs``: always ``show`` or ``hide``).
A crisis panel (support resources, crisis alerts) is never a message and never carries a
note: clients show it whatever the notes say.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import orjson

from chatserver.errors import ReplyError
from chatserver.protocol import codes
from chatserver.publication import Publication
from rooms.capabilities import Action
from rooms.channels import ChannelKind
from rooms.policy import may

DEFAULT_NOTES = ("self-harm", "suicide", "eating", "loss", "abuse", "substance use", "medication")
PREFERENCES = ("show", "hide", "ask")
MAX_NOTE = 40


class NotePrefStore(Protocol):
    async def note_prefs(self, user: str) -> dict[str, str]: ...

    async def set_note_prefs(self, user: str, prefs: dict[str, str]) -> None: ...


def notes_of(community: Any) -> list[str]:
    """The community's list of content notes."""
    listed = community.settings.get("content_notes") if community is not None else None
    if isinstance(listed, list) and all(isinstance(n, str) and 0 < len(n) <= MAX_NOTE for n in listed) and listed:
        return list(listed)
    return list(DEFAULT_NOTES)


class Notes:
    def __init__(self, ext: Any, store: NotePrefStore) -> None:
        self.ext = ext
        self.store = store
        self.marked = 0

    async def rpc_note(self, conn: Any, data: Any) -> dict[str, Any]:
        """``peer.note {channel, id, offset, note}`` (``note: null`` takes it off)."""
        if not isinstance(data, dict):
            raise ReplyError(codes.BAD_REQUEST, "bad request: channel, id, offset and note required")
        channel, message_id, offset, note = data.get("channel"), data.get("id"), data.get("offset"), data.get("note")
        spec = self.ext.resolver.resolve(channel) if isinstance(channel, str) else None
        if spec is None or spec.kind is not ChannelKind.ROOM or spec.room is None:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown room {channel!r}")
        if spec.name not in conn.subs:
            raise ReplyError(codes.PERMISSION_DENIED, "permission denied: subscribe to the room first")
        if not isinstance(message_id, str) or isinstance(offset, bool) or not isinstance(offset, int) or offset < 1:
            raise ReplyError(codes.BAD_REQUEST, "bad request: id and offset (the message's) required")
        room = spec.room
        allowed = notes_of(self.ext.catalog.communities.get(room.community))
        if note is not None and note not in allowed:
            raise ReplyError(codes.BAD_REQUEST, f"bad request: note must be one of {', '.join(allowed)}")
        entry = await self.ext.streams.entry(spec.name, offset)
        event = None
        if entry is not None:
            try:
                event = orjson.loads(Publication.unpack(spec.name, entry.offset, "", entry.payload).data)
            except orjson.JSONDecodeError:
                event = None
        if not isinstance(event, dict) or event.get("type") != "message" or event.get("id") != message_id:
            raise ReplyError(codes.BAD_REQUEST, "bad request: no such message at that offset (removed, or too old)")
        role = conn.identity.member.role_in(room.community)
        # The table: one's own post is an edit of it; someone else's is moderation.
        own = event.get("user") == conn.user
        denied = may(conn.identity.member, Action.EDIT if own else Action.MODERATE, spec.parsed, room)
        if denied is not None:
            raise ReplyError(denied.code, f"permission denied: {denied.reason}")
        by = {"user": conn.user, "name": conn.identity.member.name, "role": role.value if role else ""}
        note_event = {
            "type": "message.note", "message_id": message_id, "offset": offset, "note": note, "by": by,
            "ts": int(time.time() * 1000),
        }
        result = await self.ext.notifier.publish_event(spec.name, note_event)
        self.marked += 1
        return {"channel": spec.name, "id": message_id, "note": note, "event_offset": getattr(result, "offset", 0)}

    async def rpc_list(self, conn: Any, data: Any) -> dict[str, Any]:
        """``peer.notes {community}`` -> the community's notes and the member's preferences."""
        community = data.get("community") if isinstance(data, dict) else None
        if not isinstance(community, str) or community not in self.ext.catalog.communities:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown community {community!r}")
        return {"notes": notes_of(self.ext.catalog.communities[community]), "prefs": await self.store.note_prefs(conn.user)}

    async def rpc_prefs(self, conn: Any, data: Any) -> dict[str, Any]:
        """``peer.note_prefs {prefs: {note: show | hide | ask}}`` (``ask``: the default, forgets it)."""
        prefs = data.get("prefs") if isinstance(data, dict) else None
        if not isinstance(prefs, dict) or len(prefs) > 50:
            raise ReplyError(codes.BAD_REQUEST, "bad request: prefs (note -> show | hide | ask) required")
        for note, pref in prefs.items():
            if not isinstance(note, str) or not 0 < len(note) <= MAX_NOTE or pref not in PREFERENCES:
                raise ReplyError(codes.BAD_REQUEST, "bad request: each preference is show, hide or ask")
        await self.store.set_note_prefs(conn.user, prefs)
        return {"prefs": await self.store.note_prefs(conn.user)}
