"""Link policy: allow links, hold messages with links for review, or strip them.

Settings: ``mode`` (``allow`` | ``hold`` | ``strip``, default ``allow``), ``allowed_domains``
(links to these domains and their subdomains always pass, e.g. ``["nhs.uk"]``),
``exempt_roles`` (default ``["moderator", "admin"]``).

A link is ``http(s)://...``, ``www.<domain>`` or a bare ``<name>.<tld>`` for common TLDs
(so "e.g." and "3.5" are not links, but "example.com/page" is). E-mail addresses are left to
the PII hook.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moderation_hooks.settings import SettingsReader
from moderation_hooks.verdict import Allow, Hold, MessageContext, Redact, Span, Verdict

MODES = ("allow", "hold", "strip")
_TLDS = (
    "com|org|net|info|io|co|me|app|dev|ly|gl|gg|tv|xyz|site|online|link|page|health|"
    "uk|us|ca|au|nz|ie|de|fr|es|it|nl|be|ch|at|se|no|dk|fi|pl|pt|in|jp|br|ru|cn|eu"
)
_URL = re.compile(
    r"(?i)(?<![\w@.-])(?:"
    r"https?://[^\s<>\"']+"
    r"|www\.[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:/[^\s<>\"']*)?"
    rf"|[a-z0-9](?:[a-z0-9-]{{0,62}}[a-z0-9])?(?:\.[a-z0-9-]+)*\.(?:{_TLDS})(?![\w@])(?:/[^\s<>\"']*)?"
    r")"
)
_HOST = re.compile(r"(?i)^(?:https?://)?([^/:?#\s]+)")


def find_links(text: str) -> list[tuple[int, int, str]]:
    """(start, end, host) of each link; trailing sentence punctuation is not part of it."""
    out = []
    for m in _URL.finditer(text):
        start, end = m.start(), m.end()
        while end > start and text[end - 1] in ".,;:!?)]}'\"":
            end -= 1
        host_match = _HOST.match(text[start:end])
        host = host_match.group(1).lower() if host_match else ""
        out.append((start, end, host))
    return out


def domain_allowed(host: str, allowed: frozenset[str]) -> bool:
    host = host.removeprefix("www.")
    return any(host == d or host.endswith("." + d) for d in allowed)


@dataclass(frozen=True, slots=True)
class LinkPolicy:
    mode: str = "allow"
    allowed_domains: frozenset[str] = frozenset()
    exempt_roles: frozenset[str] = frozenset({"moderator", "admin"})
    needs: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> LinkPolicy:
        r = SettingsReader("links", settings)
        mode = r.string("mode", "allow", MODES)
        domains = frozenset(d.lower().strip().removeprefix("www.") for d in r.str_list("allowed_domains", []))
        exempt = frozenset(r.roles("exempt_roles", ["moderator", "admin"]))
        r.done()
        return cls(mode, domains, exempt)

    def __call__(self, ctx: MessageContext) -> Verdict:
        if self.mode == "allow" or ctx.role.value in self.exempt_roles:
            return Allow()
        links = [(s, e, h) for s, e, h in find_links(ctx.text) if not domain_allowed(h, self.allowed_domains)]
        if not links:
            return Allow()
        if self.mode == "hold":
            hosts = ", ".join(sorted({h for _, _, h in links}))
            return Hold(f"link to {hosts}", category="link")
        return Redact(tuple(Span(s, e, "link") for s, e, _ in links), "links are not allowed in this room")
