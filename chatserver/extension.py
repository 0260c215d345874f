"""What an extension's ``install(ext)`` receives from the composition root (``chatserver.app``):
the registry to plug into and the services it may use, by name and type. No extension gets
the node, and none attaches anything to another object: ``install`` returns its service and
the composition root hands it to whoever needs it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chatserver.channels import ChannelResolver, ChannelSpec
from chatserver.config import Settings
from chatserver.engine import Catalog, Commands, Control, Streams
from chatserver.notify import Notifier
from chatserver.posting import Poster
from chatserver.registry import Registry
from chatserver.stores import Stores
from chatserver.tasks import Tasks

TypingGate = Callable[[Any, ChannelSpec], "str | None"]


class TypingGates:
    """The typing service's gate registry (``TypingService.add_gate``)."""

    def __init__(self, add_gate: Callable[[TypingGate], None]) -> None:
        self.add_gate = add_gate


@dataclass(frozen=True, slots=True)
class ExtensionContext:
    settings: Settings
    registry: Registry
    catalog: Catalog
    resolver: ChannelResolver
    poster: Poster
    notifier: Notifier
    streams: Streams
    commands: Commands
    control: Control
    typing: TypingGates
    local_users: Mapping[str, set[Any]]  # user -> their connections on this process
    node_id: str
    tasks: Tasks
    stores: Stores  # the engine's stores for extensions (no Redis client here)
