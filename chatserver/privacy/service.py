"""Access and erasure requests: everything the server keeps about one member, found in
bounded batches (the event loop is yielded between them), and removed or pseudonymized.

Where a member's data is (docs/privacy.md has the full table):
- messages: every room's history stream (``message`` events they wrote and their
  ``message.edited`` events), found by reading each room's stream in batches;
- Q&A: questions they asked (board state) and the board/screening events about them;
- moderation: holds of their items, reports they filed, their post count, sanctions on them,
  audit entries naming them, moderator-feed events naming them;
- their private channel ``user#<id>``, presence, typing, idempotency and slow-mode keys.

An erasure closes the member's connections first (close code 3520), so nothing they send
lands after it; removes the rest; renames them to a pseudonym (``erased-<hash>``) in audit
entries and sanctions (a banned member stays banned); and writes one ``user.erase`` (webhook event ``user.erased``)
audit entry per community it touched (who asked, when, counts; never content).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import msgpack
import orjson

from chatserver.engine import HistoryOptions, PresenceStore
from chatserver.moderation.audit import Actor, AuditLog
from chatserver.protocol import codes
from chatserver.publication import Publication, pack_payload
from chatserver.redis.privacy_store import glob_escape
from rooms.private import private_of
from rooms.retention import pseudonym, pseudonym_key

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext

log = logging.getLogger("chatserver.privacy")

BATCH = 200  # stream entries read (and publications removed) per Redis call
SCAN = 1000
SANCTION_KINDS = ("mutes", "bans", "kicks")


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _names(value: Any, user: str) -> bool:
    """Whether ``user`` appears as a string anywhere in a decoded JSON/msgpack value."""
    if isinstance(value, str):
        return value == user
    if isinstance(value, dict):
        return any(_names(v, user) for v in value.values())
    if isinstance(value, list):
        return any(_names(v, user) for v in value)
    return False


class PrivacyService:
    def __init__(self, ext: ExtensionContext, presence: PresenceStore, audit: AuditLog) -> None:
        self.ext = ext
        self.presence = presence
        self.audit = audit
        self.store = ext.stores.privacy()
        self.mstore = ext.stores.moderation()
        self.key = pseudonym_key(ext.settings.secret, ext.settings.api_key)
        self.exports = 0
        self.erasures = 0

    def pseudonym(self, user: str) -> str:
        return pseudonym(user, self.key)

    # ---- where things are ---------------------------------------------------------------------

    def _rooms(self) -> list[Any]:
        return sorted(self.ext.catalog.rooms.values(), key=lambda r: r.channel)

    def _communities(self) -> list[str]:
        return sorted(set(self.ext.catalog.communities) | {r.community for r in self._rooms()})

    def _feeds(self) -> list[str]:
        """Channels whose events may name a member: moderator feeds, screening, boards."""
        out = [f"{c}/mod" for c in self._communities()]
        for room in self._rooms():
            out += [f"{room.channel}/mod", f"{room.channel}/screening", f"{room.channel}/qa"]
        return out

    def _history(self, channel: str) -> HistoryOptions | None:
        spec = self.ext.resolver.resolve(channel)
        return spec.history if spec is not None else None

    async def _entries(self, channel: str) -> AsyncIterator[list[tuple[int, Publication]]]:
        """A channel's history in batches of decoded publications (yielding between them)."""
        after = 0
        while True:
            batch = await self.store.entries(channel, after, BATCH)
            if not batch:
                return
            yield [(e.offset, Publication.unpack(channel, e.offset, "", e.payload)) for e in batch]
            after = batch[-1].offset
            if len(batch) < BATCH:
                return
            await asyncio.sleep(0)

    async def _room_messages(self, channel: str, user: str) -> AsyncIterator[list[tuple[int, dict[str, Any]]]]:
        """The member's messages and edit events in a room, batch by batch."""
        needle = user.encode()
        async for batch in self._entries(channel):
            found = []
            for offset, pub in batch:
                if needle not in pub.data and not (pub.info and pub.info.get("user") == user):
                    continue
                event = _json(pub.data)
                if isinstance(event, dict) and event.get("type") in ("message", "message.edited") and event.get("user") == user:
                    found.append((offset, event))
            yield found

    async def _feed_events(self, channel: str, user: str, ids: set[str]) -> AsyncIterator[list[int]]:
        """Offsets of events in a feed that name the member or one of their items."""
        needles = [user.encode(), *(i.encode() for i in ids)]
        async for batch in self._entries(channel):
            found = []
            for offset, pub in batch:
                if not any(n in pub.data for n in needles):
                    continue
                event = _json(pub.data)
                if _names(event, user) or any(_names(event, i) for i in ids):
                    found.append(offset)
            yield found

    async def _questions(self, user: str) -> list[tuple[str, str, Any]]:
        out = []
        for room in self._rooms():
            board = f"{room.channel}/qa"
            for sid, q in await self.store.questions(board):
                if q.asker == user:
                    out.append((board, sid, q))
        return out

    async def _holds(self, user: str) -> list[tuple[str, Any]]:
        """(key, HoldRecord) of the member's held items."""
        from chatserver.moderation.records import HoldRecord  # the record format (no I/O)

        out = []
        async for keys in self.store.scan("mod:{*}:hold:*", SCAN):
            raws = await self.store.hget_many([(k, "r") for k in keys])
            for key, raw in zip(keys, raws, strict=True):
                if raw is None or user.encode() not in raw:
                    continue
                record = HoldRecord.unpack(raw)
                if record.user == user:
                    out.append((key, record))
        return out

    async def _reports(self, user: str) -> list[tuple[str, dict[str, Any]]]:
        """(key, report) of reports the member filed."""
        out = []
        async for keys in self.store.scan("mod:{*}:rep:*", SCAN):
            raws = await self.store.hget_many([(k, user) for k in keys])
            for key, raw in zip(keys, raws, strict=True):
                if raw is not None:
                    out.append((key, msgpack.unpackb(raw, raw=False)))
        return out

    async def _sanctions(self, user: str) -> list[tuple[str, str, str, bytes]]:
        """(kind, community, field, packed) of sanctions on the member."""
        communities = self._communities()
        tables = await self.mstore.sanctions(communities, SANCTION_KINDS)
        out = []
        i = 0
        for community in communities:
            for kind in SANCTION_KINDS:
                for raw_field, packed in tables[i].items():
                    name = raw_field.decode()
                    if name == user or name.endswith("\n" + user):
                        out.append((kind, community, name, packed))
                i += 1
        return out

    async def _cases(self, user: str) -> list[tuple[str, dict[str, str], list[dict[str, Any]]]]:
        """(community, case, its messages) of crisis cases about the member."""
        store = self.ext.stores.crisis()
        out = []
        for community in self._communities():
            for case, items in await store.recent(community, 100_000):
                if case.get("user") == user:
                    out.append((community, case, items))
        return out

    def _conversations(self, user: str) -> list[Any]:
        """Private support conversations with the member (rooms ``<c>:dm-<id>``)."""
        return [room for room in self._rooms() if (conv := private_of(room)) is not None and conv.member == user]

    async def _audit(self, community: str, user: str) -> AsyncIterator[list[tuple[str, dict[str, Any]]]]:
        key = f"mod:{{{community}}}:audit"
        needle = user.encode()
        after = ""
        while True:
            batch = await self.store.stream_range(key, after, BATCH)
            if not batch:
                return
            found = []
            for entry_id, raw in batch:
                if raw and needle in raw:
                    entry = msgpack.unpackb(raw, raw=False)
                    if _names(entry, user):
                        found.append((entry_id, entry))
            yield found
            after = batch[-1][0]
            if len(batch) < BATCH:
                return
            await asyncio.sleep(0)

    # ---- access -------------------------------------------------------------------------------

    async def export(self, user: str) -> dict[str, Any] | None:
        """Everything kept about ``user`` as one document; None when nothing is."""
        self.exports += 1
        messages = []
        for room in self._rooms():
            async for batch in self._room_messages(room.channel, user):
                for offset, event in batch:
                    if event.get("type") == "message":
                        messages.append({"channel": room.channel, "offset": offset, **event})
        questions = [
            {
                "board": board,
                "session": sid,
                "id": q.id,
                "text": q.text,
                "anonymous": q.anonymous,
                "state": q.state.value,
                "asked_at": q.asked_at,
                **({"answer": q.answer.text} if q.answer is not None else {}),
            }
            for board, sid, q in await self._questions(user)
        ]
        reports = [{"key": key.split("}", 1)[0][5:], "offset": int(key.rsplit(":", 1)[1]), **r} for key, r in await self._reports(user)]
        holds = [record.public() for _, record in await self._holds(user)]
        sanctions = []
        for kind, community, name, packed in await self._sanctions(user):
            s = msgpack.unpackb(packed, raw=False)
            item = {"kind": kind.rstrip("s"), "community": community, "until": s.get("u", 0), "reason": s.get("r", ""), "at": s.get("a", 0)}
            if "\n" in name:
                item["room"] = name.split("\n", 1)[0]
            sanctions.append(item)
        audit = []
        for community in self._communities():
            async for batch in self._audit(community, user):
                audit.extend({"community": community, "id": entry_id, **entry} for entry_id, entry in batch)
        online = (await self.presence.online([user])).get(user, False)
        for report in reports:
            report["channel"] = report.pop("key")
        cases = [{"community": community, **case, "messages": items} for community, case, items in await self._cases(user)]
        conversations = [room.channel for room in self._conversations(user)]
        found = any((messages, questions, reports, holds, sanctions, audit, cases, conversations)) or online
        if not found:
            return None
        return {
            "user": user,
            "exported_at": int(time.time() * 1000),
            "messages": messages,
            "questions": questions,
            "reports": reports,
            "holds": holds,
            "sanctions": sanctions,
            "audit": audit,
            "crisis_cases": cases,
            "conversations": conversations,
            "presence": {"online": online},
        }

    # ---- erasure ------------------------------------------------------------------------------

    async def erase(self, user: str, requested_by: str) -> dict[str, Any]:
        """Remove or pseudonymize everything kept about ``user``; counts of what went."""
        self.erasures += 1
        counts: dict[str, int] = {
            "connections_closed": 0,
            "messages": 0,
            "questions": 0,
            "feed_events": 0,
            "holds": 0,
            "reports": 0,
            "keys": 0,
            "audit_entries": 0,
            "sanctions": 0,
            "crisis_cases": 0,
            "conversations": 0,
        }
        touched: set[str] = set()
        counts["connections_closed"] = await self._disconnect(user)
        # Private support conversations with them go whole (catalog record and every channel).
        for room in self._conversations(user):
            for channel in (room.channel, f"{room.channel}/mod", f"{room.channel}/qa", f"{room.channel}/screening"):
                counts["keys"] += await self.store.drop_channel(channel)
            await self.ext.catalog.delete_room(room.community, room.name)
            counts["conversations"] += 1
            touched.add(room.community)
        for community, case, _ in await self._cases(user):
            counts["crisis_cases"] += await self.store.remove_case(community, case["id"], user)
            touched.add(community)
        # Q&A first: the ids of their questions find the (anonymous) board events about them.
        ids: set[str] = set()
        for board, sid, q in await self._questions(user):
            ids.add(q.id)
            counts["questions"] += await self.store.remove_questions(board, sid, [q.id])
            touched.add(board.partition(":")[0])
        for room in self._rooms():
            await self.store.forget_asker(f"{room.channel}/qa", user)
            history = self._history(room.channel)
            if history is None:
                continue
            edits: list[int] = []
            async for batch in self._room_messages(room.channel, user):
                messages = [(offset, event) for offset, event in batch if event.get("type") == "message"]
                edits += [offset for offset, event in batch if event.get("type") != "message"]
                if not messages:
                    continue
                ids.update(str(event.get("id", "")) for _, event in messages if event.get("id"))
                now_ms = int(time.time() * 1000)
                events = [
                    pack_payload(
                        orjson.dumps({"type": "message.deleted", "id": event.get("id", ""), "offset": offset, "by": "erasure", "ts": now_ms}),
                        time_ms=now_ms,
                    )
                    for offset, event in messages
                ]
                counts["messages"] += await self.store.purge(room.channel, [o for o, _ in messages], events, history)
                touched.add(room.community)
            # Edit events left behind (their message went first): removed without an event.
            for i in range(0, len(edits), BATCH):
                counts["feed_events"] += await self.store.purge(room.channel, edits[i : i + BATCH], [], history)
        for key, record in await self._holds(user):
            ids.add(record.id)
            counts["holds"] += await self.store.delete([key])
            await self.store.zrem(f"mod:{{{record.channel}}}:holdq", record.id)
            await self.store.zrem("mod:expiring", f"{record.channel}\n{record.id}")
            touched.add(record.community)
        for feed in self._feeds():
            history = self._history(feed)
            if history is None:
                continue
            async for offsets in self._feed_events(feed, user, ids):
                if offsets:
                    counts["feed_events"] += await self.store.purge(feed, offsets, [], history)
        reports = await self._reports(user)
        counts["reports"] = await self.store.hdel_many([(key, user) for key, _ in reports])
        counts["keys"] += await self._named_keys(user)
        counts["keys"] += await self.store.drop_channel(f"user#{user}")
        for community in self._communities():
            posts = await self.store.hdel_many([(f"mod:{{{community}}}:posts", user), (f"mod:{{{community}}}:names", user)])
            await self.store.zrem(f"mod:{{{community}}}:seen", user)  # the directory of recent members
            if posts:
                touched.add(community)
        for kind, community, name, packed in await self._sanctions(user):
            room, sep, _ = name.rpartition("\n")
            await self.mstore.put_sanction(kind, community, room + sep + self.pseudonym(user), packed)
            await self.mstore.lift_sanction(kind, community, name)
            counts["sanctions"] += 1
            touched.add(community)
        for community in self._communities():
            changed = await self._pseudonymize_audit(community, user)
            if changed:
                counts["audit_entries"] += changed
                touched.add(community)
        total = sum(v for k, v in counts.items() if k != "connections_closed")
        result: dict[str, Any] = {"user": user, "pseudonym": self.pseudonym(user), "removed": counts, "nothing": total == 0}
        result["message"] = (
            "nothing was kept about this user: nothing to erase" if total == 0 else f"erased ({total} items)"
        )
        for community in sorted(touched):
            await self._audit_erasure(community, user, requested_by, counts)
        log.info("erasure done: %d items (requested by %s)", total, requested_by)
        return result

    async def _disconnect(self, user: str) -> int:
        """Close the member's connections on every process (3520) and wait until presence
        shows them gone, so nothing they send lands after the erasure."""
        before = (await self.presence.online([user])).get(user, False)
        await self.ext.notifier.disconnect_user(user, codes.ERASED)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (await self.presence.online([user])).get(user, False):
            await asyncio.sleep(0.05)
        return int(before)

    async def _named_keys(self, user: str) -> int:
        """Keys whose name holds the member's id: idempotency keys, holds by client message
        id, slow mode, recent posts, typing limits; and their presence/typing fields."""
        lit = glob_escape(user)
        patterns = [
            f"chat:{{*}}:i:{lit}:*",
            f"mod:{{*}}:hi:{lit}:*",
            f"mod:{{*}}:slow:{lit}",
            f"mod:{{*}}:recent:{lit}",
            f"chat:{{*}}:tl:{lit}",
        ]
        removed = 0
        for pattern in patterns:
            async for keys in self.store.scan(pattern, SCAN):
                removed += await self.store.delete(keys)
        async for keys in self.store.scan("chat:{*}:ty", SCAN):
            await self.store.zrem_many(keys, user)
        return removed

    async def _pseudonymize_audit(self, community: str, user: str) -> int:
        """Audit entries naming the member keep the action, name the pseudonym instead and
        lose any text (what they wrote, or was written about them)."""
        alias = self.pseudonym(user)
        changes: dict[str, bytes | None] = {}
        async for batch in self._audit(community, user):
            for entry_id, entry in batch:
                entry = _rename(entry, user, alias)
                entry.pop("text", None)
                if isinstance(entry.get("details"), dict):
                    entry["details"].pop("edited_text", None)
                changes[entry_id] = msgpack.packb(entry, use_bin_type=True)
        changed = 0
        items = list(changes.items())
        for i in range(0, len(items), BATCH):
            changed += await self.store.rewrite(f"mod:{{{community}}}:audit", dict(items[i : i + BATCH]))
            await asyncio.sleep(0)
        return changed

    async def _audit_erasure(self, community: str, user: str, requested_by: str, counts: dict[str, int]) -> None:
        await self.audit.append(
            community,
            "user.erase",
            Actor(requested_by, requested_by, "api", "api"),
            target={"user": self.pseudonym(user)},
            details={"removed": dict(counts)},
        )


def _rename(value: Any, user: str, alias: str) -> Any:
    if isinstance(value, str):
        return alias if value == user else value
    if isinstance(value, dict):
        out = {k: _rename(v, user, alias) for k, v in value.items()}
        if out.get("user") == alias and "name" in out:
            out["name"] = alias
        return out
    if isinstance(value, list):
        return [_rename(v, user, alias) for v in value]
    return value
