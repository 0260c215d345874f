"""Measure the PII hook on a labelled corpus: ``python -m moderation_hooks.pii_eval``.

A corpus line: ``text``, ``pii`` (the exact substrings that must be hidden; empty for a
message whose numbers must stay: helplines, doses, dates, codes, order numbers, timestamps)
and ``kind``. Prints recall over the PII, the messages where something was wrongly hidden
(per kind) and how many helpline numbers were hidden (target 0).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from moderation_hooks.pii import find_pii

CORPUS = Path(__file__).with_name("corpus") / "pii_external.jsonl"


def evaluate(path: Path = CORPUS, default_region: str = "GB") -> dict[str, object]:
    found_total = want_total = 0
    wrong: Counter[str] = Counter()
    misses = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        got = {row["text"][s.start : s.end] for s in find_pii(row["text"], default_region=default_region)}
        want = set(row["pii"])
        want_total += len(want)
        found_total += len(want & got)
        if want - got:
            misses.append(row["text"])
        if got - want:
            wrong[row["kind"]] += 1
    return {
        "recall": found_total / want_total if want_total else 1.0,
        "pii": want_total,
        "wrongly_hidden": dict(wrong),
        "helplines_hidden": wrong.get("helpline", 0),
        "misses": misses,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=CORPUS)
    parser.add_argument("--region", default="GB")
    args = parser.parse_args(argv)
    r = evaluate(args.file, args.region)
    print(f"== {args.file.name}: recall {r['recall']:.1%} of {r['pii']} (target >= 95%); helplines hidden {r['helplines_hidden']} (target 0)")
    print(f"  wrongly hidden, per kind: {r['wrongly_hidden']}")
    for text in r["misses"]:  # type: ignore[attr-defined]
        print(f"  MISS: {text}")


if __name__ == "__main__":
    main()
