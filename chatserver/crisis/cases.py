"""Crisis cases: open or join, acknowledge, contact, close, mark, escalate.

Every change is audited (``crisis.*`` in the community's audit log, which webhooks follow)
and published on the community's moderator feed ``<community>/mod`` as
``{"type": "crisis.case", "change": ..., "case": {...}}`` (recoverable, so a console that
reconnects misses nothing). ``crisis.list`` is the snapshot a console starts from.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

from chatserver.crisis.config import OUTCOMES, CrisisConfig, ack_timeout_of
from chatserver.crisis.metrics import CrisisMetrics
from chatserver.errors import ReplyError
from chatserver.moderation.audit import SYSTEM, Actor, iso
from chatserver.moderation.errors import ModerationError, bad_request, conflict, not_found
from chatserver.moderation.records import CrisisSignal
from chatserver.platform_posts import PLATFORM_USER
from chatserver.protocol import codes
from chatserver.publication import Publication
from rooms.private import private_of

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext
    from chatserver.moderation.actions import FoundMessage
    from chatserver.moderation.service import ModerationService
    from chatserver.redis.crisis_store import RedisCaseStore
    from rooms.model import Room

log = logging.getLogger("chatserver.crisis")

ANNOUNCE_GRACE_MS = 30_000  # an escalation not announced by then is announced by another sweeper
STATES = ("open", "acknowledged", "in_contact", "closed")
ACTIVE = ("open", "acknowledged", "in_contact")
_INT_FIELDS = ("opened_at", "deadline", "last_at", "count", "ack_at", "contact_at", "closed_at", "escalated_at")
_ACTOR_FIELDS = ("ack_by", "contact_by", "closed_by", "opened_by")
MEMBER_SOURCES = ("hold", "support", "refused", "rejected")  # the member was given resources
HOLD_CHOICES = ("approve", "reject", "keep")


def case_view(community: str, fields: dict[str, str], items: list[dict[str, Any]]) -> dict[str, Any]:
    """The wire form of a case (times in unix ms, actors as objects)."""
    out: dict[str, Any] = {"community": community}
    for name, value in fields.items():
        if name in _INT_FIELDS:
            out[name] = int(value)
        elif name in _ACTOR_FIELDS:
            out[name] = json.loads(value)
        else:
            out[name] = value
    out["items"] = items
    out["escalated"] = "escalated_at" in fields
    return out


def _actor_json(actor: Actor) -> str:
    return json.dumps(actor.to_dict())


class CaseService:
    def __init__(self, ext: ExtensionContext, config: CrisisConfig, moderation: ModerationService, store: RedisCaseStore) -> None:
        self.ext = ext
        self.config = config
        self.moderation = moderation
        self.audit = moderation.audit
        self.store = store
        self.metrics = CrisisMetrics(looks=lambda: dict(moderation.crisis_looks))
        self._task: asyncio.Task[None] | None = None
        self._last_counts = 0.0

    # ---- opening ----------------------------------------------------------------------------

    async def on_signal(self, signal: CrisisSignal) -> None:
        """Moderation saw crisis language: open the member's case or join their open one
        (not for the platform's own posts, which are refused instead)."""
        if signal.user == PLATFORM_USER:
            return
        item: dict[str, Any] = {
            "at": int(time.time() * 1000),
            "source": signal.source,
            "channel": signal.channel,
            "text": signal.text,
            "reason": signal.reason,
            "kind": signal.kind,
        }
        if signal.hold_id:
            item["hold_id"] = signal.hold_id
        if signal.message_id:
            item["message_id"] = signal.message_id
        if signal.offset:
            item["offset"] = signal.offset
        await self.open_or_join(signal.community, signal.user, signal.name, item, SYSTEM)

    async def open_or_join(
        self, community: str, user: str, name: str, item: dict[str, Any], actor: Actor
    ) -> tuple[dict[str, Any], bool]:
        """The member's open case with ``item`` added, or a new case: (case, created)."""
        now_ms = int(time.time() * 1000)
        settings = self.ext.catalog.communities.get(community)
        timeout = ack_timeout_of(self.config, settings.settings if settings is not None else {})
        deadline = now_ms + int(timeout * 1000)
        fields = {
            "name": name or user,
            "channel": str(item.get("channel", "")),
            "source": str(item.get("source", "")),
            "kind": str(item.get("kind") or "self"),  # "third_party": about someone else at risk
        }
        if actor is not SYSTEM:
            fields["opened_by"] = _actor_json(actor)
        told = item.get("source") in MEMBER_SOURCES  # she has the resources panel: she follows the case
        if told:
            fields["told"] = "1"
        for _ in range(3):
            case_id, created = await self.store.open(community, user, secrets.token_hex(6), now_ms, deadline, item, fields)
            if created or await self.store.join(community, case_id, user, item, now_ms):
                break
        else:
            raise ModerationError(codes.NOT_AVAILABLE, "not available: could not open a case, try again", 409)
        if told and not created:
            await self.store.set_field(community, case_id, "told", "1")
        case = await self.get(community, case_id)
        action = "crisis.open" if created else "crisis.join"
        if created:
            self.metrics.opened += 1
        await self.audit.append(
            community,
            action,
            actor,
            target={"user": user, "channel": item.get("channel", ""), "case": case_id},
            reason=str(item.get("reason", "")),
            text=str(item.get("text", "")),
            details={
                "source": item.get("source", ""),
                "kind": item.get("kind") or "self",
                "ack_deadline": iso(deadline / 1000) if created else None,
            },
        )
        await self.feed(community, "opened" if created else "joined", case)
        if told:
            await self.tell_member(case)
        return case, created

    async def on_concern(self, reporter: Actor, room: Room, found: FoundMessage) -> dict[str, Any]:
        """"I'm worried about this person" (report reason ``concern``): the author's crisis
        case opens or gets the message at once. The message stays; the author is told nothing;
        it never counts as a report. Rate-limited per member (``concern_limit`` per
        ``concern_window``); audited as ``crisis.open``/``crisis.join`` with source
        ``concern`` and the worried member as actor (refusals: ``crisis.concern_limited``)."""
        author = str(found.event.get("user") or "")
        if not author or found.event.get("platform"):
            raise bad_request("that message has no member author")
        target = {"user": author, "channel": room.channel, "message_id": found.event.get("id", ""), "offset": found.offset}
        if not await self.store.claim_concern(room.community, reporter.user, self.config.concern_limit, self.config.concern_window):
            await self.audit.append(room.community, "crisis.concern_limited", reporter, target=target)
            raise ModerationError(
                codes.TOO_MANY_REQUESTS,
                "too many requests: you have told moderators about several people already; they will look at them",
                429,
            )
        self.metrics.concerns += 1
        item: dict[str, Any] = {
            "at": int(time.time() * 1000),
            "source": "concern",
            "channel": room.channel,
            "text": str(found.event.get("text", "")),
            "reason": "a member is worried about this person",
            "kind": "self",
            "offset": found.offset,
            "message_id": found.event.get("id", ""),
            "by": {"user": reporter.user, "name": reporter.name},
        }
        await self.open_or_join(room.community, author, str(found.event.get("name") or author), item, reporter)
        return {"status": "concern", "channel": room.channel, "offset": found.offset, "hidden": False}

    async def tell_member(self, case: dict[str, Any]) -> None:
        """``support.case`` on the member's ``user#<id>``: where her case stands, in words the
        client says (never the outcome code or a moderator's note)."""
        if not case.get("told"):
            return
        event: dict[str, Any] = {
            "type": "support.case",
            "community": case["community"],
            "state": case["state"],
            "kind": case.get("kind", "self"),
            "ts": int(time.time() * 1000),
        }
        if case.get("conversation"):
            event["conversation"] = case["conversation"]
        try:
            await self.ext.notifier.notify_user(case["user"], event)
        except Exception:
            log.exception("could not tell a member where her case stands")  # names nobody

    async def mark(self, actor: Actor, room: Room, data: dict[str, Any]) -> dict[str, Any]:
        """A moderator marks a message (``offset``, e.g. one members reported) or a held
        message (``hold``) as crisis: the author's case opens or gets it."""
        reason = data.get("reason") or "marked as crisis by a moderator"
        if not isinstance(reason, str) or len(reason) > 500:
            raise bad_request("reason must be a string of at most 500 characters")
        source = "report" if data.get("report") else "mark"
        item: dict[str, Any] = {"at": int(time.time() * 1000), "source": source, "channel": room.channel, "reason": reason}
        hold_id = data.get("hold")
        offset = data.get("offset")
        if isinstance(hold_id, str) and hold_id:
            record = await self.moderation.store.get(room.channel, hold_id)
            if record is None:
                raise not_found(f"no hold {hold_id} in {room.channel}")
            user, name, text = record.user, record.name, record.text
            item["hold_id"] = hold_id
        elif isinstance(offset, int) and not isinstance(offset, bool) and offset > 0:
            entry = await self.ext.streams.entry(room.channel, offset)
            event = _message_of(entry)
            if event is None:
                raise not_found(f"no message at offset {offset} in {room.channel}")
            user = str(event.get("user") or "")
            name = str(event.get("name") or user)
            text = str(event.get("text", ""))
            item.update({"offset": offset, "message_id": event.get("id", "")})
            if not user:
                raise bad_request("that message has no member author")
        else:
            raise bad_request("give the message's offset or a hold id")
        item["text"] = text
        case, created = await self.open_or_join(room.community, user, name, item, actor)
        return {"case": case, "created": created}

    # ---- transitions ------------------------------------------------------------------------

    async def get(self, community: str, case_id: Any) -> dict[str, Any]:
        if not isinstance(case_id, str) or not case_id or len(case_id) > 64:
            raise bad_request("case id required")
        found = await self.store.get(community, case_id)
        if found is None:
            raise not_found(f"no case {case_id} in {community}")
        return case_view(community, *found)

    async def list(self, community: str, which: Any = "active", limit: Any = 100) -> list[dict[str, Any]]:
        if which not in ("active", "all", *STATES):
            raise bad_request("state must be active, all, open, acknowledged, in_contact or closed")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise bad_request("limit must be 1-1000")
        cases = [case_view(community, f, i) for f, i in await self.store.recent(community, limit)]
        if which == "active":
            return [c for c in cases if c["state"] in ACTIVE]
        return cases if which == "all" else [c for c in cases if c["state"] == which]

    async def _move(
        self, actor: Actor, community: str, case_id: Any, expected: tuple[str, ...], new: str, fields: dict[str, str]
    ) -> tuple[dict[str, Any], str]:
        case = await self.get(community, case_id)
        before, changed = await self.store.transition(
            community, case["id"], expected, new, fields, self.config.closed_retention
        )
        if not changed:
            if not before:
                raise not_found(f"no case {case_id} in {community}")
            by = case.get("ack_by", {}).get("name") if before != "open" and case.get("ack_by") else None
            raise conflict(f"case {case['id']} is already {before}" + (f" (acknowledged by {by})" if by else ""))
        return await self.get(community, case["id"]), before

    async def ack(self, actor: Actor, community: str, case_id: Any) -> dict[str, Any]:
        now_ms = int(time.time() * 1000)
        case, _ = await self._move(actor, community, case_id, ("open",), "acknowledged", {"ack_at": str(now_ms), "ack_by": _actor_json(actor)})
        self.metrics.to_ack.observe((now_ms - case["opened_at"]) / 1000)
        await self._changed(actor, "crisis.ack", "acknowledged", case)
        return case

    async def contact(self, actor: Actor, community: str, case_id: Any, note: Any = None) -> dict[str, Any]:
        note_text = _note(note)
        now_ms = int(time.time() * 1000)
        current = await self.get(community, case_id)
        fields = {"contact_at": str(now_ms), "contact_by": _actor_json(actor)}
        if current["state"] == "open":  # reaching out acknowledges too
            fields.update({"ack_at": str(now_ms), "ack_by": _actor_json(actor)})
        if note_text:
            fields["note"] = note_text
        case, before = await self._move(actor, community, case_id, ("open", "acknowledged"), "in_contact", fields)
        if before == "open":
            self.metrics.to_ack.observe((now_ms - case["opened_at"]) / 1000)
        self.metrics.to_contact.observe((now_ms - case["opened_at"]) / 1000)
        await self._changed(actor, "crisis.contact", "in_contact", case, reason=note_text)
        return case

    async def close(
        self, actor: Actor, community: str, case_id: Any, outcome: Any, note: Any = None,
        holds: Any = None, reject_reason: Any = None,
    ) -> dict[str, Any]:
        """Close with an outcome. A case whose held messages still wait needs ``holds``:
        ``approve`` (publish them), ``reject`` (with ``reject_reason``, which the member sees)
        or ``keep`` (leave them in the queue): nothing expires unseen because a case closed."""
        if outcome not in OUTCOMES:
            raise bad_request(f"outcome must be one of {', '.join(OUTCOMES)}")
        note_text = _note(note)
        current = await self.get(community, case_id)
        pending = await self.pending_holds(current)
        if holds is not None and holds not in HOLD_CHOICES:
            raise bad_request("holds must be approve, reject or keep")
        if pending and holds is None:
            raise bad_request(
                f"this case has {len(pending)} held message(s) waiting: say what becomes of them "
                "(holds: approve, reject or keep)"
            )
        reason_text = ""
        if pending and holds == "reject":
            if not isinstance(reject_reason, str) or not reject_reason.strip() or len(reject_reason) > 500:
                raise bad_request("reject_reason (1-500 characters, the member sees it) is required to reject held messages")
            reason_text = reject_reason.strip()
        now_ms = int(time.time() * 1000)
        fields = {"closed_at": str(now_ms), "closed_by": _actor_json(actor), "outcome": outcome}
        if note_text:
            fields["note"] = note_text
        case, _ = await self._move(actor, community, case_id, ACTIVE, "closed", fields)
        settled: dict[str, list[str]] = {"approved": [], "rejected": [], "kept": [], "failed": []}
        for channel, hold_id in pending:
            try:
                if holds == "approve":
                    await self.moderation.holds.approve(actor, channel, hold_id)
                    settled["approved"].append(hold_id)
                elif holds == "reject":
                    await self.moderation.holds.reject(actor, channel, hold_id, reason_text)
                    settled["rejected"].append(hold_id)
                else:
                    settled["kept"].append(hold_id)
            except ReplyError as exc:  # resolved meanwhile by someone else, or not publishable
                log.info("hold %s of case %s not settled on close: %s", hold_id, case["id"], exc)
                settled["failed"].append(hold_id)
        details: dict[str, Any] = {"outcome": outcome}
        if pending:
            details.update({"holds": holds, **{k: v for k, v in settled.items() if v}})
        await self._changed(actor, "crisis.close", "closed", case, reason=note_text, details=details)
        await self.store.remember_closed(community, case["user"], case["id"], self.config.resources_linger)
        return {**case, "holds": {k: v for k, v in settled.items() if v}} if pending else case

    async def pending_holds(self, case: dict[str, Any]) -> list[tuple[str, str]]:
        """(channel, hold id) of the case's held messages still waiting for a moderator."""
        out: list[tuple[str, str]] = []
        for item in case.get("items", []):
            hold_id, channel = item.get("hold_id"), item.get("channel")
            if not hold_id or not channel or (channel, hold_id) in out:
                continue
            record = await self.moderation.store.get(channel, hold_id)
            if record is not None and record.status == "pending":
                out.append((channel, hold_id))
        return out

    async def link_conversation(self, community: str, case_id: str, channel: str) -> dict[str, Any]:
        await self.store.set_field(community, case_id, "conversation", channel)
        case = await self.get(community, case_id)
        await self.feed(community, "conversation", case)
        await self.tell_member(case)
        return case

    async def _changed(
        self, actor: Actor, action: str, change: str, case: dict[str, Any], reason: str = "", details: dict[str, Any] | None = None
    ) -> None:
        await self.audit.append(
            case["community"], action, actor,
            target={"user": case["user"], "channel": case.get("channel", ""), "case": case["id"]},
            reason=reason, details=details,
        )
        await self.feed(case["community"], change, case)
        await self.tell_member(case)

    async def feed(self, community: str, change: str, case: dict[str, Any]) -> None:
        await self.moderation.publish_feed(f"{community}/mod", {"type": "crisis.case", "change": change, "case": case})

    # ---- escalation ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = self.ext.tasks.spawn(self._sweep_loop(), "crisis escalation sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.sweep_interval)
            try:
                await self.sweep()
            except Exception:
                self.ext.tasks.log_failure(log, "crisis escalation sweep failed")

    async def sweep(self) -> int:
        """Escalate the cases past their acknowledgement deadline. Every process sweeps; the
        compare-and-set in crisis_escalate.lua lets exactly one escalate each case."""
        communities = sorted(self.ext.catalog.communities)
        now_ms = int(time.time() * 1000)
        done = 0
        for community, case_id in await self.store.due(communities, now_ms):
            if await self.store.escalate(community, case_id, now_ms, ANNOUNCE_GRACE_MS):
                done += 1
                await self._escalated(community, case_id)
        # Escalations whose process died before announcing them: announced again, once.
        for community, case_id in await self.store.unannounced(communities, now_ms):
            if await self.store.claim_announcement(community, case_id, now_ms, ANNOUNCE_GRACE_MS):
                log.warning("announcing the escalation of case %s in %s again", case_id, community)
                await self._escalated(community, case_id)
        if time.monotonic() - self._last_counts > 5:
            self._last_counts = time.monotonic()
            self.metrics.open = await self.store.counts(communities)
        return done

    async def _escalated(self, community: str, case_id: str) -> None:
        found = await self.store.get(community, case_id)
        if found is None or found[0].get("state") != "open":
            await self.store.announced(community, case_id)  # gone, or a person has it now
            return
        self.metrics.escalated += 1
        case = case_view(community, *found)
        waited = (case["escalated_at"] - case["opened_at"]) / 1000
        await self.audit.append(
            community, "crisis.escalate", SYSTEM,
            target={"user": case["user"], "channel": case.get("channel", ""), "case": case_id},
            reason=f"not acknowledged within {waited:.0f} s",
        )
        event = {"type": "crisis.escalated", "priority": "high", "case": case}
        await self.feed(community, "escalated", case)
        # Moderators everywhere: every room's moderator feed too, not only the community's.
        for room in self.ext.catalog.rooms_of(community)[:500]:
            if private_of(room) is None:
                await self.moderation.publish_feed(room.channel + "/mod", event)
        await self.store.announced(community, case_id)


def _note(note: Any) -> str:
    if note is None:
        return ""
    if not isinstance(note, str) or len(note) > 2000:
        raise bad_request("note must be a string of at most 2000 characters")
    return note.strip()


def _message_of(entry: Any) -> dict[str, Any] | None:
    if entry is None:
        return None
    try:
        pub = Publication.unpack("", entry.offset, "", entry.payload)
        event = json.loads(pub.data)
    except (ValueError, TypeError):
        return None
    if not isinstance(event, dict) or event.get("type") != "message" or event.get("platform"):
        return None
    return event
