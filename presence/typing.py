"""Typing indicators: a member's client says "typing" in a room; others see it until it
expires on its own (``expiry`` seconds without a refresh) or the member stops.

Rate limit: at most one typing event per member per room every ``interval`` seconds. A
refresh inside the interval is dropped (the indicator already shows, and the event that
went out carries its own expiry), so a chatty client costs nothing beyond the check.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TypingPolicy:
    interval: float = 2.0  # min seconds between typing events of one member in one room
    expiry: float = 6.0  # seconds an indicator lasts without a refresh

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.expiry <= 0:
            raise ValueError("typing interval and expiry must be positive")
        if self.expiry < self.interval:
            raise ValueError("typing expiry must be at least the interval (or it flickers)")


@dataclass(frozen=True, slots=True)
class TypingSlot:
    """One member's typing state in one room."""

    last_sent: float | None = None  # when the last typing event went out
    expires_at: float | None = None  # when the indicator lapses without a refresh

    def typing(self, now: float) -> bool:
        return self.expires_at is not None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class TypingDecision:
    send: bool  # publish a typing event now
    retry_in: float  # seconds until the next event would be allowed (0 when sent)
    slot: TypingSlot  # the new state to keep

    @property
    def expires_at(self) -> float | None:
        return self.slot.expires_at


def decide_typing(slot: TypingSlot, now: float, policy: TypingPolicy) -> TypingDecision:
    """A "typing" report arrived at ``now``: send an event, or drop it as too soon."""
    if slot.last_sent is not None and now - slot.last_sent < policy.interval:
        return TypingDecision(False, slot.last_sent + policy.interval - now, slot)
    new = TypingSlot(last_sent=now, expires_at=now + policy.expiry)
    return TypingDecision(True, 0.0, new)


def typing_stopped(slot: TypingSlot, now: float) -> tuple[bool, TypingSlot]:
    """The member stopped typing (sent, or cleared the input): announce it if it showed.
    The rate-limit memory is kept, so stop/start cannot be used to flood the room."""
    showing = slot.typing(now)
    return showing, TypingSlot(last_sent=slot.last_sent, expires_at=None)


def typing_stale(slot: TypingSlot, now: float, policy: TypingPolicy) -> bool:
    """Nothing left to remember: the indicator lapsed and the rate limit no longer applies."""
    last_ok = slot.last_sent is None or now - slot.last_sent >= policy.interval
    return last_ok and not slot.typing(now)
