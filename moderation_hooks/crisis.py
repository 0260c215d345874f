"""Crisis language, graded by risk: hold or support, give the sender resources at once,
alert moderators.

The detector (``crisis_detect``, language data in ``crisis_lexicon``) reads how members
actually write risk (word forms, contractions, slang, emphasis, a means word next to a time
word) and what only looks like it (hyperbole, talk about the topic, accidents, medication
talk), and grades a message ``none``, ``moderate`` (ideation, hopelessness, burden) or
``high`` (plan, intent, means with a time, preparatory acts, recent self-harm).

- high risk: ``Hold`` with high priority, the locale's notice and resources;
- moderate risk: by the community's policy ``moderate_risk``: ``"hold"`` (the default, as
  high risk) or ``"post"``: a ``Support`` verdict, so the message is published for peers to
  answer while the sender still gets resources privately and moderators are alerted.

Why hold both by default, and the measured recall and false positives: docs/moderation.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moderation_hooks import crisis_lexicon as lex
from moderation_hooks.crisis_detect import Detector, RiskAssessment, detector_for, phrase_words
from moderation_hooks.settings import SettingsReader
from moderation_hooks.verdict import (
    Allow,
    Hold,
    MessageContext,
    Priority,
    Resource,
    Support,
    Verdict,
)

MODERATE_RISK_ACTIONS = ("hold", "post")

DEFAULT_NOTICE = (
    "Your message is waiting for a moderator. It sounds like you might be going through a "
    "lot right now, and you don't have to face it alone. If you are in danger, please call "
    "your local emergency number now. These people are there to listen, any time:"
)
DEFAULT_SUPPORT_NOTICE = (
    "Your message is posted, so people here can answer you. It sounds like you might be going "
    "through a lot right now, and you don't have to face it alone; a moderator has been told "
    "too. If you are in danger, please call your local emergency number now. These people "
    "are there to listen, any time:"
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


def normalise(text: str) -> str:
    """The text as the detector reads it, sentences joined (" dont want to live ")."""
    return " " + " ".join(" ".join(phrase_words(text)).split()) + " "


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
class LocaleSupport:
    resources: tuple[Resource, ...]
    notice: str  # with a hold
    support_notice: str  # with a posted message (moderate risk, policy "post")


@dataclass(frozen=True, slots=True)
class CrisisLanguage:
    """Settings: ``moderate_risk`` ("hold" or "post"), ``default_locale`` ("en"), and per
    locale under ``locales.<code>``: ``phrases`` (replaces the built-in rules of that locale
    with these phrases), ``extra_phrases`` (adds phrases), both matched as whole words and
    treated as high risk; ``resources`` (a list of ``{name, contact?, url?}``), ``notice``
    (the private note with a hold) and ``support_notice`` (with a posted message). A locale
    without its own resources or notes uses the default locale's."""

    detector: Detector
    locales: Mapping[str, LocaleSupport]
    default_locale: str = "en"
    moderate_risk: str = "hold"
    needs: frozenset[str] = frozenset()
    safety: bool = True  # also consulted for posts that gates refuse (mutes, slow mode)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> CrisisLanguage:
        r = SettingsReader("crisis", settings)
        default_locale = r.string("default_locale", "en")
        moderate_risk = r.string("moderate_risk", "hold", MODERATE_RISK_ACTIONS)
        configured = r.table("locales")
        r.done()
        codes = sorted(set(lex.RULES) | set(configured) | {default_locale})
        builtin: list[str] = []
        phrases: list[str] = []
        raw: dict[str, tuple[tuple[Resource, ...] | None, str, str]] = {}
        for code in codes:
            loc = SettingsReader(f"crisis.locales.{code}", configured.get(code, {}))
            if loc.has("phrases"):
                phrases += loc.str_list("phrases", [])
            elif code in lex.RULES:
                builtin.append(code)
            phrases += loc.str_list("extra_phrases", [])
            resources = (
                _resources(loc.tables("resources"), f"crisis.locales.{code}.resources")
                if loc.has("resources")
                else DEFAULT_RESOURCES.get(code)
            )
            raw[code] = (resources, loc.string("notice", ""), loc.string("support_notice", ""))
            loc.done()
        own_resources, own_notice, own_support = raw[default_locale]
        fallback = LocaleSupport(
            own_resources or DEFAULT_RESOURCES["en"], own_notice or DEFAULT_NOTICE, own_support or DEFAULT_SUPPORT_NOTICE
        )
        locales = {
            code: LocaleSupport(
                resources or fallback.resources, notice or fallback.notice, support or fallback.support_notice
            )
            for code, (resources, notice, support) in raw.items()
        }
        cleaned = tuple(sorted({p for p in phrases if phrase_words(p)}))
        return cls(detector_for(tuple(builtin), cleaned), locales, default_locale, moderate_risk)

    def support_for(self, locale: str) -> LocaleSupport:
        base = locale.split("-")[0].split("_")[0].lower()
        return self.locales.get(base) or self.locales[self.default_locale]

    def assess(self, text: str) -> RiskAssessment:
        return self.detector.assess(text)

    def __call__(self, ctx: MessageContext) -> Verdict:
        # Members write in more than one language: every locale's rules are checked, and the
        # sender gets the resources and note of their own locale.
        risk = self.detector.assess(ctx.text)
        if not risk.flagged:
            return Allow()
        own = self.support_for(ctx.locale)
        reason = f"crisis language, {risk.level} risk ({', '.join(sorted(risk.categories))}): {'; '.join(risk.evidence)}"
        if risk.level == "moderate" and self.moderate_risk == "post":
            return Support(reason, "crisis", own.support_notice, own.resources, Priority.HIGH)
        return Hold(reason, Priority.HIGH, category="crisis", notice=own.notice, resources=own.resources)
