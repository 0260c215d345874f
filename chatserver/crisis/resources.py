"""A community's own support resources per language and region (``[[communities.resources]]``).

    [[communities]]
    name = "ms"
    [[communities.resources]]
    locale = "es-MX"              # a language tag: en-GB, en-US, es-ES, es-MX, es, ...
    name = "Línea de la Vida"
    contact = "800 911 2000"
    url = "https://www.gob.mx/salud/conadic"
    subject = "self"              # or "third_party": for members worried about someone else

A member's resources are those of her locale (the token's ``locale`` claim, else her client's
language): the exact tag first, then the same language (a bare ``es`` entry before the first
``es-*``), then entries without a locale; none configured: the crisis hook's own. Every number
in a ``contact`` goes on the PII hook's allow-list, so a member who writes a helpline number
down for another is not redacted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from chatserver.auth import locale_tag
from chatserver.config import ConfigError
from moderation_hooks import Resource

SUBJECTS = ("self", "third_party")
_KEYS = {"locale", "name", "contact", "url", "subject"}
_NUMBER = re.compile(r"\+?\d[\d \-().]{1,}\d")


@dataclass(frozen=True, slots=True)
class Entry:
    locale: str
    subject: str
    resource: Resource


def language(tag: str) -> str:
    return tag.split("-")[0].lower()


class CommunityResources:
    def __init__(self, by_community: Mapping[str, tuple[Entry, ...]]) -> None:
        self.by_community = dict(by_community)
        self._numbers = {community: self._find_numbers(entries) for community, entries in self.by_community.items()}

    @classmethod
    def from_communities(cls, communities: Iterable[Mapping[str, Any]]) -> CommunityResources:
        out: dict[str, tuple[Entry, ...]] = {}
        for community in communities:
            raw = community.get("resources")
            if raw is None:
                continue
            name = community.get("name", "?")
            where = f"[[communities.resources]] of {name}"
            if not isinstance(raw, list):
                raise ConfigError(f"{where}: must be an array of tables")
            entries = []
            for item in raw:
                if not isinstance(item, dict):
                    raise ConfigError(f"{where}: each entry must be a table")
                unknown = set(item) - _KEYS
                if unknown:
                    raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
                if not all(isinstance(item.get(k, ""), str) for k in _KEYS):
                    raise ConfigError(f"{where}: {', '.join(sorted(_KEYS))} must be strings")
                if not item.get("name"):
                    raise ConfigError(f"{where}: each resource needs a name")
                locale = locale_tag(item["locale"]) if item.get("locale") else ""
                if item.get("locale") and not locale:
                    raise ConfigError(f"{where}: {item['locale']!r} is not a language tag like es-MX")
                subject = item.get("subject", "self")
                if subject not in SUBJECTS:
                    raise ConfigError(f"{where}: subject must be self or third_party")
                resource = Resource(item["name"], item.get("contact", ""), item.get("url", ""), locale=locale)
                entries.append(Entry(locale, subject, resource))
            out[str(name)] = tuple(entries)
        return cls(out)

    def for_locale(self, community: str, locale: str, subject: str = "self") -> tuple[Resource, ...]:
        """The community's resources for ``locale`` (none configured: ``()``)."""
        entries = [e for e in self.by_community.get(community, ()) if e.subject == subject]
        if not entries and subject != "self":
            entries = [e for e in self.by_community.get(community, ()) if e.subject == "self"]
        if not entries:
            return ()
        tag = locale_tag(locale) or ""
        exact = [e for e in entries if tag and e.locale == tag]
        if exact:
            return tuple(e.resource for e in exact)
        lang = language(tag) if tag else ""
        same = [e for e in entries if lang and e.locale and language(e.locale) == lang]
        if same:
            bare = [e for e in same if e.locale == lang]
            first = bare[0].locale if bare else same[0].locale
            return tuple(e.resource for e in same if e.locale == first)
        return tuple(e.resource for e in entries if not e.locale)

    def numbers(self, community: str) -> tuple[str, ...]:
        """Every phone number in the community's resources (for the PII allow-list)."""
        return self._numbers.get(community, ())

    @staticmethod
    def _find_numbers(entries: tuple[Entry, ...]) -> tuple[str, ...]:
        found: list[str] = []
        for entry in entries:
            for match in _NUMBER.finditer(entry.resource.contact):
                if sum(ch.isdigit() for ch in match.group()) >= 3 and match.group() not in found:
                    found.append(match.group().strip())
        return tuple(found)

    def localize(self, community: str, locale: str, verdict: Any) -> Any:
        """``verdict`` (a crisis Hold or Support) with the community's resources for
        ``locale`` when it has any."""
        chosen = self.for_locale(community, locale, getattr(verdict, "subject", "self"))
        return replace(verdict, resources=chosen) if chosen else verdict
