"""Moderation hooks: the pipeline every message passes before it is stored or broadcast.

Contract: a hook takes a ``MessageContext`` and returns one ``Verdict`` (``Allow``,
``Redact``, ``Hold`` or ``Reject``); hooks may be plain or async. ``Pipeline.review`` runs
the hooks in order, each under its time limit, and combines their verdicts by strength
(reject > hold > redact > allow; redactions compose). A hook that raises or times out
*holds* the message unless configured otherwise. Pure domain: no I/O, ``now`` is passed in.
"""

from moderation_hooks.pipeline import HookSpec, Pipeline, Review
from moderation_hooks.verdict import (
    Allow,
    Hold,
    MessageContext,
    Priority,
    Redact,
    Reject,
    Span,
    Verdict,
    apply_redactions,
    combine,
)

__all__ = [
    "Allow",
    "Hold",
    "HookSpec",
    "MessageContext",
    "Pipeline",
    "Priority",
    "Redact",
    "Reject",
    "Review",
    "Span",
    "Verdict",
    "apply_redactions",
    "combine",
]
