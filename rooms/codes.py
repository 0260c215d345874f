"""The refusal codes the domain answers with (``Denied.code``, Q&A refusals). They are protocol
error codes too: ``chatserver.protocol.codes`` names every code the server sends and takes
these from here, so each number is written once."""

from __future__ import annotations

UNKNOWN_CHANNEL = 102
PERMISSION_DENIED = 103
BAD_REQUEST = 107
TOO_SOON = 1101  # one question per interval per member: the reason says when the next is allowed
CONFLICT = 1102  # the session or question is not in a state that allows this action
