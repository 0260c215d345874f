"""Crisis language: hold the message, offer the sender support at once, alert moderators.

Matching is by phrase, after normalising the text (lower case, curly quotes straightened,
punctuation to spaces, "dont" == "don't", repeated letters squeezed: "diiiie" -> "die").
A phrase matches on word boundaries only, so "die" does not fire on "diet" or "studied".

The trade-off (see docs/moderation.md): a phrase list cannot read intent. It misses
indirect wording it does not know, and it also fires on hyperbole ("I could kill myself for
forgetting") and on talk *about* the topic ("suicide prevention week"). Here a false
positive costs a delay of one message until a moderator approves it and a kind private note;
a miss can cost far more. So the default list leans towards first-person intent and direct
self-harm words, and each community can replace or extend it per locale.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from moderation_hooks.settings import SettingsReader
from moderation_hooks.verdict import Allow, Hold, MessageContext, Priority, Resource, Verdict

DEFAULT_PHRASES: dict[str, tuple[str, ...]] = {
    "en": (
        "kill myself",
        "killing myself",
        "end my life",
        "ending my life",
        "end it all",
        "take my own life",
        "taking my own life",
        "want to die",
        "wanna die",
        "wish i was dead",
        "wish i were dead",
        "better off dead",
        "better off without me",
        "no reason to live",
        "nothing to live for",
        "dont want to live",
        "dont want to be here anymore",
        "dont want to wake up",
        "cant go on",
        "suicide",
        "suicidal",
        "commit suicide",
        "hurt myself",
        "hurting myself",
        "harm myself",
        "self harm",
        "selfharm",
        "cut myself",
        "cutting myself",
        "overdose",
        "od on my",
        "hang myself",
        "jump off a bridge",
        "goodbye forever",
    ),
    "de": (
        "mich umbringen",
        "mir das leben nehmen",
        "will sterben",
        "will nicht mehr leben",
        "selbstmord",
        "suizid",
        "mich ritzen",
        "selbstverletzung",
    ),
    "es": (
        "quiero morir",
        "matarme",
        "quitarme la vida",
        "suicidarme",
        "suicidio",
        "hacerme daño",
        "no quiero vivir",
    ),
    "fr": (
        "me tuer",
        "veux mourir",
        "en finir",
        "suicide",
        "me suicider",
        "me faire du mal",
        "me scarifier",
    ),
}

DEFAULT_NOTICE = (
    "Your message is waiting for a moderator. It sounds like you might be going through a "
    "lot right now, and you don't have to face it alone. If you are in danger, please call "
    "your local emergency number now. These people are there to listen, any time:"
)

# Real, widely available services; communities should configure their own per locale.
DEFAULT_RESOURCES: dict[str, tuple[Resource, ...]] = {
    "en": (
        Resource("Emergency services", "your local emergency number (999, 911, 112)"),
        Resource("Samaritans (UK and Ireland)", "116 123", "https://www.samaritans.org"),
        Resource("988 Suicide & Crisis Lifeline (US)", "call or text 988", "https://988lifeline.org"),
        Resource("Find a helpline in your country", "", "https://findahelpline.com"),
    ),
}

_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
_NON_WORD = re.compile(r"[^\w']+")
_REPEATS = re.compile(r"(\w)\1{2,}")
_ASCII_REPEATS = re.compile(r"([a-z])\1\1+")
# ASCII fast path: letters, digits and "_" stay, apostrophes go, everything else is a space.
_ASCII_TABLE = bytes(c if chr(c).isalnum() or c == 95 else 32 for c in range(128)) + bytes(range(128, 256))


def normalise(text: str) -> str:
    """Lower case, accents kept, apostrophes dropped ("don't" -> "dont"), punctuation to
    single spaces, three or more repeated letters squeezed to one."""
    if text.isascii():
        text = text.lower().encode().translate(_ASCII_TABLE, b"'").decode()
        text = _ASCII_REPEATS.sub(r"\1", text)
        return " " + " ".join(text.split()) + " "
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    text = text.replace("'", "")
    text = _NON_WORD.sub(" ", text)
    text = _REPEATS.sub(r"\1", text)
    return f" {text.strip()} "


PhraseIndex = Mapping[str, tuple[tuple[str, ...], ...]]  # first word -> phrases as words


def build_index(phrases: tuple[str, ...]) -> PhraseIndex:
    index: dict[str, list[tuple[str, ...]]] = {}
    for phrase in phrases:
        words = tuple(phrase.split())
        if words:
            index.setdefault(words[0], []).append(words)
    return {first: tuple(sorted(found, key=len)) for first, found in index.items()}


def find_phrase(words: list[str], index: PhraseIndex) -> str | None:
    """The first phrase of ``index`` that occurs in ``words`` as whole words, or None.
    One dictionary lookup per word: cheap enough to run on every message."""
    for i, word in enumerate(words):
        candidates = index.get(word)
        if candidates is None:
            continue
        for phrase in candidates:
            if tuple(words[i : i + len(phrase)]) == phrase:
                return " ".join(phrase)
    return None


@dataclass(frozen=True, slots=True)
class LocaleRules:
    phrases: tuple[str, ...]
    resources: tuple[Resource, ...]
    notice: str
    index: PhraseIndex = field(default_factory=dict, compare=False)

    @classmethod
    def build(cls, phrases: tuple[str, ...], resources: tuple[Resource, ...], notice: str) -> LocaleRules:
        cleaned = tuple(sorted({normalise(p).strip() for p in phrases if normalise(p).strip()}))
        return cls(cleaned, resources, notice, build_index(cleaned))

    def match(self, text: str) -> str | None:
        return find_phrase(normalise(text).split(), self.index)


def _resources(items: list[Mapping[str, Any]], where: str) -> tuple[Resource, ...]:
    out = []
    for item in items:
        r = SettingsReader(where, item)
        name = r.string("name", "")
        if not name:
            raise ValueError(f"{where}: each resource needs a name")
        out.append(Resource(name, r.string("contact", ""), r.string("url", "")))
        r.done()
    return tuple(out)


@dataclass(frozen=True, slots=True)
class CrisisLanguage:
    """Settings: ``default_locale`` ("en"), and per locale under ``locales.<code>``:
    ``phrases`` (replaces the built-in list), ``extra_phrases`` (adds to it), ``resources``
    (a list of ``{name, contact?, url?}``) and ``notice`` (the private note's text).
    A locale without its own resources uses the default locale's."""

    locales: Mapping[str, LocaleRules]
    default_locale: str = "en"
    all_phrases: PhraseIndex = field(default_factory=dict)  # every locale's phrases
    needs: frozenset[str] = frozenset()
    safety: bool = True  # also consulted for posts that gates refuse (mutes, slow mode)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> CrisisLanguage:
        r = SettingsReader("crisis", settings)
        default_locale = r.string("default_locale", "en")
        configured = r.table("locales")
        r.done()
        codes = sorted(set(DEFAULT_PHRASES) | set(configured) | {default_locale})
        raw: dict[str, tuple[tuple[str, ...], tuple[Resource, ...] | None, str | None]] = {}
        for code in codes:
            loc = SettingsReader(f"crisis.locales.{code}", configured.get(code, {}))
            phrases = tuple(loc.str_list("phrases", list(DEFAULT_PHRASES.get(code, ()))))
            phrases += tuple(loc.str_list("extra_phrases", []))
            resources = (
                _resources(loc.tables("resources"), f"crisis.locales.{code}.resources")
                if loc.has("resources")
                else DEFAULT_RESOURCES.get(code)
            )
            notice = loc.string("notice", "") or None
            loc.done()
            raw[code] = (phrases, resources, notice)
        fallback_resources = raw[default_locale][1] or DEFAULT_RESOURCES["en"]
        fallback_notice = raw[default_locale][2] or DEFAULT_NOTICE
        locales = {
            code: LocaleRules.build(phrases, resources or fallback_resources, notice or fallback_notice)
            for code, (phrases, resources, notice) in raw.items()
        }
        every = tuple(sorted({p for rules in locales.values() for p in rules.phrases}))
        return cls(locales, default_locale, build_index(every))

    def rules_for(self, locale: str) -> LocaleRules:
        base = locale.split("-")[0].split("_")[0].lower()
        return self.locales.get(base) or self.locales[self.default_locale]

    def __call__(self, ctx: MessageContext) -> Verdict:
        # Members write in more than one language: every locale's phrases are checked, and the
        # sender gets the resources and note of their own locale.
        phrase = find_phrase(normalise(ctx.text).split(), self.all_phrases)
        if phrase is None:
            return Allow()
        own = self.rules_for(ctx.locale)
        return Hold(
            f"crisis language ({phrase!r})",
            Priority.HIGH,
            category="crisis",
            notice=own.notice,
            resources=own.resources,
        )
