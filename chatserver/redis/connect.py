"""Opening a raw RESP connection (the pipelined command connection and the pub/sub
connection share this): the socket (TCP, TLS or Unix) and the handshake commands."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import TypeVar

from chatserver.redis.urls import RedisAddress

P = TypeVar("P", bound=asyncio.Protocol)

# A fixed address, or a lookup run before each (re)connect (Sentinel: the current master).
AddressSource = RedisAddress | Callable[[], Awaitable[RedisAddress]]


async def resolve(source: AddressSource) -> RedisAddress:
    return source if isinstance(source, RedisAddress) else await source()


async def open_connection(address: RedisAddress, factory: Callable[[], P]) -> P:
    """Connect to ``address`` and return the protocol ``factory`` made (no timeout here)."""
    loop = asyncio.get_running_loop()
    if address.path:
        _, proto = await loop.create_unix_connection(factory, address.path)
    else:
        ctx = ssl.create_default_context() if address.tls else None
        _, proto = await loop.create_connection(factory, address.host, address.port, ssl=ctx)
    return proto


def handshake(address: RedisAddress, name: str) -> list[tuple[str | int, ...]]:
    """The commands a new connection sends first: AUTH, SELECT (when a db is given) and
    CLIENT SETNAME ``name``."""
    commands: list[tuple[str | int, ...]] = []
    if address.password:
        if address.username:
            commands.append(("AUTH", address.username, address.password))
        else:
            commands.append(("AUTH", address.password))
    if address.db:
        commands.append(("SELECT", address.db))
    commands.append(("CLIENT", "SETNAME", name))
    return commands
