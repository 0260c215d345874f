"""The closed verdict type and the context a hook sees."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from rooms.model import Role, Room


class Priority(str, Enum):
    NORMAL = "normal"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class Span:
    """Characters ``text[start:end]`` are replaced by ``[label]``-style marker."""

    start: int
    end: int
    label: str  # e.g. "phone", "email"


@dataclass(frozen=True, slots=True)
class Allow:
    pass


@dataclass(frozen=True, slots=True)
class Redact:
    spans: tuple[Span, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Resource:
    """A support resource offered privately to a sender (a helpline, a web page)."""

    name: str
    contact: str = ""  # e.g. a phone number or "text SHOUT to 85258"
    url: str = ""
    locale: str = ""  # informational: the locale this resource was chosen for ("es-MX")

    def to_dict(self) -> dict[str, str]:
        out = {"name": self.name}
        if self.contact:
            out["contact"] = self.contact
        if self.url:
            out["url"] = self.url
        return out


@dataclass(frozen=True, slots=True)
class Hold:
    """Keep the message back for a human. ``reason`` is for moderators and the audit log;
    ``notice`` (if any) is what the sender is told privately, with ``resources``."""

    reason: str
    priority: Priority = Priority.NORMAL
    category: str = ""  # e.g. "crisis", "new_member", "hook_failure", "link"
    notice: str = ""
    resources: tuple[Resource, ...] = ()
    subject: str = "self"  # "third_party": the message is about someone else at risk


@dataclass(frozen=True, slots=True)
class Support:
    """Publish the message so peers can respond, and reach out: the sender privately gets
    ``notice`` with ``resources``, and moderators are alerted (``reason`` is for them and the
    audit log). ``spans``: redactions to apply to the published text (``combine`` merges any
    ``Redact`` verdicts into them). Stronger than ``Redact``, weaker than ``Hold``."""

    reason: str
    category: str = "crisis"
    notice: str = ""
    resources: tuple[Resource, ...] = ()
    priority: Priority = Priority.HIGH
    spans: tuple[Span, ...] = ()
    subject: str = "self"  # "third_party": the message is about someone else at risk


@dataclass(frozen=True, slots=True)
class Look:
    """May need a look: publish unchanged (redactions still apply), tell the member nothing,
    give moderators a quiet console item with the evidence. Stronger than ``Redact``, weaker
    than ``Support``."""

    reason: str  # for moderators and the audit log
    category: str = "crisis"
    evidence: tuple[str, ...] = ()  # short snippets/features that triggered it
    spans: tuple[Span, ...] = ()  # redactions merged in by combine()


@dataclass(frozen=True, slots=True)
class Reject:
    reason: str  # shown to the sender
    # Seconds until the same message would be accepted (a rate limit): the sender's error is
    # then marked temporary. 0: refused for what it says, sending it again will not help.
    retry_after: float = 0.0


Verdict = Allow | Redact | Look | Support | Hold | Reject
VERDICT_TYPES = (Allow, Redact, Look, Support, Hold, Reject)

_STRENGTH = {Allow: 0, Redact: 1, Look: 2, Support: 3, Hold: 4, Reject: 5}


@dataclass(frozen=True, slots=True)
class MessageContext:
    """What a hook sees. ``kind`` is ``message``, ``question`` or ``edit``."""

    text: str
    user: str
    name: str
    role: Role
    room: Room
    now: float
    kind: str = "message"
    member_since: float | None = None  # first seen in this community (unix seconds)
    messages_in_community: int = 0  # accepted messages before this one
    locale: str = "en"
    extra: dict[str, Any] = field(default_factory=dict)  # facts context builders add

    @property
    def community(self) -> str:
        return self.room.community


def strength(verdict: Verdict) -> int:
    return _STRENGTH[type(verdict)]


def combine(verdicts: list[Verdict]) -> Verdict:
    """The strongest verdict wins (reject > hold > support > look > redact > allow); several
    redactions merge into one, and into a look or support verdict (publish redacted, and
    look or support)."""
    if not verdicts:
        return Allow()
    strongest = max(verdicts, key=strength)
    if isinstance(strongest, (Redact, Look, Support)):
        spans: list[Span] = []
        reasons: list[str] = []
        for v in verdicts:
            if isinstance(v, (Redact, Look, Support)):
                spans.extend(v.spans)
            if isinstance(v, Redact) and v.reason not in reasons:
                reasons.append(v.reason)
        merged = tuple(_merge_spans(spans))
        if isinstance(strongest, Support):
            # Among several, the first that offers resources speaks to the sender.
            supports = [v for v in verdicts if isinstance(v, Support)]
            chosen = next((v for v in supports if v.resources), supports[0])
            return replace(chosen, spans=merged)
        if isinstance(strongest, Look):
            looks = [v for v in verdicts if isinstance(v, Look)]
            return replace(looks[0], spans=merged)
        return Redact(merged, "; ".join(reasons))
    if isinstance(strongest, (Hold, Reject)):
        # Among equals, the first hook's verdict (pipeline order) decides; high priority wins.
        same = [v for v in verdicts if type(v) is type(strongest)]
        if isinstance(strongest, Hold):
            high = [v for v in same if isinstance(v, Hold) and v.priority is Priority.HIGH]
            return high[0] if high else same[0]
        return same[0]
    return strongest


def _merge_spans(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if out and span.start < out[-1].end:
            last = out[-1]
            if span.end > last.end:
                out[-1] = Span(last.start, span.end, last.label)
            continue
        out.append(span)
    return out


def apply_redactions(text: str, spans: tuple[Span, ...]) -> str:
    """Replace each span with ``[<label> hidden]``, right to left so offsets stay valid."""
    result = text
    for span in sorted(spans, key=lambda s: s.start, reverse=True):
        result = result[: span.start] + f"[{span.label} hidden]" + result[span.end :]
    return result
