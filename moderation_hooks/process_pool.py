"""A hook that runs a platform's own classifier in a process pool, so a slow model never
blocks the event loop (nor holds the GIL the server's threads share).

Configure it by dotted path; ``classify`` names a picklable, importable function
``classify(text: str) -> float`` (a score from 0 to 1; load the model lazily inside the
worker, e.g. in a module-level cache):

```toml
[moderation.hooks.selfharm_model]
use = "moderation_hooks.process_pool:ProcessPoolClassifier"
classify = "acme_models.selfharm:score"   # runs in the worker processes
workers = 2
hold_above = 0.7       # score >= this: hold (high priority if priority = "high")
reject_above = 1.1     # score >= this: reject (above 1: never)
category = "selfharm_model"
priority = "high"
timeout = 3.0          # the pipeline's time limit; past it the message is held

[moderation]
pipeline = ["crisis", "selfharm_model", "flood", "rules", "links", "pii", "new_member"]
```

Pools are shared per (function, workers) within a process, so the per-room pipelines built
from one definition use one pool. Workers are started with the ``spawn`` method (a fork of a
process running an event loop and threads is not safe) when the hook is built, so the first
message does not pay for starting them. A call that runs past the pipeline's timeout is not
cancelled: the message is held (``on_failure``) and the worker finishes on its own.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from moderation_hooks.loading import find_object
from moderation_hooks.settings import SettingsReader
from moderation_hooks.verdict import Allow, Hold, MessageContext, Priority, Reject, Verdict

Classify = Callable[[str], float]

_POOLS: dict[tuple[str, int], ProcessPoolExecutor] = {}
_LOCK = threading.Lock()


def shared_pool(key: str, workers: int) -> ProcessPoolExecutor:
    """The process's pool for ``key`` (a classifier's dotted path) with ``workers`` workers."""
    with _LOCK:
        pool = _POOLS.get((key, workers))
        if pool is None:
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
            _POOLS[(key, workers)] = pool
        return pool


def shutdown_pools() -> None:
    """Stop every shared pool (tests, or a host that reloads its configuration)."""
    with _LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)


def _noop(text: str) -> float:
    return 0.0


def _resolve(path: str) -> Classify:
    fn = find_object(path)  # the loader's resolution: "module:attr" or "module.attr"
    if not callable(fn):
        raise ValueError(f"classify: {path!r} is not callable")
    return fn  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class ProcessPoolClassifier:
    """Maps ``classify(ctx.text)``, run in a worker process, to a verdict."""

    classify: Classify
    pool: ProcessPoolExecutor
    hold_above: float = 0.5
    reject_above: float = 1.1
    category: str = "classifier"
    priority: Priority = Priority.NORMAL
    reject_reason: str = "this message was not posted"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ProcessPoolClassifier:
        r = SettingsReader("process_pool", settings)
        path = r.string("classify", "")
        if not path:
            raise ValueError("process_pool.classify: name the function, e.g. \"package.module:score\"")
        workers = r.integer("workers", 1, low=1, high=64)
        hold_above = r.number("hold_above", 0.5, low=0.0, high=1.0)
        reject_above = r.number("reject_above", 1.1, low=0.0, high=2.0)
        category = r.string("category", "classifier")
        priority = Priority(r.string("priority", "normal", ("normal", "high")))
        reject_reason = r.string("reject_reason", "this message was not posted")
        r.done()
        classify = _resolve(path)
        pool = shared_pool(path, workers)
        pool.submit(_noop, "")  # start the workers now, not on the first message
        return cls(classify, pool, hold_above, reject_above, category, priority, reject_reason)

    def verdict_for(self, score: float) -> Verdict:
        if score >= self.reject_above:
            return Reject(self.reject_reason)
        if score >= self.hold_above:
            return Hold(f"{self.category} score {score:.2f}", self.priority, category=self.category)
        return Allow()

    async def __call__(self, ctx: MessageContext) -> Verdict:
        loop = asyncio.get_running_loop()
        score = await loop.run_in_executor(self.pool, self.classify, ctx.text)
        return self.verdict_for(float(score))
