"""Member data as a property of every store: what each store that keeps anything about a
member implements, so an access or erasure request (``chatserver.privacy``) asks every
registered store and builds no key of its own.

``export_member(scope)`` returns the store's part of the access document (section name ->
items); ``forget_member(scope)`` removes the member's data, or moves it to the pseudonym
where it must stay (a ban, an audit entry), and returns counts (name -> items). The stores
run in registration order; ``scope.ids`` carries item ids found by one store (a question's,
a hold's, a message's) to the ones after it (a feed event names the item, a reaction set
belongs to the message). ``tests/test_member_data.py`` fails when a store the composition
root builds does not implement this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from chatserver.engine import HistoryOptions
from rooms.model import Room


@dataclass(slots=True)
class MemberScope:
    """One request about one member: where to look and what earlier stores found."""

    user: str
    alias: str  # the pseudonym (``rooms.retention.pseudonym``)
    rooms: list[Room]  # every room of the catalog, by channel
    communities: list[str]
    history_of: Callable[[str], HistoryOptions | None]
    ids: set[str] = field(default_factory=set)  # item ids of the member's (messages, questions, holds)
    message_ids: set[tuple[str, str]] = field(default_factory=set)  # (channel, id) of their messages
    message_offsets: set[tuple[str, int]] = field(default_factory=set)  # (channel, offset) of them
    notified: set[str] = field(default_factory=set)  # users whose private channel may name them
    touched: set[str] = field(default_factory=set)  # communities where something was removed


@runtime_checkable
class MemberData(Protocol):
    """A store that keeps something about members."""

    async def export_member(self, scope: MemberScope) -> dict[str, list[Any]]:
        """The store's part of the member's access document (section -> items)."""
        ...

    async def forget_member(self, scope: MemberScope) -> dict[str, int]:
        """Remove (or pseudonymize) what the store keeps about the member; counts by name."""
        ...


def merge_counts(total: dict[str, int], part: dict[str, int]) -> None:
    for name, n in part.items():
        total[name] = total.get(name, 0) + n


def names(value: Any, user: str) -> bool:
    """Whether ``user`` appears as a string anywhere in a decoded JSON/msgpack value."""
    if isinstance(value, str):
        return value == user
    if isinstance(value, dict):
        return any(names(v, user) for v in value.values())
    if isinstance(value, list):
        return any(names(v, user) for v in value)
    return False


def rename(value: Any, user: str, alias: str) -> Any:
    """``value`` with every string equal to ``user`` replaced by ``alias`` (and the name
    beside a renamed user)."""
    if isinstance(value, str):
        return alias if value == user else value
    if isinstance(value, dict):
        out = {k: rename(v, user, alias) for k, v in value.items()}
        if out.get("user") == alias and "name" in out:
            out["name"] = alias
        return out
    if isinstance(value, list):
        return [rename(v, user, alias) for v in value]
    return value
