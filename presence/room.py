"""``RoomPresence``: the presence of one room as a pure state machine.

The Redis scripts (``chatserver/lua/presence_*.lua``) apply exactly these rules atomically
per room; this model is what they are tested against, and it documents the rules:

- an entry is one connection (client id) of one user, recorded by one server process (node);
- a user is online while at least one of their connections is (tabs and devices coalesce):
  ``MemberJoined`` only for the first connection, ``MemberLeft`` only for the last;
- the user's flags (staff, host, invisible) are those of the connection that brought them
  online, until they leave;
- per-member events only while the room pushes them and has at most ``threshold`` users
  online after the change; above it a ``CountsDue`` asks for a coalesced count event;
- a node whose deadline passed (it stopped refreshing it) is swept: its entries leave as if
  each connection had closed, so the remaining members hear each leave exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from presence.model import Counts, MemberFlags
from presence.rules import counts_due


@dataclass(frozen=True, slots=True)
class Entry:
    node: str
    user: str


@dataclass(frozen=True, slots=True)
class UserState:
    connections: int
    flags: MemberFlags


@dataclass(frozen=True, slots=True)
class MemberJoined:
    user: str
    client: str


@dataclass(frozen=True, slots=True)
class MemberLeft:
    user: str
    client: str


@dataclass(frozen=True, slots=True)
class CountsDue:
    """The room is (or just was) above the threshold: a count event should go out soon."""


PresenceEvent = MemberJoined | MemberLeft | CountsDue


@dataclass(frozen=True, slots=True)
class RoomRules:
    join_leave: bool
    threshold: int


@dataclass(frozen=True, slots=True)
class RoomPresence:
    entries: dict[str, Entry] = field(default_factory=dict)
    users: dict[str, UserState] = field(default_factory=dict)
    deadlines: dict[str, float] = field(default_factory=dict)

    # ------------------------------------------------------------------ reads

    def counts(self) -> Counts:
        visible = staff = staff_visible = hosts = hosts_visible = 0
        for state in self.users.values():
            seen = not state.flags & MemberFlags.INVISIBLE
            visible += seen
            if state.flags & MemberFlags.STAFF:
                staff += 1
                staff_visible += seen
            if state.flags & MemberFlags.HOST:
                hosts += 1
                hosts_visible += seen
        return Counts(
            clients=len(self.entries),
            users=len(self.users),
            visible=visible,
            staff=staff,
            staff_visible=staff_visible,
            hosts=hosts,
            hosts_visible=hosts_visible,
        )

    def online(self, user: str) -> bool:
        return user in self.users

    def clients_of(self, node: str) -> list[str]:
        return sorted(c for c, e in self.entries.items() if e.node == node)

    # ------------------------------------------------------------------ changes

    def join(
        self,
        node: str,
        client: str,
        user: str,
        flags: MemberFlags,
        *,
        deadline: float,
        rules: RoomRules,
    ) -> tuple[RoomPresence, list[PresenceEvent]]:
        """A connection entered the room. Joining twice with one client id changes nothing."""
        if client in self.entries:
            return self, []
        entries = {**self.entries, client: Entry(node, user)}
        deadlines = self.deadlines if node in self.deadlines else {**self.deadlines, node: deadline}
        known = self.users.get(user)
        if known is not None:
            users = {**self.users, user: UserState(known.connections + 1, known.flags)}
            return replace(self, entries=entries, users=users, deadlines=deadlines), []
        before = len(self.users)
        users = {**self.users, user: UserState(1, flags)}
        events = _transition_events(MemberJoined(user, client), before, before + 1, rules)
        return RoomPresence(entries, users, deadlines), events

    def leave(self, client: str, *, rules: RoomRules) -> tuple[RoomPresence, list[PresenceEvent]]:
        """A connection left the room (unsubscribed, closed, or swept with its node)."""
        entry = self.entries.get(client)
        if entry is None:
            return self, []
        entries = {c: e for c, e in self.entries.items() if c != client}
        deadlines = self.deadlines
        if not any(e.node == entry.node for e in entries.values()):
            deadlines = {n: d for n, d in deadlines.items() if n != entry.node}
        state = self.users[entry.user]
        if state.connections > 1:
            users = {**self.users, entry.user: UserState(state.connections - 1, state.flags)}
            return RoomPresence(entries, users, deadlines), []
        before = len(self.users)
        users = {u: s for u, s in self.users.items() if u != entry.user}
        events = _transition_events(MemberLeft(entry.user, client), before, before - 1, rules)
        return RoomPresence(entries, users, deadlines), events

    def beat(self, node: str, deadline: float) -> RoomPresence:
        """The node is alive: push its deadline forward (only while it has entries here)."""
        if not any(e.node == node for e in self.entries.values()):
            return self
        return replace(self, deadlines={**self.deadlines, node: deadline})

    def sweep(
        self, now: float, *, rules: RoomRules, forced: Iterable[str] = ()
    ) -> tuple[RoomPresence, list[PresenceEvent]]:
        """Remove every node whose deadline passed (and the ``forced`` ones, known dead from
        elsewhere), announcing their members' leaves."""
        dead = sorted((n for n, d in self.deadlines.items() if d < now), key=lambda n: (self.deadlines[n], n))
        dead += [n for n in forced if n not in dead]
        state = self
        events: list[PresenceEvent] = []
        for node in dead:
            for client in state.clients_of(node):
                state, more = state.leave(client, rules=rules)
                events += more
            state = replace(state, deadlines={n: d for n, d in state.deadlines.items() if n != node})
        return state, events


def _transition_events(
    event: MemberJoined | MemberLeft, before: int, after: int, rules: RoomRules
) -> list[PresenceEvent]:
    events: list[PresenceEvent] = []
    if rules.join_leave and after <= rules.threshold:
        events.append(event)
    if counts_due(join_leave=rules.join_leave, users_before=before, users_after=after, threshold=rules.threshold):
        events.append(CountsDue())
    return events
