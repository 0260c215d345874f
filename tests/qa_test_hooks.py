"""A test-only extension: two simple moderation hooks for Q&A tests, installed into a spawned
server with ``CHATSERVER_EXTRA_EXTENSIONS=tests.qa_test_hooks`` (see chatserver/app.py).

- ``test-phone`` redacts digit runs that look like phone numbers (label "phone");
- ``test-crisis`` holds text containing "end it all" with high priority (category "crisis").
"""

from __future__ import annotations

import re

from moderation_hooks import Allow, Hold, HookSpec, MessageContext, Priority, Redact, Span, Verdict

PHONE = re.compile(r"\+?\d[\d \-]{7,}\d")


def phone(ctx: MessageContext) -> Verdict:
    spans = tuple(Span(m.start(), m.end(), "phone") for m in PHONE.finditer(ctx.text))
    return Redact(spans, "phone numbers are hidden to protect your privacy") if spans else Allow()


def crisis(ctx: MessageContext) -> Verdict:
    if "end it all" in ctx.text.lower():
        return Hold("crisis language", Priority.HIGH, category="crisis")
    return Allow()


def install(node) -> None:  # type: ignore[no-untyped-def]
    node.poster.pipeline.hooks += [HookSpec("test-phone", phone), HookSpec("test-crisis", crisis)]
