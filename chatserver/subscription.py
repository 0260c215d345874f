"""A connection's subscription to one channel, and the shared recovery read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatserver.publication import Publication

if TYPE_CHECKING:
    from chatserver.channels import ChannelSpec


class Sub:
    """A connection's subscription to one channel."""

    __slots__ = ("spec", "live", "pending", "offset", "epoch", "chan_info", "server_side", "expires_at")

    def __init__(self, spec: ChannelSpec, server_side: bool = False) -> None:
        self.spec = spec
        self.live = False
        self.pending: list[Publication] = []
        self.offset = 0
        self.epoch = ""
        self.chan_info: bytes = b""
        self.server_side = server_side
        self.expires_at: int | None = None


async def recover_publications(
    broker: Any, channel: str, offset: int, epoch: str, max_count: int
) -> tuple[bool, int, str, list[Publication]]:
    """Recovery read, decoded once: (recovered, top offset, epoch, publications)."""
    recovered, hist = await broker.recover(channel, offset, epoch, max_count)
    pubs = [Publication.unpack(channel, e.offset, hist.epoch, e.payload) for e in hist.entries]
    return recovered, hist.top, hist.epoch, pubs
