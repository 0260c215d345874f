"""Presence decisions as pure functions: flags, visibility, push mode, timings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from presence.model import Counts, CountsView, MemberFlags, OnlineMember, PushMode

ROLE_ORDER = {"admin": 0, "moderator": 1, "host": 2, "supporter": 3, "member": 4}


def member_flags(*, is_staff: bool, is_host: bool, invisible: bool) -> MemberFlags:
    flags = MemberFlags.NONE
    if is_staff:
        flags |= MemberFlags.STAFF
    if is_host:
        flags |= MemberFlags.HOST
    if invisible:
        flags |= MemberFlags.INVISIBLE
    return flags


def may_see(*, viewer_is_staff: bool, viewer_user: str, subject_user: str, subject_flags: MemberFlags) -> bool:
    """Invisible members are hidden from other members' lists and pushes; staff (moderators,
    admins) see everyone, and everyone sees themselves."""
    if not subject_flags & MemberFlags.INVISIBLE:
        return True
    return viewer_is_staff or viewer_user == subject_user


def counts_view(counts: Counts, *, viewer_is_staff: bool) -> CountsView:
    """Counts as one viewer sees them: totals include invisible members; the moderator and
    host counts shown to members leave invisible ones out (so nobody can be singled out)."""
    if viewer_is_staff:
        return CountsView(
            users=counts.users,
            clients=counts.clients,
            moderators=counts.staff,
            hosts=counts.hosts,
            invisible=counts.users - counts.visible,
        )
    return CountsView(
        users=counts.users,
        clients=counts.clients,
        moderators=counts.staff_visible,
        hosts=counts.hosts_visible,
    )


def push_mode(*, join_leave: bool, users_online: int, threshold: int) -> PushMode:
    """Per-member pushes while the room has at most ``threshold`` users online (counted
    after the change), count events above it, nothing when the room turned pushes off."""
    if not join_leave:
        return PushMode.OFF
    if users_online <= threshold:
        return PushMode.MEMBERS
    return PushMode.COUNTS


def counts_due(*, join_leave: bool, users_before: int, users_after: int, threshold: int) -> bool:
    """A count event is due when a user arrives or leaves while the room is above the
    threshold, and once more when it drops back to it (clients then refetch the list)."""
    return join_leave and (users_before > threshold or users_after > threshold)


def room_threshold(default: int, extra: Mapping[str, Any]) -> int:
    """The room's own ``extra["presence_threshold"]`` when it is a sane integer."""
    value = extra.get("presence_threshold")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return default


def sort_members(members: Iterable[OnlineMember]) -> list[OnlineMember]:
    """Staff and hosts first (what "moderator online, host online" needs), then by name."""
    return sorted(members, key=lambda m: (ROLE_ORDER.get(m.role, 9), m.name.lower(), m.user))


@dataclass(frozen=True, slots=True)
class Liveness:
    """Timings that bound how long a dead process's members stay online.

    A live process refreshes its deadline every ``beat_interval`` (jittered by the caller's
    ``jitter`` in [0, 1)); its deadline is ``now + window``. Every process checks for
    expired processes every ``sweep_interval`` and sweeps them at once, so a process that
    dies has its members leave within ``window + max sweep interval <= ttl`` seconds.
    """

    ttl: float

    @property
    def window(self) -> float:
        return self.ttl - 1.0

    def deadline(self, now: float) -> float:
        return now + self.window

    def beat_interval(self, jitter: float) -> float:
        return self.ttl / 4 * (0.8 + 0.4 * jitter)

    def sweep_interval(self, jitter: float) -> float:
        return 0.7 + 0.3 * jitter

    @property
    def keys_ttl(self) -> int:
        """Redis key expiry: generous, refreshed by every beat; only matters when every
        process of a room is gone."""
        return int(self.ttl * 4) + 10

    def is_dead(self, deadline: float, now: float) -> bool:
        return deadline < now
