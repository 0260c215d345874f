"""Run hooks in order with time limits, and combine their verdicts."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from moderation_hooks.verdict import (
    VERDICT_TYPES,
    Allow,
    Hold,
    MessageContext,
    Priority,
    Reject,
    Support,
    Verdict,
    combine,
)

log = logging.getLogger("moderation_hooks.pipeline")

Hook = Callable[[MessageContext], Verdict | Awaitable[Verdict]]


@dataclass(frozen=True, slots=True)
class HookSpec:
    name: str
    hook: Hook
    timeout: float = 1.0  # seconds
    on_failure: str = "hold"  # "hold" (default, safe), "reject" or "allow"
    in_thread: bool = False  # run a blocking (sync) hook in a worker thread, under the timeout

    @property
    def needs(self) -> frozenset[str]:
        """Facts the hook wants in ``ctx.extra`` (e.g. ``recent_posts``), by its ``needs``."""
        return frozenset(getattr(self.hook, "needs", ()) or ())

    @property
    def safety(self) -> bool:
        """A safety hook (crisis language) also sees posts that gates refuse."""
        return bool(getattr(self.hook, "safety", False))


class HookThreads:
    """A bounded pool for blocking hooks (``in_thread``). A thread cannot be stopped: a hook
    that times out keeps its worker until it returns. Those are counted (``stuck``, logged);
    when every worker is stuck, thread hooks fail at once (their ``on_failure`` applies)
    instead of queueing behind them without a bound."""

    def __init__(self, workers: int = 4) -> None:
        self.workers = workers
        self.stuck = 0  # calls that timed out and are still running
        self._pool: ThreadPoolExecutor | None = None

    async def run(self, hook: Hook, ctx: MessageContext, timeout: float) -> Any:
        if self.stuck >= self.workers:
            raise RuntimeError(f"all {self.workers} hook threads are stuck in timed-out hooks")
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="moderation-hook")
        fut = asyncio.get_running_loop().run_in_executor(self._pool, hook, ctx)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            self.stuck += 1
            log.warning("a hook thread is still running after its timeout (%d stuck)", self.stuck)
            fut.add_done_callback(self._finished)
            raise

    def _finished(self, fut: asyncio.Future[Any]) -> None:
        self.stuck -= 1
        if not fut.cancelled() and fut.exception() is not None:
            log.info("a timed-out hook thread ended with %r", fut.exception())
        else:
            log.info("a timed-out hook thread ended (%d still stuck)", self.stuck)


THREADS = HookThreads()  # shared by every pipeline of the process


@dataclass(frozen=True, slots=True)
class Review:
    verdict: Verdict
    verdicts: tuple[tuple[str, Verdict], ...] = ()
    failures: tuple[str, ...] = ()  # hooks that raised or timed out
    hook_seconds: dict[str, float] = field(default_factory=dict)

    def support(self) -> Hold | Support | None:
        """The verdict that reaches out to the sender (a crisis ``Hold`` or a ``Support``
        with resources), even when a stronger verdict of another hook decided: its notice
        and resources go to the sender and an alert to moderators whatever happens to the
        message."""
        for _, verdict in self.verdicts:
            if isinstance(verdict, (Hold, Support)) and verdict.resources:
                return verdict
        return None


_NOT_CALLED: Any = object()


class _Raised:
    """A hook call that raised (handed to ``Pipeline._run``)."""

    __slots__ = ("exc",)

    def __init__(self, exc: Exception) -> None:
        self.exc = exc


class Pipeline:
    """Runs hooks in order. ``failure_counts`` (hook name -> count) may be shared between
    pipelines so that a process can report failures per hook across all rooms."""

    def __init__(
        self, hooks: list[HookSpec] | None = None, failure_counts: dict[str, int] | None = None
    ) -> None:
        self.hooks = list(hooks or [])
        self.failures = 0
        self.failure_counts = failure_counts if failure_counts is not None else {}
        self.needs: frozenset[str] = frozenset().union(*(h.needs for h in self.hooks))

    def safety_pipeline(self) -> Pipeline:
        return Pipeline([h for h in self.hooks if h.safety], self.failure_counts)

    async def review(self, ctx: MessageContext) -> Review:
        results: list[tuple[str, Verdict]] = []
        failures: list[str] = []
        for spec in self.hooks:
            verdict: Any = None
            if not spec.in_thread:
                # The usual case, a plain function returning a verdict, costs no coroutine;
                # anything else (an awaitable, an exception, a wrong type) goes to _run
                # with what the call gave (the hook is never called twice).
                try:
                    verdict = spec.hook(ctx)
                except Exception as exc:
                    verdict = _Raised(exc)
                if not isinstance(verdict, VERDICT_TYPES):
                    verdict = await self._run(spec, ctx, failures, verdict)
            else:
                verdict = await self._run(spec, ctx, failures)
            results.append((spec.name, verdict))
            if isinstance(verdict, Reject):
                break  # nothing can be stronger
        return Review(combine([v for _, v in results]), tuple(results), tuple(failures))

    async def _run(self, spec: HookSpec, ctx: MessageContext, failures: list[str], called: Any = _NOT_CALLED) -> Verdict:
        """The hook's verdict, or its ``on_failure`` verdict. ``called``: what calling the
        hook already gave (a ``_Raised`` for an exception)."""
        try:
            if called is not _NOT_CALLED:
                if isinstance(called, _Raised):
                    raise called.exc
                result = called
            elif spec.in_thread:
                result = await THREADS.run(spec.hook, ctx, spec.timeout)
            else:
                result = spec.hook(ctx)
            if inspect.isawaitable(result):
                result = await asyncio.wait_for(result, spec.timeout)
            if not isinstance(result, VERDICT_TYPES):
                raise TypeError(f"hook returned {type(result).__name__}, not a Verdict")
            return result
        except TimeoutError:
            reason = f"moderation check {spec.name!r} timed out"
        except Exception as exc:  # a hook's failure must never let a message through silently
            reason = f"moderation check {spec.name!r} failed: {type(exc).__name__}"
            log.warning("hook %s raised", spec.name, exc_info=True)
        self.failures += 1
        self.failure_counts[spec.name] = self.failure_counts.get(spec.name, 0) + 1
        failures.append(spec.name)
        log.warning("%s; applying on_failure=%s", reason, spec.on_failure)
        if spec.on_failure == "allow":
            return Allow()
        if spec.on_failure == "reject":
            return Reject("this message could not be checked; please try again")
        return Hold(reason, Priority.NORMAL, category="hook_failure")
