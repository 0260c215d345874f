"""The one path of every message that enters a room: ``Poster.submit``.

A member's post (protocol ``publish``, rpc ``chat.send``), a Q&A question or answer, a held
item a moderator approved and a server-side post are all a ``Submission``; ``submit`` runs
the gates registered for its kind, the context builders and the room's moderation pipeline,
matches the verdict (``Allow | Redact | Look | Support | Hold | Reject``) in one place, hands accepted text to
the submission's ``Destination`` (the room's stream for messages; the Q&A board for
questions and answers) and returns one typed ``Outcome``: ``Published | Held | Rejected``.

Extension points (given to extensions by the composition root, ``chatserver.app``):
- ``add_gate(gate, kinds)``: async ``(sender, room, draft) -> None``; raise ``ReplyError`` to
  refuse before moderation (mutes, bans, slow mode, stage mode);
- ``use_pipeline(pipeline)``: what reviews (``review(ctx) -> Review``);
- ``add_context_builder(build)``: async ``(sender, room, draft, ctx) -> ctx`` (facts for hooks);
- ``use_hold(handler)``: async ``(submission, review, item_id) -> Held`` stores a held item;
  without one, a hold verdict is refused safely;
- ``add_retry_lookup(lookup)``: async ``(sender, room, draft) -> Outcome | None``, asked for a
  member's message with a ``client_msg_id`` that was not published (e.g. a held one);
- ``add_observer(observer)``: async ``(submission, review, outcome)`` after every decision
  (audit log, counters, notices).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from chatserver.engine import HistoryOptions, Streams
from chatserver.errors import ReplyError
from chatserver.protocol import codes
from chatserver.publication import Publication, pack_payload
from chatserver.stats import Stats
from moderation_hooks import (
    Allow,
    Hold,
    Look,
    MessageContext,
    Pipeline,
    Redact,
    Reject,
    Review,
    Support,
    apply_redactions,
)
from rooms.messages import Draft, InvalidMessage, message_event, parse_draft
from rooms.model import Member, Role, Room
from rooms.policy import may_post

if TYPE_CHECKING:
    from chatserver.auth import Identity
    from chatserver.subscription import Sub

log = logging.getLogger("chatserver.posting")


class Sender(Protocol):
    """What posting needs from a client connection."""

    identity: Identity | None
    subs: dict[str, Sub]

    @property
    def user(self) -> str: ...

    def client_info(self, chan_info: bytes = b"") -> dict[str, Any]: ...


class Reviewer(Protocol):
    async def review(self, ctx: MessageContext) -> Review: ...


# ---------------------------------------------------------------------------------- outcomes


@dataclass(frozen=True, slots=True)
class Published:
    """Accepted (maybe redacted) and placed by the destination."""

    id: str
    text: str = ""
    hidden: tuple[str, ...] = ()
    reason: str = ""  # the redaction's reason
    offset: int = 0
    epoch: str = ""
    duplicate: bool = False
    detail: Any = None  # what the destination returned (e.g. the Q&A board)


@dataclass(frozen=True, slots=True)
class Held:
    """Waiting in the room's hold queue."""

    id: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)  # for the sender (``hold`` in chat.send)
    duplicate: bool = False
    record: Any = None  # the hold queue's record


@dataclass(frozen=True, slots=True)
class Rejected:
    """Refused by moderation; ``notice`` is what the sender is told."""

    id: str
    reason: str
    notice: str
    retry_after: float = 0.0  # a rate limit: the same message is accepted after this wait


Outcome = Published | Held | Rejected


def outcome_dict(outcome: Outcome) -> dict[str, Any]:
    """The ``chat.send`` answer: ``{status, id, offset?, epoch?, reason?, hidden?, ...}``."""
    match outcome:
        case Published():
            out: dict[str, Any] = {"status": "redacted" if outcome.hidden else "published", "id": outcome.id}
            if outcome.offset:
                out["offset"] = outcome.offset
                out["epoch"] = outcome.epoch
            if outcome.reason:
                out["reason"] = outcome.reason
            if outcome.hidden:
                out["hidden"] = list(outcome.hidden)
            if outcome.duplicate:
                out["duplicate"] = True
            return out
        case Held():
            out = {"status": "held", "id": outcome.id}
            if outcome.reason:
                out["reason"] = outcome.reason
            if outcome.duplicate:
                out["duplicate"] = True
            if outcome.details:
                out["hold"] = outcome.details
            return out
        case Rejected():
            out = {"status": "rejected", "id": outcome.id, "reason": outcome.reason}
            if outcome.retry_after:
                out["retry_after"] = outcome.retry_after
            return out


# ---------------------------------------------------------------------------------- submissions


@dataclass(frozen=True, slots=True)
class Placed:
    """What a destination reports after placing accepted text."""

    offset: int = 0
    epoch: str = ""
    duplicate: bool = False
    detail: Any = None


Destination = Callable[["Submission", str, str, tuple[str, ...]], Awaitable[Placed]]
"""``async (submission, item_id, text, hidden) -> Placed``: put accepted text where it goes."""


@dataclass(frozen=True, slots=True)
class Submission:
    """One item entering a room. ``sender`` is the client connection (None for server-side
    and approved items, which skip gates and review)."""

    room: Room
    author: Member
    role: Role
    text: str
    destination: Destination
    kind: str = "message"
    sender: Sender | None = None
    info: dict[str, Any] | None = None  # the publication's ClientInfo
    client_msg_id: str | None = None
    reply_to: str | None = None
    item_id: str | None = None
    payload: dict[str, Any] | None = None  # kept with a hold, given back on approval
    extra: dict[str, Any] = field(default_factory=dict)  # facts for the hooks (ctx.extra)
    holdable: bool = True  # False: a hold verdict refuses (a host's answer is rewritten)
    counts_as_post: bool = True  # counted as the member's post (new-member rules)
    reviewed: bool = False  # already reviewed (approved by a moderator; server-side)
    hidden: tuple[str, ...] = ()  # of a reviewed item: labels of what its text hides
    event_extra: dict[str, Any] | None = None  # extra fields of the message event

    @property
    def draft(self) -> Draft:
        anonymous = self.kind == "question" and bool((self.payload or {}).get("anonymous"))
        return Draft(text=self.text, client_msg_id=self.client_msg_id, reply_to=self.reply_to, anonymous=anonymous)


Gate = Callable[[Sender, Room, Draft], Awaitable[None]]
HoldHandler = Callable[[Submission, Review, str], Awaitable[Held]]
Observer = Callable[[Submission, Review, Outcome], Awaitable[None]]
ContextBuilder = Callable[[Sender, Room, Draft, MessageContext], Awaitable[MessageContext]]
RetryLookup = Callable[[Sender, Room, Draft], Awaitable[Outcome | None]]

_NOT_REVIEWED = Review(Allow(), ())


class _RandomIds:
    """Random 8-byte ids from the OS's CSPRNG, read 4 KiB at a time (one ``getrandom``
    per 512 ids instead of one per post); refilled empty in a forked child, so two workers
    never hand out the same bytes."""

    SIZE = 4096

    def __init__(self) -> None:
        self._buf = b""
        self._pos = 0
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self._buf = b""
        self._pos = 0

    def hex8(self) -> str:
        pos = self._pos
        if pos + 8 > len(self._buf):
            self._buf = os.urandom(self.SIZE)
            pos = 0
        self._pos = pos + 8
        return self._buf[pos : pos + 8].hex()


_IDS = _RandomIds()


def new_message_id() -> str:
    return _IDS.hex8()


def from_sender(
    sender: Sender, room: Room, text: str, destination: Destination, **fields: Any
) -> Submission:
    """A submission by the member behind ``sender`` (ClientInfo with the room's chan_info)."""
    assert sender.identity is not None
    member = sender.identity.member
    sub = sender.subs.get(room.channel)
    return Submission(
        room=room,
        author=member,
        role=member.role_in(room.community) or Role.MEMBER,
        text=text,
        destination=destination,
        sender=sender,
        info=sender.client_info(sub.chan_info if sub is not None else b""),
        **fields,
    )


class Poster:
    def __init__(self, streams: Streams, history_of: Callable[[str], HistoryOptions | None], stats: Stats, idempotency_ttl: int) -> None:
        self._streams = streams
        self._history_of = history_of
        self._stats = stats
        self._idempotency_ttl = idempotency_ttl
        self._gates: list[tuple[Gate, frozenset[str]]] = []
        self._pipeline: Reviewer = Pipeline([])
        self._hold: HoldHandler | None = None
        self._observers: list[Observer] = []
        self._context_builders: list[ContextBuilder] = []
        self._retry_lookups: list[RetryLookup] = []

    # ---- registries ---------------------------------------------------------------------

    def add_gate(self, gate: Gate, kinds: Collection[str] = ("message",)) -> None:
        self._gates.append((gate, frozenset(kinds)))

    def use_pipeline(self, pipeline: Reviewer) -> None:
        self._pipeline = pipeline

    def use_hold(self, handler: HoldHandler) -> None:
        self._hold = handler

    def add_observer(self, observer: Observer) -> None:
        self._observers.append(observer)

    def add_context_builder(self, build: ContextBuilder) -> None:
        self._context_builders.append(build)

    def add_retry_lookup(self, lookup: RetryLookup) -> None:
        self._retry_lookups.append(lookup)

    # ---- a member's message ---------------------------------------------------------------

    async def post(self, conn: Sender, room: Room, data: Any) -> Outcome:
        """A member's message (``publish``, ``chat.send``): validate, then ``submit``.
        A rejection is raised as error 1001. Its time goes to ``chat_post_seconds``."""
        started = time.perf_counter()
        try:
            return await self._post(conn, room, data)
        finally:
            self._stats.post_seconds.observe(time.perf_counter() - started)

    async def _post(self, conn: Sender, room: Room, data: Any) -> Outcome:
        assert conn.identity is not None
        member = conn.identity.member
        try:
            draft = parse_draft(data, room)
        except InvalidMessage as exc:
            raise ReplyError(codes.BAD_REQUEST, f"bad request: {exc}") from None
        denied = may_post(member, room)
        if denied is not None:
            if room.settings.locked and denied.code == codes.PERMISSION_DENIED.code and member.role_in(room.community):
                raise ReplyError(codes.ROOM_LOCKED, denied.reason)
            raise ReplyError(denied.code, denied.reason)
        if draft.client_msg_id:
            previous = await self._streams.published_offset(room.channel, member.user, draft.client_msg_id)
            if previous is not None:
                return await self._duplicate(room, previous)
            for lookup in self._retry_lookups:
                earlier = await lookup(conn, room, draft)
                if earlier is not None:
                    return earlier
        outcome = await self.submit(
            from_sender(
                conn, room, draft.text, self.to_room, client_msg_id=draft.client_msg_id, reply_to=draft.reply_to
            )
        )
        if isinstance(outcome, Rejected):
            # A rate refusal is temporary (the message says the wait): the client may retry.
            raise ReplyError(
                codes.MODERATION_REJECTED, f"message not posted: {outcome.notice}", temporary=outcome.retry_after > 0 or None
            )
        return outcome

    # ---- the one path ---------------------------------------------------------------------

    async def submit(self, sub: Submission) -> Outcome:
        """Gates (for the submission's kind), context, review, the verdict, then the
        destination or the hold queue; observers see every decision. Gates raise
        ``ReplyError``; a rejection is returned (``Rejected``) for the caller to word."""
        item_id = sub.item_id or new_message_id()
        if sub.reviewed:
            return await self._place(sub, _NOT_REVIEWED, item_id, sub.text, sub.hidden, "")
        sender = sub.sender
        assert sender is not None, "a submission to review needs its sender"
        room = sub.room
        draft = sub.draft
        for gate, kinds in self._gates:
            if sub.kind in kinds:
                await gate(sender, room, draft)
        ctx = MessageContext(
            text=sub.text,
            user=sub.author.user,
            name=sub.author.name,
            role=sub.role,
            room=room,
            now=time.time(),
            kind=sub.kind,
            extra=dict(sub.extra),
        )
        for build in self._context_builders:
            ctx = await build(sender, room, draft, ctx)
        review = await self._pipeline.review(ctx)
        outcome: Outcome
        match review.verdict:
            case Reject(reason=reason, retry_after=retry_after):
                outcome = Rejected(item_id, reason, reason, retry_after)
            case Hold(reason=reason) if not sub.holdable:
                outcome = Rejected(item_id, reason, reason)
            case Hold() if self._hold is None:
                outcome = Rejected(
                    item_id, "held messages are not enabled", "it needs review and no review queue is enabled"
                )
            case Hold():
                assert self._hold is not None
                outcome = await self._hold(sub, review, item_id)
            case Redact(spans=spans, reason=reason):
                hidden = tuple(sorted({s.label for s in spans}))
                return await self._place(sub, review, item_id, apply_redactions(sub.text, spans), hidden, reason)
            case Support(spans=spans):
                # Published (redacted where a hook asked) so peers can respond; the observers
                # reach out to the sender privately and alert moderators.
                hidden = tuple(sorted({s.label for s in spans}))
                text = apply_redactions(sub.text, spans) if spans else sub.text
                reason = "; ".join(v.reason for _, v in review.verdicts if isinstance(v, Redact))
                return await self._place(sub, review, item_id, text, hidden, reason)
            case Look(spans=spans):
                # Published as written (redacted where a hook asked); the member is told
                # nothing about the look, the observers give moderators a quiet item.
                hidden = tuple(sorted({s.label for s in spans}))
                text = apply_redactions(sub.text, spans) if spans else sub.text
                reason = "; ".join(v.reason for _, v in review.verdicts if isinstance(v, Redact))
                return await self._place(sub, review, item_id, text, hidden, reason)
            case Allow():
                return await self._place(sub, review, item_id, sub.text, (), "")
        await self._observe(sub, review, outcome)
        return outcome

    async def _place(
        self, sub: Submission, review: Review, item_id: str, text: str, hidden: tuple[str, ...], reason: str
    ) -> Published:
        placed = await sub.destination(sub, item_id, text, hidden)
        outcome = Published(item_id, text, hidden, reason, placed.offset, placed.epoch, placed.duplicate, placed.detail)
        if not sub.reviewed:
            await self._observe(sub, review, outcome)
        return outcome

    async def _observe(self, sub: Submission, review: Review, outcome: Outcome) -> None:
        for observer in self._observers:
            try:
                await observer(sub, review, outcome)
            except Exception:
                log.exception("post observer failed")

    # ---- the room's stream ----------------------------------------------------------------

    async def to_room(self, sub: Submission, item_id: str, text: str, hidden: tuple[str, ...]) -> Placed:
        """The destination of room messages: the room's stream (history + fan-out, one call),
        idempotent per (author, client message id)."""
        now_ms = int(time.time() * 1000)
        event = message_event(
            message_id=item_id,
            text=text,
            author=sub.author,
            role=sub.role,
            ts_ms=now_ms,
            client_msg_id=sub.client_msg_id,
            redacted=list(hidden) or None,
            reply_to=sub.reply_to,
        )
        if sub.event_extra:
            event.update(sub.event_extra)
        key = sub.client_msg_id if sub.client_msg_id else (f"hold-{item_id}" if sub.reviewed else None)
        published = await self.publish_event(
            sub.room.channel,
            event,
            info=sub.info,
            idempotency=(sub.author.user, key) if key else None,
            time_ms=now_ms,
        )
        return Placed(published.offset, published.epoch, published.duplicate)

    # ---- editing a message in place -----------------------------------------------------

    def edit_to(self, offset: int) -> Destination:
        """The destination of an edit (kind ``edit``): the message at ``offset`` in the
        submission's room gets the accepted text in place (``edit_in_room``)."""

        async def place(sub: Submission, item_id: str, text: str, hidden: tuple[str, ...]) -> Placed:
            return await self.edit_in_room(sub.room, offset, sub.author.user, text, hidden)

        return place

    async def edit_in_room(
        self, room: Room, offset: int, user: str, text: str, hidden: tuple[str, ...]
    ) -> Placed:
        """Replace the text of ``user``'s message at ``offset`` (``Streams.edit``: the history
        keeps only the new text, at the message's own offset) and publish ``message.edited``
        with the next offset. A concurrent change of the entry is retried."""
        history = self._history_of(room.channel)
        if history is None:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown channel {room.channel}")
        for _ in range(3):
            entry = await self._streams.entry(room.channel, offset)
            if entry is None:
                raise ReplyError(codes.NOT_AVAILABLE, f"not available: message {offset} is no longer in {room.channel}")
            pub = Publication.unpack(room.channel, offset, "", entry.payload)
            event = orjson.loads(pub.data)
            if not isinstance(event, dict) or event.get("type") != "message" or event.get("user") != user:
                raise ReplyError(codes.PERMISSION_DENIED, "permission denied: not your message")
            now_ms = int(time.time() * 1000)
            event["text"] = text
            event.pop("redacted", None)
            if hidden:
                event["redacted"] = list(hidden)
            event["edited"] = True
            event["edited_ts"] = now_ms
            edited: dict[str, Any] = {
                "type": "message.edited",
                "id": event.get("id", ""),
                "offset": offset,
                "user": user,
                "text": text,
                "edited_ts": now_ms,
            }
            if hidden:
                edited["redacted"] = list(hidden)
            status, event_offset = await self._streams.edit(
                room.channel,
                offset,
                entry.payload,
                pack_payload(orjson.dumps(event), info=pub.info, tags=pub.tags, time_ms=pub.time),
                pack_payload(orjson.dumps(edited), time_ms=now_ms),
                history,
            )
            if status == 1:
                return Placed(event_offset, detail=edited)
            if status == 0:
                raise ReplyError(codes.NOT_AVAILABLE, f"not available: message {offset} is no longer in {room.channel}")
        raise ReplyError(codes.NOT_AVAILABLE, f"not available: message {offset} keeps changing; try again")

    async def publish_event(
        self,
        channel: str,
        event: dict[str, Any],
        *,
        info: dict[str, Any] | None = None,
        idempotency: tuple[str, str] | None = None,
        idempotency_ttl: int | None = None,
        time_ms: int | None = None,
    ) -> Any:
        """Publish a message event into a room's stream (with history)."""
        history = self._history_of(channel)
        if history is None:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown channel {channel}")
        payload = pack_payload(orjson.dumps(event), info=info or None, time_ms=time_ms or int(time.time() * 1000))
        published = await self._streams.publish(
            channel,
            payload,
            history,
            idempotency=idempotency,
            idempotency_ttl=self._idempotency_ttl if idempotency_ttl is None else idempotency_ttl,
        )
        if not published.duplicate:
            self._stats.published += 1
        return published

    async def earlier(self, room: Room, user: str, client_msg_id: str) -> Published | None:
        """The first result of ``user``'s message with this ``client_msg_id`` in ``room``,
        while the idempotency key lasts (``idempotency_ttl``); None when there is none."""
        previous = await self._streams.published_offset(room.channel, user, client_msg_id)
        return None if previous is None else await self._duplicate(room, previous)

    async def _duplicate(self, room: Room, offset: int) -> Published:
        message_id = ""
        hidden: tuple[str, ...] = ()
        hist = await self._streams.history(room.channel, offset - 1, 1)
        for entry in hist.entries:
            if entry.offset == offset:
                pub = Publication.unpack(room.channel, offset, hist.epoch, entry.payload)
                try:
                    event = orjson.loads(pub.data)
                    message_id = event.get("id", "")
                    hidden = tuple(event.get("redacted") or ())
                except (orjson.JSONDecodeError, AttributeError, TypeError):
                    message_id = ""
        return Published(message_id, hidden=hidden, offset=offset, epoch=hist.epoch, duplicate=True)
