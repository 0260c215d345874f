"""Erasure wins the race: the member being erased is blocked on every process before
anything of theirs is removed, and stays blocked until the answer is out.

The block is kept in Redis by pseudonym (``chat:erasing``, never the member's id) and
announced on the control channel; every process keeps a copy (``MemberBlock``), loaded at
start and reread every second, and acknowledges each announcement over its pipelined
connection (so whatever it published before is in Redis ahead of the acknowledgement).
Checked at connect and token refresh (``BlockingVerifier``: close 3520) and on the submit
path (``Poster.add_author_check``: right before an item is placed or held), and by the
reaction and typing gates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chatserver.auth import Identity, TokenVerifier
from chatserver.errors import DisconnectError
from chatserver.protocol import codes


class MemberBlock:
    """This process's copy of the blocks in force: pseudonym -> until (unix ms)."""

    def __init__(self, alias_of: Callable[[str], str] | None = None) -> None:
        """``alias_of``: the pseudonym of a member id (``rooms.retention.pseudonym`` with the
        server's key), the name blocks go by."""
        self.alias_of = alias_of
        self.until: dict[str, int] = {}

    def blocked(self, user: str) -> bool:
        if not self.until or self.alias_of is None:
            return False  # the common case: nobody is being erased
        alias = self.alias_of(user)
        until = self.until.get(alias)
        if until is None:
            return False
        if until < time.time() * 1000:
            self.until.pop(alias, None)
            return False
        return True

    def apply(self, alias: str, until_ms: int) -> None:
        """A block announced (or shortened: the erasure is done)."""
        if until_ms <= time.time() * 1000:
            self.until.pop(alias, None)
        else:
            self.until[alias] = until_ms

    def replace(self, blocks: dict[str, int]) -> None:
        self.until = dict(blocks)


class BlockingVerifier(TokenVerifier):
    """The token verifier, refusing a member being erased (close 3520) at connect and at
    token refresh."""

    def __init__(self, block: MemberBlock, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.block = block

    def connection(self, token: Any) -> Identity:
        identity = super().connection(token)
        if self.block.blocked(identity.member.user):
            raise DisconnectError(codes.ERASED)
        return identity
