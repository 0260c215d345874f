"""Rules and the learned layer together: the level, the tier and the subject of a message.

- rules high -> high; rules moderate -> moderate (high if the learned layer is sure it is
  high and strong);
- rules silent: a learned risk score at or above the calibrated ``strong`` threshold is
  moderate, or high when the high head clears its threshold too; between ``look`` and
  ``strong`` (or weak rule evidence alone, like "i have a plan") -> a quiet ``look`` item;
- the subject is ``third_party`` when the message is about someone else at risk (a
  third-person risk phrase, or a person cue with the learned third-party head over its
  threshold) and the member says nothing about their own risk.

The learned layer is loaded lazily once per process; if it cannot load, or a call is slower
than the deadline, the rules decide alone and ``LEARNED_STATS`` counts it.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field

from moderation_hooks import crisis_lexicon as lex
from moderation_hooks.crisis_detect import Detector, normalise

log = logging.getLogger(__name__)


@dataclass
class LearnedStats:
    calls: int = 0
    over_deadline: int = 0  # calls slower than the deadline (the rules' answer stood alone next time)
    unavailable: int = 0  # calls made while the model could not load
    skipped: int = 0  # calls skipped: the previous call ran over the deadline (backing off)
    disabled: bool = False
    backoff: int = 0


LEARNED_STATS = LearnedStats()
DEADLINE_US = 2000.0  # a learned call slower than this (CPU) makes the next few skip it
BACKOFF_CALLS = 50
MIN_WORDS = 4  # shorter messages: the rules alone


@dataclass(frozen=True, slots=True)
class Judgement:
    level: str  # "none", "moderate", "high"
    look: bool = False  # uncertain: a quiet moderator item
    subject: str = "self"
    categories: frozenset[str] = frozenset()
    evidence: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)
    source: str = "rules"  # "rules", "learned", "rules+learned"


_THIRD = re.compile(lex.THIRD_PARTY_RISK)
_PERSON = re.compile(lex.THIRD_PARTY_PERSON)
_FIRST = re.compile(lex.FIRST_PERSON_RISK)
_NEGATIVE = re.compile(lex.LEARNED_NEGATIVE)


def third_party(sentences: list[str]) -> tuple[bool, bool]:
    """(a third-person risk phrase, a person cue) in the normalised sentences."""
    joined = " . ".join(sentences)
    return bool(_THIRD.search(joined)), bool(_PERSON.search(joined))


def _learned_scores(text: str, sentences: list[str]) -> dict[str, float] | None:
    stats = LEARNED_STATS
    if stats.disabled:
        stats.unavailable += 1
        return None
    if stats.backoff:
        stats.backoff -= 1
        stats.skipped += 1
        return None
    try:
        from moderation_hooks import learned

        model = learned.default_model()
        learned.embedder()  # loaded once per process, outside the timed call
        start = time.process_time()
        scores = model.score_text(text, sentences)
        spent = (time.process_time() - start) * 1e6
    except Exception:
        log.exception("the learned crisis layer could not run; the rules decide alone")
        stats.disabled = True
        stats.unavailable += 1
        return None
    stats.calls += 1
    if spent > DEADLINE_US:
        stats.over_deadline += 1
        stats.backoff = BACKOFF_CALLS
    return scores


def judge(detector: Detector, text: str, learned: bool = True, model: object | None = None) -> Judgement:
    """``model``: a ``learned.Model`` to use instead of the shipped one (evaluation)."""
    sentences = normalise(text)
    risk = detector.assess(text, sentences)
    joined = " . ".join(sentences)
    third_phrase = bool(_THIRD.search(joined))
    scores: dict[str, float] | None = None
    # Two or three words carry too little for the learned layer (the rules still read them).
    if learned and sum(len(x.split()) for x in sentences) >= MIN_WORDS:
        if model is not None:
            scores = model.score_text(text, sentences)  # type: ignore[attr-defined]
        else:
            scores = _learned_scores(text, sentences)
    thresholds: dict[str, float] = {}
    if scores is not None:
        from moderation_hooks import learned as lmod

        thresholds = (model or lmod.default_model()).thresholds  # type: ignore[attr-defined]
    level = risk.level
    categories = set(risk.categories)
    evidence = list(risk.evidence)
    source = "rules"
    look = False
    if scores is not None:
        p, ph = scores["risk"], scores["high"]
        strong = p >= thresholds["strong"]
        is_high = ph >= thresholds["high"]
        ev = f"learned risk {p:.2f} (high {ph:.2f})"
        if level == "moderate" and strong and is_high:
            level, source = "high", "rules+learned"
            evidence.append(ev)
        elif level == "none":
            negative = bool(_NEGATIVE.search(joined))
            if strong and not negative:
                level = "high" if is_high else "moderate"
                categories.add("learned")
                evidence.append(ev)
                source = "learned"
            elif p >= thresholds["look"] or (strong and negative):
                look = True
                evidence.append(ev)
                source = "learned"
    if level == "none" and risk.weak:
        look = True
        evidence.extend(risk.weak)
    subject = "self"
    if not (third_phrase or level != "none" or look):
        return Judgement(level, look, subject, frozenset(categories), tuple(evidence), scores or {}, source)
    own = bool(_FIRST.search(joined))
    third_score = scores.get("third_party", 0.0) if scores else 0.0
    person = bool(_PERSON.search(joined))
    tp = third_phrase or (person and scores is not None and third_score >= thresholds.get("third_party", 1.0))
    if tp and not own and not (risk.level == "high" and not third_phrase):
        if level == "none" and (third_phrase or look):
            level, look = "moderate", False
        if level != "none":
            subject = "third_party"
            categories.add("third_party")
    return Judgement(level, look, subject, frozenset(categories), tuple(evidence), scores or {}, source)
