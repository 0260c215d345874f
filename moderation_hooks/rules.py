"""Blocklist and regex rules (Discord-style keyword filters), with exempt roles.

Settings: ``rules = [{name, words?, patterns?, action, reason?, exempt_roles?}, ...]``.
- ``words``: whole words or phrases, case-insensitive; ``*`` at either end is a wildcard
  ("idiot*" matches "idiots"). Matching ignores case and runs of spaces.
- ``patterns``: Python regular expressions (case-insensitive), checked as given.
- ``action``: ``reject`` (the sender sees ``reason``), ``hold`` (a moderator decides) or
  ``redact`` (the matches become ``[<name> hidden]``).
- ``exempt_roles``: roles the rule does not apply to (e.g. ``["moderator", "admin"]``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moderation_hooks.settings import SettingsReader
from moderation_hooks.verdict import (
    Allow,
    Hold,
    MessageContext,
    Redact,
    Reject,
    Span,
    Verdict,
    combine,
)

ACTIONS = ("reject", "hold", "redact")
MAX_PATTERN_LENGTH = 500


def _word_pattern(word: str) -> str:
    word = word.strip()
    prefix = word.startswith("*")
    suffix = word.endswith("*")
    core = word.strip("*").strip()
    if not core:
        raise ValueError("rules: a word cannot be only '*'")
    body = r"\s+".join(re.escape(part) for part in core.split())
    left = r"\w*" if prefix else r"(?<!\w)"
    right = r"\w*" if suffix else r"(?!\w)"
    return left + body + right


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    action: str
    reason: str
    exempt_roles: frozenset[str]

    def check(self, ctx: MessageContext) -> Verdict:
        if ctx.role.value in self.exempt_roles:
            return Allow()
        if self.action == "redact":
            spans = tuple(Span(m.start(), m.end(), self.name) for m in self.pattern.finditer(ctx.text) if m.end() > m.start())
            return Redact(spans, self.reason) if spans else Allow()
        if self.pattern.search(ctx.text) is None:
            return Allow()
        if self.action == "reject":
            return Reject(self.reason)
        return Hold(f"rule {self.name!r}: {self.reason}", category="rule")


def parse_rule(raw: Mapping[str, Any], index: int) -> Rule:
    r = SettingsReader(f"rules.rules[{index}]", raw)
    name = r.string("name", f"rule{index + 1}")
    words = r.str_list("words", [])
    patterns = r.str_list("patterns", [])
    action = r.string("action", "reject", ACTIONS)
    reason = r.string("reason", "this message breaks a room rule")
    exempt = frozenset(r.roles("exempt_roles", []))
    r.done()
    if not words and not patterns:
        raise ValueError(f"rules.rules[{index}] ({name}): give words or patterns")
    parts = [_word_pattern(w) for w in words]
    for p in patterns:
        if len(p) > MAX_PATTERN_LENGTH:
            raise ValueError(f"rules.rules[{index}] ({name}): pattern longer than {MAX_PATTERN_LENGTH}")
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"rules.rules[{index}] ({name}): bad pattern {p!r}: {exc}") from None
        parts.append(f"(?:{p})")
    return Rule(name, re.compile("|".join(parts), re.IGNORECASE), action, reason, exempt)


@dataclass(frozen=True, slots=True)
class BlocklistRules:
    rules: tuple[Rule, ...] = ()
    needs: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> BlocklistRules:
        r = SettingsReader("rules", settings)
        rules = tuple(parse_rule(raw, i) for i, raw in enumerate(r.tables("rules")))
        r.done()
        return cls(rules)

    def __call__(self, ctx: MessageContext) -> Verdict:
        return combine([rule.check(ctx) for rule in self.rules])
