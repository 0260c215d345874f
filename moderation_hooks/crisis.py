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
from moderation_hooks import crisis_resources as res
from moderation_hooks.crisis_detect import Detector, RiskAssessment, detector_for, phrase_words
from moderation_hooks.crisis_judge import Judgement, judge
from moderation_hooks.settings import SettingsReader
from moderation_hooks.verdict import (
    Allow,
    Hold,
    Look,
    MessageContext,
    Priority,
    Resource,
    Support,
    Verdict,
)

MODERATE_RISK_ACTIONS = ("hold", "post")

DEFAULT_NOTICE = res.NOTICE["en"]
DEFAULT_SUPPORT_NOTICE = res.SUPPORT_NOTICE["en"]
DEFAULT_RESOURCES: dict[str, tuple[Resource, ...]] = res.RESOURCES


def normalise(text: str) -> str:
    """The text as the detector reads it, sentences joined (" dont want to live ")."""
    return " " + " ".join(" ".join(phrase_words(text)).split()) + " "


def _resources(items: list[Mapping[str, Any]], where: str, locale: str) -> tuple[Resource, ...]:
    out = []
    for item in items:
        r = SettingsReader(where, item)
        name = r.string("name", "")
        if not name:
            raise ValueError(f"{where}: each resource needs a name")
        out.append(Resource(name, r.string("contact", ""), r.string("url", ""), locale))
        r.done()
    return tuple(out)


@dataclass(frozen=True, slots=True)
class LocaleSupport:
    resources: tuple[Resource, ...]
    notice: str  # with a hold
    support_notice: str  # with a posted message (moderate risk, policy "post")
    third_party_notice: str = res.THIRD_PARTY_NOTICE["en"]  # a member worried about someone else
    third_party_resources: tuple[Resource, ...] = ()


@dataclass(frozen=True, slots=True)
class CrisisLanguage:
    """Settings: ``moderate_risk`` ("hold" or "post"), ``default_locale`` ("en"), ``learned``
    (true: the learned layer runs beside the rules), ``look`` (true: uncertain messages give
    moderators a quiet ``Look`` item), ``learned_deadline_us`` (a learned call slower than this
    is counted in ``LEARNED_STATS``) and per locale under ``locales.<tag>`` (a language "es" or
    a language and region "es-MX"): ``phrases`` (replaces the built-in rules of that language
    with these phrases), ``extra_phrases`` (adds phrases), both matched as whole words and
    treated as high risk; ``resources`` (a list of ``{name, contact?, url?}``), ``notice``
    (the private note with a hold), ``support_notice`` (with a posted message),
    ``third_party_notice`` and ``third_party_resources`` (for a member worried about someone
    else). A member's locale picks the exact tag, then its language, then the default
    locale; built-in resources and notes exist for en, en-GB, en-US, es, es-ES and es-MX."""

    detector: Detector
    locales: Mapping[str, LocaleSupport]
    default_locale: str = "en"
    moderate_risk: str = "hold"
    learned: bool = True
    look: bool = True
    needs: frozenset[str] = frozenset()
    safety: bool = True  # also consulted for posts that gates refuse (mutes, slow mode)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> CrisisLanguage:
        r = SettingsReader("crisis", settings)
        default_locale = res.canonical_tag(r.string("default_locale", "en"))
        moderate_risk = r.string("moderate_risk", "hold", MODERATE_RISK_ACTIONS)
        learned = r.boolean("learned", True)
        look = r.boolean("look", True)
        configured = {res.canonical_tag(k): v for k, v in r.table("locales").items()}
        r.done()
        codes = sorted(set(lex.RULES) | set(res.RESOURCES) | set(configured) | {default_locale})
        builtin: list[str] = []
        phrases: list[str] = []
        raw: dict[str, dict[str, Any]] = {}
        for code in codes:
            where = f"crisis.locales.{code}"
            loc = SettingsReader(where, configured.get(code, {}))
            if loc.has("phrases"):
                phrases += loc.str_list("phrases", [])
            elif code in lex.RULES:
                builtin.append(code)
            phrases += loc.str_list("extra_phrases", [])
            lang = res.language(code)
            raw[code] = {
                "resources": _resources(loc.tables("resources"), f"{where}.resources", code)
                if loc.has("resources")
                else res.RESOURCES.get(code),
                "third_party_resources": _resources(
                    loc.tables("third_party_resources"), f"{where}.third_party_resources", code
                )
                if loc.has("third_party_resources")
                else None,
                "notice": loc.string("notice", "") or res.NOTICE.get(lang, ""),
                "support_notice": loc.string("support_notice", "") or res.SUPPORT_NOTICE.get(lang, ""),
                "third_party_notice": loc.string("third_party_notice", "") or res.THIRD_PARTY_NOTICE.get(lang, ""),
            }
            loc.done()
        # A tag without its own resources takes its language's, then the default locale's.
        def inherit(code: str, key: str) -> Any:
            for candidate in (code, res.language(code), default_locale, res.language(default_locale), "en"):
                value = raw.get(candidate, {}).get(key)
                if value:
                    return value
            return None

        locales = {}
        for code in codes:
            resources = inherit(code, "resources") or res.RESOURCES["en"]
            locales[code] = LocaleSupport(
                resources,
                inherit(code, "notice") or DEFAULT_NOTICE,
                inherit(code, "support_notice") or DEFAULT_SUPPORT_NOTICE,
                inherit(code, "third_party_notice") or res.THIRD_PARTY_NOTICE["en"],
                inherit(code, "third_party_resources") or resources,
            )
        cleaned = tuple(sorted({p for p in phrases if phrase_words(p)}))
        return cls(detector_for(tuple(builtin), cleaned), locales, default_locale, moderate_risk, learned, look)

    def support_for(self, locale: str) -> LocaleSupport:
        tag = res.canonical_tag(locale or self.default_locale)
        return (
            self.locales.get(tag)
            or self.locales.get(res.language(tag))
            or self.locales.get(self.default_locale)
            or self.locales[res.language(self.default_locale)]
        )

    def resource_numbers(self) -> set[str]:
        """Every number in this hook's resources (for the PII allow-list)."""
        from moderation_hooks.pii import resource_numbers

        out: set[str] = set()
        for s in self.locales.values():
            out |= resource_numbers(s.resources) | resource_numbers(s.third_party_resources)
        return out

    def assess(self, text: str) -> RiskAssessment:
        return self.detector.assess(text)

    def judge(self, text: str) -> Judgement:
        """Rules and, if enabled, the learned layer: the risk level, the tier and the subject."""
        return judge(self.detector, text, learned=self.learned)

    def __call__(self, ctx: MessageContext) -> Verdict:
        # Members write in more than one language: every locale's rules are checked, and the
        # sender gets the resources and note of their own locale.
        j = self.judge(ctx.text)
        if j.level == "none":
            if j.look and self.look:
                return Look(f"may need a look: {'; '.join(j.evidence)}", "crisis", j.evidence)
            return Allow()
        own = self.support_for(ctx.locale)
        reason = f"crisis language, {j.level} risk ({', '.join(sorted(j.categories))}): {'; '.join(j.evidence)}"
        if j.subject == "third_party":
            return Support(
                reason,
                "crisis",
                own.third_party_notice,
                own.third_party_resources,
                Priority.HIGH,
                subject="third_party",
            )
        if j.source == "learned" or (j.level == "moderate" and self.moderate_risk == "post"):
            # The learned layer alone never hides a member's words: posted, resources
            # privately, moderators alerted (its cross-writer false positives are ~10 %).
            return Support(reason, "crisis", own.support_notice, own.resources, Priority.HIGH)
        return Hold(reason, Priority.HIGH, category="crisis", notice=own.notice, resources=own.resources)
