"""Per-room pipelines: the layered config resolved for each room, built once and cached
until the room or its community changes (the catalog replaces those objects on change).

``RoomPipelines`` is the Poster's reviewer (``Poster.use_pipeline``): its ``review(ctx)`` runs the
pipeline of ``ctx.room``. It also gathers the facts hooks declare they need (``needs``) and
records posts for them afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from moderation_hooks import (
    Allow,
    Hold,
    Look,
    MessageContext,
    ModerationConfig,
    ModerationConfigError,
    Pipeline,
    Policy,
    Redact,
    Review,
    Support,
    Verdict,
    combine,
    parse_layer,
    resolve,
)
from moderation_hooks.config import Layer, ResolvedHook
from moderation_hooks.flood import RECENT_POSTS, RecentPost, digest
from moderation_hooks.loading import HookLoadError, build_specs
from moderation_hooks.newmember import MEMBER_STATS
from rooms.model import Community, Role, Room
from rooms.private import private_of

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext
    from chatserver.redis.moderation_store import RedisModerationStore

log = logging.getLogger("chatserver.moderation.pipelines")

RECENT_KEEP = 50  # posts remembered per member and room
RECENT_TTL = 86_400
DIRECTORY_KEEP = 2000  # recent members remembered by name per community (mod.members)
COUNT_DELAY = 0.0  # the next loop turn (as late as a task per post was: an erasure is not undone)
API_KEY = "moderation"  # community.settings["moderation"], room.settings.extra["moderation"]


class RoomPipelines(Pipeline):
    def __init__(self, ext: ExtensionContext, config: ModerationConfig, store: RedisModerationStore) -> None:
        super().__init__([])
        self.ext = ext
        self.store = store
        self.config = config
        self.failure_counts: dict[str, int] = {}
        self._cache: dict[str, tuple[Room, Community | None, Pipeline, Policy]] = {}
        self._counts: dict[tuple[str, str], int] = {}  # posts not written yet
        self._names: dict[tuple[str, str], tuple[str, int]] = {}  # (name, ms) for the directory
        self._writing: dict[tuple[str, str], int] = {}  # posts being written
        self._count_scheduled = False
        # Set by crisis response: a community's own resources for a member's locale, and the
        # numbers in them, which the PII hook must never hide.
        self.localizer: Callable[[str, str, Verdict], Verdict] | None = None
        self.allow_numbers: Callable[[str], tuple[str, ...]] | None = None
        self.default = Pipeline(build_specs(resolve(config, []).hooks), self.failure_counts)
        # Build every hook and every layer from the file now, so that a bad setting or a hook
        # that cannot be imported stops startup with its reason (not a room's first message).
        build_specs(
            tuple(
                ResolvedHook(d.name, d.use, d.timeout, d.on_failure, d.thread, d.settings)
                for d in config.definitions.values()
            )
        )
        for name, layer in config.communities.items():
            build_specs(resolve(config, [layer]).hooks)
            log.debug("community %s pipeline ok", name)
        for channel, layer in config.rooms.items():
            community = config.communities.get(channel.partition(":")[0])
            build_specs(resolve(config, [layer] if community is None else [community, layer]).hooks)

    # ---- layers and building -------------------------------------------------------------

    def use_resources(
        self, localize: Callable[[str, str, Verdict], Verdict], allow_numbers: Callable[[str], tuple[str, ...]]
    ) -> None:
        self.localizer = localize
        self.allow_numbers = allow_numbers
        self._cache.clear()

    def api_layer(self, raw: Any, where: str) -> Layer:
        return parse_layer(raw, where, self.config.definitions)

    def layers(self, room: Room, community: Community | None) -> list[Layer]:
        out: list[Layer] = []
        file_community = self.config.communities.get(room.community)
        if file_community is not None:
            out.append(file_community)
        if community is not None and community.settings.get(API_KEY):
            out.append(self.api_layer(community.settings[API_KEY], f"community {room.community}"))
        file_room = self.config.rooms.get(room.channel)
        if file_room is not None:
            out.append(file_room)
        if room.settings.extra.get(API_KEY):
            out.append(self.api_layer(room.settings.extra[API_KEY], f"room {room.channel}"))
        return out

    def build(self, layers: list[Layer], community: str = "") -> tuple[Pipeline, Policy]:
        resolved = resolve(self.config, layers)
        hooks = resolved.hooks
        numbers = self.allow_numbers(community) if community and self.allow_numbers is not None else ()
        if numbers:  # the community's helplines are never a member's personal number
            allowed = tuple(
                replace(h, settings={**h.settings, "allow_numbers": [*h.settings.get("allow_numbers", ()), *numbers]})
                if h.use == "pii" else h
                for h in hooks
            )
            try:
                return Pipeline(build_specs(allowed), self.failure_counts), resolved.policy
            except (ModerationConfigError, HookLoadError, ValueError) as exc:
                log.error("the PII hook of %s takes no allow-list (%s); helplines may be redacted", community, exc)
        return Pipeline(build_specs(hooks), self.failure_counts), resolved.policy

    def for_room(self, room: Room) -> tuple[Pipeline, Policy]:
        community = self.ext.catalog.communities.get(room.community)
        cached = self._cache.get(room.channel)
        if cached is not None and cached[0] is room and cached[1] is community:
            return cached[2], cached[3]
        try:
            pipeline, policy = self.build(self.layers(room, community), room.community)
        except (ModerationConfigError, HookLoadError) as exc:
            # Stored overrides that no longer fit the file config (e.g. a hook was removed):
            # fall back to the global pipeline, which was validated at startup.
            log.error("moderation config of %s is unusable (%s); using the global pipeline", room.channel, exc)
            pipeline, policy = self.default, self.config.policy
        self._cache[room.channel] = (room, community, pipeline, policy)
        return pipeline, policy

    def describe(self, room: Room) -> dict[str, Any]:
        community = self.ext.catalog.communities.get(room.community)
        resolved = resolve(self.config, self.layers(room, community))
        return {
            "pipeline": [
                {"name": h.name, "use": h.use, "timeout": h.timeout, "on_failure": h.on_failure, "settings": dict(h.settings)}
                for h in resolved.hooks
            ],
            "policy": resolved.policy.to_dict(),
        }

    # ---- Pipeline interface (the Poster calls this) ----------------------------------------

    async def review(self, ctx: MessageContext) -> Review:
        pipeline, _ = self.for_room(ctx.room)
        review = self.localized(ctx, await pipeline.review(ctx))
        conv = private_of(ctx.room)
        if conv is not None:
            return in_private_conversation(review, helper=ctx.user != conv.member and ctx.role is not Role.MEMBER)
        return review

    def localized(self, ctx: MessageContext, review: Review) -> Review:
        """The review with the community's own resources for the member's locale in every
        verdict that offers resources (the hook's notice in her language stays), and without
        any redaction of one of the community's helpline numbers (whatever hook found it)."""
        if type(review.verdict) is Allow:  # the usual case: every hook allowed
            return review
        localize = self.localizer
        offers = localize is not None and any(isinstance(v, (Hold, Support)) and v.resources for _, v in review.verdicts)
        spanned = any(isinstance(v, (Redact, Look, Support)) and v.spans for _, v in review.verdicts)
        numbers = self.allow_numbers(ctx.room.community) if spanned and self.allow_numbers is not None else ()
        if not offers and not numbers:
            return review
        allowed = {_digits(n) for n in numbers}
        verdicts = []
        for name, v in review.verdicts:
            if localize is not None and isinstance(v, (Hold, Support)) and v.resources:
                v = localize(ctx.room.community, ctx.locale, v)
            if allowed and isinstance(v, (Redact, Look, Support)) and v.spans:
                kept = tuple(s for s in v.spans if s.label != "phone" or _digits(ctx.text[s.start : s.end]) not in allowed)
                if len(kept) != len(v.spans):
                    v = replace(v, spans=kept) if kept or not isinstance(v, Redact) else Allow()
            verdicts.append((name, v))
        return Review(combine([v for _, v in verdicts]), tuple(verdicts), review.failures, review.hook_seconds)

    # ---- facts for hooks -------------------------------------------------------------------

    async def add_facts(self, ctx: MessageContext, locale: str | None, *, record: bool = True) -> MessageContext:
        """Fill in what the room's hooks declared they need, in one Redis round trip. With
        ``record``, this post is also remembered as the member's latest attempt in the room
        (flood control counts attempts: a member hammering a refused message is flooding)."""
        pipeline, _ = self.for_room(ctx.room)
        needs = pipeline.needs
        changes: dict[str, Any] = {}
        if locale:
            changes["locale"] = locale
        if RECENT_POSTS in needs or MEMBER_STATS in needs:
            listed, count = await self.store.facts(
                ctx.room.channel,
                ctx.room.community,
                ctx.user,
                recent=RECENT_KEEP if RECENT_POSTS in needs else 0,
                record=f"{ctx.now:.3f}|{digest(ctx.text)}" if record else None,
                recent_ttl=RECENT_TTL,
                posts=MEMBER_STATS in needs,
            )
            if listed is not None:
                recent = []
                for item in listed:
                    at, _, dg = item.partition("|")
                    try:
                        recent.append(RecentPost(float(at), dg))
                    except ValueError:
                        continue
                changes["extra"] = {**ctx.extra, RECENT_POSTS: tuple(recent)}
            if count is not None:
                changes["messages_in_community"] = count + self._unwritten(ctx.room.community, ctx.user)
        return replace(ctx, **changes) if changes else ctx

    def count_post(self, room: Room, user: str, name: str = "") -> None:
        """Count an accepted (published or held) post towards the member's messages in the
        community, always (so that switching the new-member hold on later does not treat
        everyone as new). In the background: the sender's reply does not wait for it; the
        posts of one loop turn are added up and written together on the next (the facts read
        adds the ones not written yet)."""
        key = (room.community, user)
        self._counts[key] = self._counts.get(key, 0) + 1
        if name:  # the community's directory of recent members (mod.members)
            self._names[key] = (name, int(time.time() * 1000))
        if not self._count_scheduled:
            self._count_scheduled = True
            self.ext.tasks.spawn(self._write_counts(), "count posts")

    def _unwritten(self, community: str, user: str) -> int:
        key = (community, user)
        return self._counts.get(key, 0) + self._writing.get(key, 0)

    async def _write_counts(self) -> None:
        try:
            await asyncio.sleep(COUNT_DELAY)
        finally:  # also when cancelled at shutdown: the counts are still written
            self._count_scheduled = False
            counts, self._counts = self._counts, {}
            names, self._names = self._names, {}
            self._writing = counts
            try:
                await self.store.count_posts(counts)
                await self.store.note_members(names, DIRECTORY_KEEP)
            finally:
                self._writing = {}


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def in_private_conversation(review: Review, *, helper: bool) -> Review:
    """A private support conversation. The member's crisis words reach the moderator they are
    talking to: a crisis ``Hold`` becomes ``Support`` (posted, redacted where another hook
    asked; resources to the member, and the case opened or joined by the crisis listeners).
    A helper's (moderator, admin or host) are theirs to use: asking "are you thinking of
    ending your life?" is how one checks on someone, so crisis verdicts are dropped."""

    def crisis(v: object) -> bool:
        return isinstance(v, (Hold, Support)) and v.category == "crisis"

    if not any(crisis(v) for _, v in review.verdicts):
        return review
    if helper:
        verdicts = tuple((name, v) for name, v in review.verdicts if not crisis(v))
    else:
        verdicts = tuple(
            (name, Support(v.reason, v.category, v.notice, v.resources, v.priority) if isinstance(v, Hold) and crisis(v) else v)
            for name, v in review.verdicts
        )
    return Review(combine([v for _, v in verdicts]), verdicts, review.failures, review.hook_seconds)
