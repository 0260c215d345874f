"""What each channel is and how it behaves: recoverable history, presence, who may join.

``ChannelResolver.resolve`` maps a channel name to a ``ChannelSpec`` (or None: unknown, 102).
Extensions register extra checks per channel kind with ``add_check``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chatserver.engine import Catalog, HistoryOptions
from rooms.channels import ChannelKind, ChannelName, parse_channel
from rooms.model import Member, Room
from rooms.policy import Denied, may_subscribe


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    name: str
    parsed: ChannelName
    room: Room | None
    history: HistoryOptions
    presence: bool
    join_leave: bool

    @property
    def kind(self) -> ChannelKind:
        return self.parsed.kind


_ROOM_KINDS = frozenset(
    {ChannelKind.ROOM, ChannelKind.ROOM_MOD, ChannelKind.QA, ChannelKind.QA_SCREENING}
)

SubscribeCheck = Callable[[Member, ChannelSpec], Denied | None]
DeniedListener = Callable[[Member, ChannelSpec, Denied], None]


class ChannelResolver:
    def __init__(self, catalog: Catalog, meta_ttl: int) -> None:
        self.catalog = catalog
        self.meta_ttl = meta_ttl
        self._checks: dict[ChannelKind, list[SubscribeCheck]] = {}
        self._denied: list[DeniedListener] = []
        # History for non-room channels: private notices, moderator feeds, Q&A boards.
        self.side_history = {
            ChannelKind.USER: HistoryOptions(200, 14 * 24 * 3600, meta_ttl),
            ChannelKind.ROOM_MOD: HistoryOptions(1000, 14 * 24 * 3600, meta_ttl),
            ChannelKind.COMMUNITY_MOD: HistoryOptions(1000, 14 * 24 * 3600, meta_ttl),
            ChannelKind.QA: HistoryOptions(5000, 30 * 24 * 3600, meta_ttl),
            ChannelKind.QA_SCREENING: HistoryOptions(5000, 30 * 24 * 3600, meta_ttl),
        }

    def add_check(self, kind: ChannelKind, check: SubscribeCheck) -> None:
        self._checks.setdefault(kind, []).append(check)

    def on_denied(self, listener: DeniedListener) -> None:
        """``listener(member, spec, denied)`` for every refused join (e.g. to audit attempts
        on private conversations); it must not block."""
        self._denied.append(listener)

    def resolve(self, channel: str) -> ChannelSpec | None:
        parsed = parse_channel(channel)
        if parsed is None:
            return None
        room: Room | None = None
        if parsed.kind in _ROOM_KINDS:
            room = self.catalog.room(parsed.community, parsed.room)
            if room is None:
                return None
        elif parsed.kind is ChannelKind.COMMUNITY_MOD:
            if parsed.community not in self.catalog.communities:
                return None
        if parsed.kind is ChannelKind.ROOM:
            assert room is not None
            s = room.settings
            history = HistoryOptions(max(s.history_size, 1), s.history_ttl, self.meta_ttl)
            return ChannelSpec(channel, parsed, room, history, s.presence, s.join_leave)
        return ChannelSpec(
            channel, parsed, room, self.side_history[parsed.kind], False, False
        )

    def check_subscribe(self, member: Member, spec: ChannelSpec) -> Denied | None:
        denied = may_subscribe(member, spec.parsed, spec.room)
        if not denied:
            for check in self._checks.get(spec.kind, []):
                denied = check(member, spec)
                if denied:
                    break
        if denied:
            for listener in self._denied:
                listener(member, spec, denied)
            return denied
        return None
