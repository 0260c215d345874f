"""Moderation hooks: the pipeline every message passes before it is stored or broadcast.

Contract: a hook takes a ``MessageContext`` and returns one ``Verdict`` (``Allow``,
``Redact``, ``Look``, ``Support``, ``Hold`` or ``Reject``); hooks may be plain or async.
``Pipeline.review`` runs the hooks in order, each under its time limit, and combines their
verdicts by strength (reject > hold > support > look > redact > allow; redactions compose, also
into a look or support verdict). A hook that raises or times out
*holds* the message unless configured otherwise. Pure domain: no sockets, no Redis, no clock
of its own (``ctx.now`` is passed in); the only side effect is importing third-party hooks
named in the config (``loading``).

Built-in hooks: ``crisis`` (crisis language graded by risk), ``flood`` (rate, duplicates, mentions),
``rules`` (blocklist and regex rules), ``links`` (link policy), ``pii`` (personal data
redaction), ``new_member`` (hold a member's first messages). ``config`` parses the
``[moderation]`` section into per-room hook lists and policy.
"""

from moderation_hooks.config import (
    ModerationConfig,
    ModerationConfigError,
    Policy,
    RoomModeration,
    parse_config,
    parse_layer,
    resolve,
)
from moderation_hooks.pipeline import HookSpec, Pipeline, Review
from moderation_hooks.verdict import (
    Allow,
    Hold,
    Look,
    MessageContext,
    Priority,
    Redact,
    Reject,
    Resource,
    Span,
    Support,
    Verdict,
    apply_redactions,
    combine,
)

__all__ = [
    "Allow",
    "Hold",
    "HookSpec",
    "Look",
    "MessageContext",
    "ModerationConfig",
    "ModerationConfigError",
    "Pipeline",
    "Policy",
    "Priority",
    "Redact",
    "Reject",
    "Resource",
    "Review",
    "RoomModeration",
    "Span",
    "Support",
    "Verdict",
    "apply_redactions",
    "combine",
    "parse_config",
    "parse_layer",
    "resolve",
]
