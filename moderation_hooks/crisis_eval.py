"""Measure the crisis detector on a labelled corpus: ``python -m moderation_hooks.crisis_eval``.

Prints, per corpus file (default: the tuning set and the held-out set shipped in
``moderation_hooks/corpus/``): recall per category and per grade, the false-positive rate on
the negatives (per kind of hard negative too), how often a high-risk message is graded high,
and the hook's CPU per message (median microseconds over many runs). ``--misses`` lists what
was missed and what was wrongly flagged.

A corpus file has one JSON object per line: ``text``, ``label`` ("none", "moderate" or
"high"), ``category`` (for positives, the C-SSRS / self-harm category; for negatives the kind:
hyperbole, topic, accident, medication, ...), ``locale`` and ``note``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from moderation_hooks.crisis import CrisisLanguage
from moderation_hooks.crisis_detect import DEFAULT_DETECTOR, Detector, RiskAssessment
from moderation_hooks.verdict import MessageContext
from rooms.model import Role, Room

CORPUS_DIR = Path(__file__).with_name("corpus")
TUNE = CORPUS_DIR / "crisis_tune.jsonl"
HELDOUT = CORPUS_DIR / "crisis_heldout.jsonl"
TYPICAL = "Hi everyone, how was your day? Mine was tiring, fatigue is bad again today."


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str
    category: str
    locale: str = "en"
    note: str = ""


def load(path: Path) -> list[Example]:
    out = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            raw = json.loads(line)
            if raw.get("label") not in ("none", "moderate", "high"):
                raise ValueError(f"{path}:{n}: label must be none, moderate or high")
            out.append(Example(raw["text"], raw["label"], raw.get("category", ""), raw.get("locale", "en"), raw.get("note", "")))
    return out


@dataclass(frozen=True, slots=True)
class Scores:
    total: int
    recall_high: float  # high-risk messages flagged at all
    graded_high: float  # high-risk messages graded high (held under either policy)
    recall_moderate: float  # moderate-risk messages flagged
    false_positive_rate: float
    per_category: dict[str, tuple[int, int]]  # category -> (caught, total) over positives
    per_negative_kind: dict[str, tuple[int, int]]  # kind -> (flagged, total) over negatives
    misses: tuple[tuple[Example, RiskAssessment], ...]
    false_positives: tuple[tuple[Example, RiskAssessment], ...]


def _rate(hits: int, total: int) -> float:
    return hits / total if total else 1.0


def score(examples: Iterable[Example], detector: Detector = DEFAULT_DETECTOR) -> Scores:
    caught: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    neg_flagged: Counter[str] = Counter()
    neg_totals: Counter[str] = Counter()
    grade = Counter[str]()
    misses = []
    fps = []
    n = 0
    for ex in examples:
        n += 1
        got = detector.assess(ex.text)
        if ex.label == "none":
            neg_totals[ex.category] += 1
            if got.flagged:
                neg_flagged[ex.category] += 1
                fps.append((ex, got))
            continue
        totals[ex.category] += 1
        totals["grade:" + ex.label] += 1
        if got.flagged:
            caught[ex.category] += 1
            caught["grade:" + ex.label] += 1
            if ex.label == "high" and got.level == "high":
                grade["high"] += 1
        if not got.flagged or (ex.label == "high" and got.level != "high"):
            misses.append((ex, got))
    per_category = {c: (caught[c], totals[c]) for c in sorted(totals) if not c.startswith("grade:")}
    per_kind = {k: (neg_flagged[k], neg_totals[k]) for k in sorted(neg_totals)}
    return Scores(
        n,
        _rate(caught["grade:high"], totals["grade:high"]),
        _rate(grade["high"], totals["grade:high"]),
        _rate(caught["grade:moderate"], totals["grade:moderate"]),
        1 - _rate(sum(neg_totals.values()) - sum(neg_flagged.values()), sum(neg_totals.values())),
        per_category,
        per_kind,
        tuple(misses),
        tuple(fps),
    )


def cpu_per_message(text: str = TYPICAL, runs: int = 2000, repeats: int = 15) -> float:
    """Median microseconds per call of the default crisis hook on ``text``."""
    hook = CrisisLanguage.from_settings({})
    ctx = MessageContext(text=text, user="u", name="U", role=Role.MEMBER, room=Room("c", "r"), now=0.0)
    samples = []
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(runs):
            hook(ctx)
        samples.append((time.process_time() - start) / runs * 1e6)
    return statistics.median(samples)


def report(path: Path, show_misses: bool) -> Scores:
    s = score(load(path))
    print(f"== {path.name}: {s.total} messages")
    print(f"  recall, high risk flagged:      {s.recall_high:6.1%}   (target >= 90%)")
    print(f"  high risk graded high:          {s.graded_high:6.1%}")
    print(f"  recall, moderate risk flagged:  {s.recall_moderate:6.1%}   (target >= 80%)")
    print(f"  false positives on negatives:   {s.false_positive_rate:6.1%}   (target <= 5%)")
    print("  recall per category:")
    for c, (hit, total) in s.per_category.items():
        print(f"    {c:<18} {hit:3d}/{total:<3d} {_rate(hit, total):6.1%}")
    print("  flagged per kind of negative:")
    for k, (hit, total) in s.per_negative_kind.items():
        print(f"    {k:<18} {hit:3d}/{total:<3d}")
    if show_misses:
        for ex, got in s.misses:
            print(f"  MISS [{ex.label}/{ex.category}] got {got.level}: {ex.text}")
        for ex, got in s.false_positives:
            print(f"  FALSE POSITIVE [{ex.category}] {got.level} {sorted(got.categories)} {got.evidence}: {ex.text}")
    return s


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, action="append", help="a corpus file (default: tuning and held-out sets)")
    parser.add_argument("--misses", action="store_true", help="list misses and false positives")
    parser.add_argument("--runs", type=int, default=2000, help="calls per timing sample")
    args = parser.parse_args(argv)
    for path in args.file or [TUNE, HELDOUT]:
        report(path, args.misses)
    typical = cpu_per_message(runs=args.runs)
    crisis = cpu_per_message("I've been saving up my pills, I think tonight is the night", runs=args.runs)
    print(f"CPU per message, default crisis hook (median of 15 x {args.runs} calls, process time):")
    print(f"  typical message ({len(TYPICAL)} chars): {typical:6.1f} us   (target < 50 us)")
    print(f"  crisis message:                  {crisis:6.1f} us")


if __name__ == "__main__":
    main()
