"""Train the shipped learned crisis layer: ``python -m moderation_hooks.train``.

Production weights are fitted on ALL our labelled data (the project tune corpus, both
external files and the augment files written by further writers; never the project's held-out file) and written to
``moderation_hooks/models/crisis_learned.npz``. Deterministic: the same data gives the same
file (full-batch training from zeros, fixed folds). ``crisis_eval --cross`` retrains per
fold for the honest cross-writer numbers.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from moderation_hooks import learned
from moderation_hooks.crisis_eval import AUGMENT, EXTERNAL, TUNE, load


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=learned.MODEL_PATH)
    args = parser.parse_args(argv)
    parts = [load(TUNE), *(load(p) for p in EXTERNAL), *(load(p) for p in AUGMENT)]
    examples = [ex for part in parts for ex in part]
    groups = [i for i, part in enumerate(parts) for _ in part]  # one writer per file
    model = learned.train(examples, groups=groups)
    model.save(args.out)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()[:16]
    print(f"trained on {len(examples)} messages; thresholds {model.thresholds}; wrote {args.out} ({args.out.stat().st_size} bytes, sha256 {digest})")


if __name__ == "__main__":
    main()
