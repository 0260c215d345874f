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
EXTERNAL_DIR = CORPUS_DIR / "external"
EXTERNAL = (EXTERNAL_DIR / "members-en.jsonl", EXTERNAL_DIR / "members-es-mixed.jsonl")
# Training-only augmentation written by further, independent writers (helper "corpus"); never
# scored as the cross-writer test file, and never written by reading the external files.
AUGMENT = (CORPUS_DIR / "crisis_augment_en.jsonl", CORPUS_DIR / "crisis_augment_es.jsonl")
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


@dataclass(frozen=True, slots=True)
class TierScores:
    """The whole hook (rules + learned layer) on a file, by what the member and moderators see."""

    total: int
    recall: dict[str, tuple[int, int]]  # "high"/"moderate"/"high:es"... -> (member-facing, total)
    looked: dict[str, tuple[int, int]]  # same keys -> (member-facing or look, total)
    per_category: dict[str, tuple[int, int, int]]  # category -> (member-facing, look, total)
    per_negative_kind: dict[str, tuple[int, int, int]]  # kind -> (member-facing FP, look, total)
    member_fp: tuple[int, int]
    look_on_ordinary: tuple[int, int]
    third_party: tuple[int, int]  # third-party positives answered with subject third_party
    misses: tuple[tuple[Example, str], ...]
    false_positives: tuple[tuple[Example, str], ...]


def tier_score(examples: Iterable[Example], model: object | None = None, detector: Detector = DEFAULT_DETECTOR, learned: bool = True) -> TierScores:
    from moderation_hooks.crisis_judge import judge

    rec: Counter[str] = Counter()
    look_rec: Counter[str] = Counter()
    tot: Counter[str] = Counter()
    cat: dict[str, list[int]] = {}
    neg: dict[str, list[int]] = {}
    fp = looks = negs = 0
    tp_hit = tp_tot = 0
    misses: list[tuple[Example, str]] = []
    fps: list[tuple[Example, str]] = []
    n = 0
    for ex in examples:
        n += 1
        j = judge(detector, ex.text, learned=learned, model=model)
        facing = j.level != "none"
        desc = f"{j.level}{' look' if j.look else ''} {j.subject} {'; '.join(j.evidence)[:80]}"
        if ex.label == "none":
            row = neg.setdefault(ex.category, [0, 0, 0])
            row[0] += facing
            row[1] += j.look
            row[2] += 1
            negs += 1
            fp += facing
            looks += j.look
            if facing:
                fps.append((ex, desc))
            continue
        keys = (ex.label, f"{ex.label}:{ex.locale}")
        for k in keys:
            tot[k] += 1
            rec[k] += facing
            look_rec[k] += facing or j.look
        row = cat.setdefault(ex.category, [0, 0, 0])
        row[0] += facing
        row[1] += j.look
        row[2] += 1
        if ex.category == "third_party":
            tp_tot += 1
            tp_hit += j.subject == "third_party"
        if not facing:
            misses.append((ex, desc))
    return TierScores(
        n,
        {k: (rec[k], tot[k]) for k in sorted(tot)},
        {k: (look_rec[k], tot[k]) for k in sorted(tot)},
        {k: (a, b, c) for k, (a, b, c) in sorted(cat.items())},
        {k: (a, b, c) for k, (a, b, c) in sorted(neg.items())},
        (fp, negs),
        (looks, negs),
        (tp_hit, tp_tot),
        tuple(misses),
        tuple(fps),
    )


def print_tiers(title: str, s: TierScores, show_misses: bool) -> None:
    print(f"== {title}: {s.total} messages (rules + learned layer; member-facing = held or resources shown)")
    for k, (hit, total) in s.recall.items():
        target = "90%" if k.startswith("high") else "80%"
        print(f"  recall {k:<14} {hit:3d}/{total:<3d} {_rate(hit, total):6.1%} (target >= {target}); with looks {_rate(s.looked[k][0], total):6.1%}")
    print(f"  member-facing false positives: {s.member_fp[0]}/{s.member_fp[1]} {_rate(*s.member_fp):6.1%} (target <= 5%)")
    print(f"  look items on ordinary messages: {s.look_on_ordinary[0]}/{s.look_on_ordinary[1]} {_rate(*s.look_on_ordinary):6.1%} (target <= 15%)")
    print(f"  third-party positives answered as third_party: {s.third_party[0]}/{s.third_party[1]}")
    print("  per category (member-facing / look / total):")
    for c, (a, b, t) in s.per_category.items():
        print(f"    {c:<20} {a:3d} {b:3d} /{t:<3d} {_rate(a, t):6.1%}")
    print("  per kind of negative (member-facing FP / look / total):")
    for k, (a, b, t) in s.per_negative_kind.items():
        print(f"    {k:<20} {a:3d} {b:3d} /{t:<3d}")
    if show_misses:
        for ex, got in s.misses:
            print(f"  MISS [{ex.label}/{ex.category}/{ex.locale}] got {got}: {ex.text}")
        for ex, got in s.false_positives:
            print(f"  FALSE POSITIVE [{ex.category}] {got}: {ex.text}")


def cross_writer(show_misses: bool, learned: bool = True, features: str = "both", augment: bool = True) -> list[tuple[str, TierScores]]:
    """Fit on the project tune corpus (+ the augment files) + external file A, score external
    file B untouched; swap. The project's held-out file is never used for fitting. With
    ``augment``, the augment files are also scored on their own by a model fitted on the tune
    corpus + both external files (they never saw the augment writers)."""
    from moderation_hooks import learned as lmod

    tune = load(TUNE)
    aug = [ex for p in AUGMENT if augment and p.exists() for ex in load(p)]
    a, b = (load(p) for p in EXTERNAL)
    out = []
    for (name_fit, fit_ex), (name_test, test_ex) in (
        ((EXTERNAL[0].name, a), (EXTERNAL[1].name, b)),
        ((EXTERNAL[1].name, b), (EXTERNAL[0].name, a)),
    ):
        # Thresholds calibrated leaving one writer out (tune, augment, file A: one group each).
        model = (
            lmod.train(
                tune + aug + fit_ex,
                groups=[0] * len(tune) + [2] * len(aug) + [1] * len(fit_ex),
                use_hash=features != "embeddings",
                use_emb=features != "ngrams",
            )
            if learned
            else None
        )
        s = tier_score(test_ex, model, learned=learned)
        extra = " + augment" if aug and learned else ""
        title = f"cross-writer: fit tune{extra} + {name_fit}, score {name_test}" + (f" (features: {features})" if learned else " (rules alone)")
        print_tiers(title, s, show_misses)
        out.append((title, s))
    if aug and learned:
        model = lmod.train(
            tune + a + b,
            groups=[0] * len(tune) + [1] * len(a) + [2] * len(b),
            use_hash=features != "embeddings",
            use_emb=features != "ngrams",
        )
        for p in AUGMENT:
            title = f"augment writers on their own: fit tune + both external, score {p.name}"
            s = tier_score(load(p), model, learned=True)
            print_tiers(title, s, show_misses)
            out.append((title, s))
    return out


def bench(runs: int = 300, repeats: int = 7) -> dict[str, float]:
    """Median CPU microseconds per message of the whole crisis hook (rules + learned) and of
    the rules alone, over the shipped corpora's texts."""
    texts = [ex.text for p in (TUNE, HELDOUT, *EXTERNAL) for ex in load(p)]
    ctx = MessageContext(text="", user="u", name="U", role=Role.MEMBER, room=Room("c", "r"), now=0.0)
    from dataclasses import replace

    ctxs = [replace(ctx, text=t) for t in texts]
    out = {}
    for label, settings in (("whole hook (rules + learned)", {}), ("rules alone", {"learned": False})):
        hook = CrisisLanguage.from_settings(settings)
        for c in ctxs[:20]:
            hook(c)  # warm up: the lazy model load is not a per-message cost
        per = []
        for c in ctxs:
            samples = []
            for _ in range(repeats):
                start = time.process_time()
                for _ in range(max(1, runs // 100)):
                    hook(c)
                samples.append((time.process_time() - start) / max(1, runs // 100) * 1e6)
            per.append(min(samples))
        out[label] = statistics.median(per)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, action="append", help="a corpus file (default: tuning and held-out sets)")
    parser.add_argument("--misses", action="store_true", help="list misses and false positives")
    parser.add_argument("--runs", type=int, default=2000, help="calls per timing sample")
    parser.add_argument("--cross", action="store_true", help="only the cross-writer protocol (retrains per fold)")
    parser.add_argument("--bench", action="store_true", help="only the CPU bench of the whole hook and the rules alone")
    parser.add_argument("--no-learned", action="store_true", help="rules alone in the cross-writer protocol")
    parser.add_argument("--no-augment", action="store_true", help="fit without the augment files in --cross (the before/after comparison)")
    parser.add_argument("--features", choices=("both", "embeddings", "ngrams"), default="both", help="learned features in --cross (design comparison)")
    args = parser.parse_args(argv)
    if args.bench:
        for label, us in bench().items():
            print(f"median CPU per message, {label}: {us:6.1f} us (budget 100 us)")
        return
    if args.cross:
        cross_writer(args.misses, learned=not args.no_learned, features=args.features, augment=not args.no_augment)
        return
    for path in args.file or [TUNE, HELDOUT, *EXTERNAL, *AUGMENT]:
        report(path, args.misses)
        if args.file is None:
            print_tiers(f"{path.name}, shipped model", tier_score(load(path)), args.misses)
    typical = cpu_per_message(runs=args.runs)
    crisis = cpu_per_message("I've been saving up my pills, I think tonight is the night", runs=args.runs)
    print(f"CPU per message, default crisis hook (median of 15 x {args.runs} calls, process time):")
    print(f"  typical message ({len(TYPICAL)} chars): {typical:6.1f} us   (target < 50 us)")
    print(f"  crisis message:                  {crisis:6.1f} us")


if __name__ == "__main__":
    main()
