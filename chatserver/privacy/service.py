"""Access and erasure requests over every store that keeps anything about a member.

Privacy builds no key of its own: every store the composition root made implements
``chatserver.member_data.MemberData`` (export a member's data; forget it, or move it to the
pseudonym where it must stay: a ban, an audit entry), and a request asks each of them in
order (docs/privacy.md has the table of what each keeps).

An erasure wins the race with a member who keeps reconnecting and posting: the member is
blocked first on every process (``privacy.block``: refused at connect, token refresh and
submit; every live process acknowledges), their connections are closed (3520), then every
store forgets them, and the answer goes out while the block still holds (it lifts a few
seconds later: a returning id starts afresh). One ``user.erase`` audit entry (webhook event
``user.erased``) is written per community it touched (who asked, when, counts; never
content).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chatserver.engine import HistoryOptions, PresenceStore
from chatserver.member_data import MemberData, MemberScope, merge_counts
from chatserver.moderation.audit import Actor, AuditLog
from chatserver.privacy.block import MemberBlock
from chatserver.protocol import codes
from rooms.retention import pseudonym, pseudonym_key

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext

log = logging.getLogger("chatserver.privacy")

BLOCK_MAX_MS = 600_000  # an erasure that dies midway blocks the member at most this long
BLOCK_AFTER_MS = 5_000  # the block holds this long after the answer
ACK_WAIT = 5.0  # seconds to wait for every live process to apply the block
# The document's sections (and the erasure's counts) always listed, even when empty.
SECTIONS = (
    "messages", "questions", "votes", "reactions", "reports", "holds", "sanctions", "audit", "crisis_cases", "conversations",
)
COUNTS = (
    "connections_closed", "messages", "questions", "votes", "reactions", "reaction_events", "feed_events", "holds",
    "reports", "keys", "audit_entries", "sanctions", "crisis_cases", "conversations", "webhook_deliveries",
)


class PrivacyService:
    def __init__(
        self,
        ext: ExtensionContext,
        presence: PresenceStore,
        audit: AuditLog,
        stores: Callable[[], list[Any]],
        block: MemberBlock,
    ) -> None:
        self.ext = ext
        self.presence = presence
        self.audit = audit
        self._stores = stores
        self.block = block
        self.store = ext.stores.privacy()
        self.key = pseudonym_key(ext.settings.secret, ext.settings.api_key)
        self.exports = 0
        self.erasures = 0

    def pseudonym(self, user: str) -> str:
        return pseudonym(user, self.key)

    def stores(self) -> list[MemberData]:
        """Every store that keeps member data, in the order they are asked."""
        found = [s for s in self._stores() if isinstance(s, MemberData)]
        return sorted(found, key=lambda s: getattr(s, "member_phase", 50))

    def _scope(self, user: str) -> MemberScope:
        rooms = sorted(self.ext.catalog.rooms.values(), key=lambda r: r.channel)
        communities = sorted(set(self.ext.catalog.communities) | {r.community for r in rooms})
        return MemberScope(user, self.pseudonym(user), rooms, communities, self._history)

    def _history(self, channel: str) -> HistoryOptions | None:
        spec = self.ext.resolver.resolve(channel)
        return spec.history if spec is not None else None

    # ---- access -------------------------------------------------------------------------------

    async def export(self, user: str) -> dict[str, Any] | None:
        """Everything kept about ``user`` as one document; None when nothing is."""
        self.exports += 1
        scope = self._scope(user)
        sections: dict[str, list[Any]] = {name: [] for name in SECTIONS}
        for store in self.stores():
            for name, items in (await store.export_member(scope)).items():
                sections.setdefault(name, []).extend(items)
        online = bool(sections.pop("presence", []))
        if not online and not any(sections.values()):
            return None
        return {"user": user, "exported_at": int(time.time() * 1000), **sections, "presence": {"online": online}}

    # ---- erasure ------------------------------------------------------------------------------

    async def erase(self, user: str, requested_by: str) -> dict[str, Any]:
        """Block, disconnect, then remove or pseudonymize everything kept about ``user``;
        counts of what went."""
        self.erasures += 1
        alias = self.pseudonym(user)
        counts: dict[str, int] = dict.fromkeys(COUNTS, 0)
        await self._block(alias, BLOCK_MAX_MS)
        try:
            counts["connections_closed"] = await self._disconnect(user)
            scope = self._scope(user)
            for store in self.stores():
                merge_counts(counts, await store.forget_member(scope))
                await asyncio.sleep(0)
            total = sum(v for k, v in counts.items() if k != "connections_closed")
            result: dict[str, Any] = {"user": user, "pseudonym": alias, "removed": counts, "nothing": total == 0}
            result["message"] = "nothing was kept about this user: nothing to erase" if total == 0 else f"erased ({total} items)"
            for community in sorted(scope.touched):
                await self._audit_erasure(community, user, requested_by, counts)
            log.info("erasure done: %d items (requested by %s)", total, requested_by)
        finally:
            await self._block(alias, BLOCK_AFTER_MS, wait=False)
            await self.store.forget_block_acks(alias)
        return result

    async def _block(self, alias: str, for_ms: int, *, wait: bool = True) -> None:
        """Block the member on every process; with ``wait``, until every live process has
        acknowledged it (or ``ACK_WAIT`` passed)."""
        now_ms = int(time.time() * 1000)
        until = now_ms + for_ms
        await self.store.block(alias, until, now_ms)
        self.block.apply(alias, until)
        await self.ext.control.send("privacy.block", alias=alias, until=until)
        if not wait:
            return
        deadline = time.monotonic() + ACK_WAIT
        while time.monotonic() < deadline:
            if set(await self.presence.live_nodes()) <= await self.store.block_acks(alias):
                return
            await asyncio.sleep(0.02)
        log.warning("erasure: not every process acknowledged the block within %.0f s; going on", ACK_WAIT)

    async def on_block(self, msg: dict[str, Any]) -> None:
        """A block announced by any process (this one included): apply, then acknowledge."""
        alias, until = str(msg.get("alias", "")), int(msg.get("until", 0))
        if not alias:
            return
        self.block.apply(alias, until)
        if until > time.time() * 1000:
            await self.store.ack_block(alias, self.presence.node)

    async def reload_blocks(self) -> None:
        self.block.replace(await self.store.blocks(int(time.time() * 1000)))

    async def keep_blocks(self) -> None:
        """Reread the blocks in force every second (an announcement missed while pub/sub
        was down is caught up here)."""
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.reload_blocks()
            except Exception:
                self.ext.tasks.log_failure(log, "reading the erasure blocks failed")

    async def _disconnect(self, user: str) -> int:
        """Close the member's connections on every process (3520) and wait until presence
        shows them gone, so nothing they send lands after the erasure."""
        before = (await self.presence.online([user])).get(user, False)
        await self.ext.notifier.disconnect_user(user, codes.ERASED)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (await self.presence.online([user])).get(user, False):
            await asyncio.sleep(0.05)
        return int(before)

    async def _audit_erasure(self, community: str, user: str, requested_by: str, counts: dict[str, int]) -> None:
        await self.audit.append(
            community,
            "user.erase",
            Actor(requested_by, requested_by, "api", "api"),
            target={"user": self.pseudonym(user)},
            details={"removed": dict(counts)},
        )
