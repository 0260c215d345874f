"""Hooks used only by the tests, loaded by dotted path from a test config file.

They show the third-party hook interface as well: a plain function, an async function and a
configurable class.
"""

from __future__ import annotations

import asyncio
import time

from moderation_hooks import Allow, Hold, Look, MessageContext, Reject, Verdict


def raising_hook(ctx: MessageContext) -> Verdict:
    if "explode" in ctx.text:
        raise RuntimeError("this hook is broken on purpose")
    return Allow()


async def sleeping_hook(ctx: MessageContext) -> Verdict:
    if "sleepy" in ctx.text:
        await asyncio.sleep(5)
    return Allow()


def blocking_hook(ctx: MessageContext) -> Verdict:
    """A sync hook that blocks (runs in a worker thread, under its timeout)."""
    if "blocking" in ctx.text:
        time.sleep(3)
    return Allow()


def wrong_type_hook(ctx: MessageContext) -> Verdict:
    if "wrongtype" in ctx.text:
        return "allow"  # type: ignore[return-value]
    return Allow()


class KeywordHold:
    """A configurable class hook: ``KeywordHold(words=[...], reject=False)``."""

    def __init__(self, words: list[str], reject: bool = False) -> None:
        self.words = [w.lower() for w in words]
        self.reject = reject

    async def __call__(self, ctx: MessageContext) -> Verdict:
        lowered = ctx.text.lower()
        for word in self.words:
            if word in lowered:
                return Reject(f"{word!r} is not allowed here") if self.reject else Hold(f"mentions {word!r}")
        return Allow()


def score_text(text: str) -> float:
    """A stand-in model for ``moderation_hooks.process_pool``: it runs in a worker process.
    "slowly" makes it take half a second (a slow model); "nasty" scores high."""
    if "slowly" in text:
        time.sleep(0.5)
    return 0.95 if "nasty" in text else 0.05


def look_hook(ctx: MessageContext) -> Verdict:
    """Stands in for uncertain crisis evidence (the learned layer alone): "may need a look"."""
    if "rough week" in ctx.text.lower():
        return Look("uncertain: learned layer alone (0.55)", evidence=("rough week", "score 0.55"))
    return Allow()

