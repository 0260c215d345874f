"""Crisis risk in a message: normalisation, matching and grading. Pure and fast.

``Detector.assess(text)`` returns a ``RiskAssessment``: ``level`` ("none", "moderate" or
"high"), the ``categories`` found and the ``evidence`` (the matched words, for moderators).
The language data is in ``crisis_lexicon``; this module only applies it:

1. normalise (lower case, accents and apostrophes dropped, contractions and slang expanded,
   emphasis squeezed) and split into sentences;
2. per sentence, look each word up in the trigger index and run only the rules it triggers;
3. drop findings their context cancels: hyperbole and topic talk (moderate findings), clear
   accidents and the past (self-harm), benign uses of a means word, a goodbye with a return;
4. grade: a high rule is high; a moderate one becomes high with an intent cue or a time word
   in its sentence; weak signals ("i have a plan", "doing it tonight") count only next to
   another signal, and then as high (intent and plan).

Patterns are compiled once per distinct pattern (module cache), so building a detector per
room configuration is cheap.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache

from moderation_hooks import crisis_lexicon as lex
from moderation_hooks.crisis_lexicon import Rule

# ASCII fast path: letters, digits and "_" stay, apostrophes go, sentence ends become ".",
# everything else a space.
_ENDS = b".!?;\n"
_ASCII_TABLE = bytes(
    c if chr(c).isalnum() or c == 95 else (46 if c in _ENDS else 32) for c in range(128)
) + bytes(range(128, 256))
_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "。": ".", "¿": " ", "¡": " "})
_SENTENCE_END = re.compile(r"[.!?;\n]")
_NON_WORD = re.compile(r"[^\w.]+")
_REPEATS = re.compile(r"([^\W\d_])\1{2,}")


def normalise(text: str) -> list[str]:
    """The message as normalised sentences (each a string of canonical words)."""
    if text.isascii():
        text = text.lower().encode().translate(_ASCII_TABLE, b"'").decode()
    else:
        text = unicodedata.normalize("NFKD", text.translate(_QUOTES))
        text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
        text = _SENTENCE_END.sub(".", text.replace("'", ""))
        text = _NON_WORD.sub(" ", text)
    text = _REPEATS.sub(r"\1", text)
    canon = lex.CANONICAL
    out = []
    for part in text.split("."):
        words = part.split()
        if words:
            out.append(" ".join([canon.get(w, w) for w in words]))
    return out


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    level: str  # "none", "moderate" or "high"
    categories: frozenset[str] = frozenset()
    evidence: tuple[str, ...] = ()
    weak: tuple[str, ...] = ()  # weak signals alone ("i have a plan"): not flagged, a look at most

    @property
    def flagged(self) -> bool:
        return self.level != "none"


NO_RISK = RiskAssessment("none")


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_TIME = _compiled(lex.TIME)
_INTENT = _compiled(lex.INTENT)
_HYPERBOLE = _compiled(lex.HYPERBOLE)
_LAUGHTER = _compiled(lex.LAUGHTER)
_TOPIC = _compiled(lex.TOPIC)
_ACCIDENT = _compiled(lex.ACCIDENT)
_NOT_ACCIDENT = _compiled(lex.NOT_ACCIDENT)
_PAST = _compiled(lex.PAST)
_PRESENT = _compiled(lex.PRESENT)
_BENIGN = _compiled(lex.BENIGN_MEANS)
_RETURN = _compiled(lex.RETURN)
_RELAPSE = _compiled(lex.RELAPSE_CONTEXT)


@dataclass(frozen=True, slots=True)
class _Compiled:
    category: str
    grade: str
    regex: re.Pattern[str]
    flags: str
    relapse: bool


PhraseIndex = Mapping[str, tuple[tuple[str, ...], ...]]  # first word -> phrases as words


def phrase_words(phrase: str) -> tuple[str, ...]:
    """A configured phrase as canonical words, the way messages are normalised."""
    return tuple(" ".join(normalise(phrase)).split())


def build_index(phrases: Iterable[str]) -> PhraseIndex:
    index: dict[str, list[tuple[str, ...]]] = {}
    for phrase in phrases:
        words = phrase_words(phrase)
        if words:
            index.setdefault(words[0], []).append(words)
    return {first: tuple(sorted(set(found), key=len)) for first, found in index.items()}


def find_phrase(words: list[str], index: PhraseIndex) -> str | None:
    """The first phrase of ``index`` that occurs in ``words`` as whole words, or None."""
    for i, word in enumerate(words):
        candidates = index.get(word)
        if candidates is None:
            continue
        for phrase in candidates:
            if tuple(words[i : i + len(phrase)]) == phrase:
                return " ".join(phrase)
    return None


@dataclass(frozen=True, slots=True)
class Detector:
    """Built from the rules of some locales plus community phrases (always high risk)."""

    rules: tuple[_Compiled, ...]
    triggers: Mapping[str, tuple[int, ...]]  # word -> indexes into rules
    phrases: PhraseIndex = field(default_factory=dict)

    @classmethod
    def build(cls, rules: Iterable[Rule], phrases: Iterable[str] = ()) -> Detector:
        compiled: list[_Compiled] = []
        index: dict[str, set[int]] = {}
        for rule in rules:
            i = len(compiled)
            compiled.append(
                _Compiled(rule.category, rule.grade, _compiled(rule.pattern), rule.flags, "relaps" in rule.triggers)
            )
            for word in rule.triggers.split():
                index.setdefault(word, set()).add(i)
        # A slang or contracted token triggers what its canonical words trigger ("kms").
        for token, canonical in lex.CANONICAL.items():
            found = set().union(*(index.get(w, set()) for w in canonical.split()))
            if found:
                index.setdefault(token, set()).update(found)
        return cls(tuple(compiled), {w: tuple(sorted(ids)) for w, ids in index.items()}, build_index(phrases))

    def assess(self, text: str, sentences: list[str] | None = None) -> RiskAssessment:
        """``sentences``: ``normalise(text)`` if the caller has it already."""
        if sentences is None:
            sentences = normalise(text)
        triggers = self.triggers
        found: list[tuple[str, str, str]] = []  # (category, grade, evidence)
        for sentence in sentences:
            words = sentence.split()
            ids: set[int] = set()
            for w in words:
                hit = triggers.get(w)
                if hit is not None:
                    ids.update(hit)
            if self.phrases:
                phrase = find_phrase(words, self.phrases)
                if phrase is not None:
                    found.append(("phrase", "high", phrase))
            for i in sorted(ids):
                finding = self._check(self.rules[i], sentence, text, sentences)
                if finding is not None:
                    found.append(finding)
        if not found:
            return NO_RISK
        return _grade(found)

    def _check(self, rule: _Compiled, sentence: str, text: str, sentences: list[str]) -> tuple[str, str, str] | None:
        m = rule.regex.search(sentence)
        if m is None:
            return None
        flags = rule.flags
        if flags:
            if "t" in flags and not _TIME.search(sentence):
                return None
            if "a" in flags and _ACCIDENT.search(sentence) and not _NOT_ACCIDENT.search(sentence):
                return None
            if "p" in flags and _PAST.search(sentence) and not _PRESENT.search(sentence):
                return None
            if "b" in flags and _BENIGN.search(sentence):
                return None
            if "f" in flags and any(_RETURN.search(s) for s in sentences):
                return None
            if "h" in flags and (_HYPERBOLE.search(sentence) or _TOPIC.search(sentence)):
                return None
            if "h" in flags and rule.category == "wish_dead" and (
                _LAUGHTER.search(sentence) or any(e in text for e in lex.HYPERBOLE_EMOJI)
            ):
                return None
        if rule.relapse and not any(_RELAPSE.search(s) for s in sentences):
            return None
        grade = rule.grade
        if grade == "moderate" and (_INTENT.search(sentence) or _TIME.search(sentence)):
            grade = "high"
        return (rule.category, grade, m.group(0).strip())


def _grade(found: list[tuple[str, str, str]]) -> RiskAssessment:
    grades = {g for _, g, _ in found}
    categories = {c for c, g, _ in found}
    weak = sum(1 for _, g, _ in found if g == "weak")
    if "high" in grades:
        level = "high"
    elif weak and ("moderate" in grades or weak > 1):
        level = "high"  # a plan or a decision next to another signal: intent and plan
    elif "moderate" in grades:
        level = "moderate"
    else:
        # weak signals alone ("i have a plan") are ordinary talk: not flagged (a look at most)
        return RiskAssessment("none", weak=tuple(dict.fromkeys(e for _, g, e in found if g == "weak")))
    evidence = tuple(dict.fromkeys(e for _, _, e in found))
    return RiskAssessment(level, frozenset(categories), evidence)


@lru_cache(maxsize=64)
def detector_for(locales: tuple[str, ...], phrases: tuple[str, ...] = ()) -> Detector:
    """The detector with the built-in rules of ``locales`` and extra ``phrases`` (cached)."""
    rules = [rule for code in locales for rule in lex.RULES.get(code, ())]
    return Detector.build(rules, phrases)


DEFAULT_DETECTOR = detector_for(tuple(lex.RULES))
