"""The webhook service of one process: turns audit entries into deliveries in the outbox,
consumes the outbox (its share, through the consumer group), POSTs, retries, logs."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from typing import TYPE_CHECKING, Any

import orjson

from chatserver.moderation.audit import iso
from chatserver.webhooks import sender
from chatserver.webhooks.config import AUDIT_EVENTS, Webhook, WebhookError

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext
    from chatserver.stores import WebhookStore

log = logging.getLogger("chatserver.webhooks")

CONTROL_KIND = "webhooks"
CONCURRENCY = 16  # POSTs in flight per process
RECLAIM_IDLE_MS = 90_000  # a delivery held this long by a silent process is taken over
SIGNATURE_HEADER = "X-Chat-Signature"
TIMESTAMP_HEADER = "X-Chat-Timestamp"


class WebhookService:
    def __init__(self, ext: ExtensionContext, store: WebhookStore, configured: list[Webhook]) -> None:
        self.ext = ext
        self.store = store
        self.configured = {h.id: h for h in configured}
        self.hooks: dict[str, Webhook] = dict(self.configured)
        self.consumer = ext.node_id
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._tasks: list[asyncio.Task[None]] = []
        self.enqueued = 0
        self.delivered = 0
        self.failed_attempts = 0
        self.gave_up = 0

    # ---- hooks ---------------------------------------------------------------------------------

    async def reload(self, msg: dict[str, Any] | None = None) -> None:
        hooks = dict(self.configured)
        for hook_id, raw in (await self.store.hooks()).items():
            try:
                hooks[hook_id] = Webhook.parse(orjson.loads(raw), source="api")
            except (WebhookError, orjson.JSONDecodeError) as exc:
                log.error("skipping unreadable webhook %s: %s", hook_id, exc)
        self.hooks = hooks

    async def add(self, raw: Any) -> Webhook:
        if isinstance(raw, dict) and raw.get("id") in self.configured:
            raise WebhookError(f"webhook {raw['id']} comes from the config file and cannot be changed here")
        hook = Webhook.parse(raw, source="api", default_id="wh-" + secrets.token_hex(5), generate_secret=True)
        await self.store.put_hook(hook.id, orjson.dumps(hook.to_record()))
        await self._changed()
        return hook

    async def remove(self, hook_id: str) -> bool:
        if hook_id in self.configured:
            raise WebhookError(f"webhook {hook_id} comes from the config file; remove it there")
        removed = await self.store.delete_hook(hook_id)
        await self._changed()
        return removed

    async def _changed(self) -> None:
        await self.reload()
        await self.ext.control.send(CONTROL_KIND)

    # ---- events in -----------------------------------------------------------------------------

    def on_audit(self, community: str, entry: dict[str, Any]) -> None:
        """Audit listener: an entry whose action maps to an event becomes deliveries (queued
        in the background: the caller, maybe the post path, never waits)."""
        event_type = AUDIT_EVENTS.get(entry.get("action", ""))
        if event_type is None:
            return
        wanted = [h for h in self.hooks.values() if h.wants(event_type, community)]
        if not wanted:
            return
        data = {k: v for k, v in entry.items() if k not in ("action", "ts")}
        self.ext.tasks.spawn(self.emit(event_type, community, data, wanted), f"webhook {event_type}")

    async def emit(self, event_type: str, community: str, data: dict[str, Any], hooks: list[Webhook] | None = None) -> str:
        now_ms = int(time.time() * 1000)
        event_id = "ev-" + secrets.token_hex(8)
        body = orjson.dumps(
            {"id": event_id, "type": event_type, "community": community, "ts": now_ms, "time": iso(now_ms / 1000), "data": data}
        )
        targets = hooks if hooks is not None else [h for h in self.hooks.values() if h.wants(event_type, community)]
        deliveries = [
            {"id": "dl-" + secrets.token_hex(8), "hook": h.id, "event": event_id, "type": event_type,
             "body": body, "attempt": 0, "created": now_ms, "config": h.to_record() if h.source == "config" else None}
            for h in targets
        ]
        if deliveries:
            await self.store.enqueue(deliveries)
            self.enqueued += len(deliveries)
        return event_id

    # ---- delivery ------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.store.ensure_group()
        await self.reload()
        self._tasks = [
            self.ext.tasks.spawn(self._consume(), "webhook outbox"),
            self.ext.tasks.spawn(self._retry_loop(), "webhook retries"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def _consume(self) -> None:
        while True:
            try:
                # Take new work only with a free slot: the backlog waits in Redis, where any
                # other process may take it, not in this process's memory.
                await self._slots.acquire()
                self._slots.release()
                await self._start(await self.store.read(self.consumer, 8, 1000), "webhook delivery")
            except asyncio.CancelledError:
                raise
            except Exception:
                self.ext.tasks.log_failure(log, "webhook outbox read failed")
                await asyncio.sleep(1)

    async def _retry_loop(self) -> None:
        last_reclaim = time.monotonic()
        while True:
            await asyncio.sleep(0.1)
            try:
                await self.store.requeue_due(int(time.time() * 1000))
                if time.monotonic() - last_reclaim > 10:
                    last_reclaim = time.monotonic()
                    await self.reload()  # API changes also arrive as a control message
                    await self._start(await self.store.reclaim(self.consumer, RECLAIM_IDLE_MS, 16), "webhook delivery (claimed)")
            except asyncio.CancelledError:
                raise
            except Exception:
                self.ext.tasks.log_failure(log, "webhook retry sweep failed")
                await asyncio.sleep(1)

    async def _start(self, batch: list[tuple[str, dict[str, Any]]], name: str) -> None:
        """Each delivery in its own task, at most CONCURRENCY in flight."""
        for entry_id, delivery in batch:
            await self._slots.acquire()
            self.ext.tasks.spawn(self._deliver(entry_id, delivery), name)

    async def _deliver(self, entry_id: str, delivery: dict[str, Any]) -> None:
        try:
            await self._attempt(entry_id, delivery)
        finally:
            self._slots.release()

    def _hook_of(self, delivery: dict[str, Any]) -> Webhook | None:
        """The hook as this process knows it; a hook from another process's config file
        travels with its deliveries, so whichever process takes one can send it."""
        hook = self.hooks.get(delivery["hook"])
        if hook is None and delivery.get("config"):
            try:
                hook = Webhook.parse(delivery["config"], source="config")
            except WebhookError:
                return None
        return hook

    async def _attempt(self, entry_id: str, delivery: dict[str, Any]) -> None:
        hook = self._hook_of(delivery)
        if hook is None:  # added through the API a moment ago on another process?
            await self.reload()
            hook = self._hook_of(delivery)
        attempt = int(delivery.get("attempt", 0)) + 1
        record: dict[str, Any] = {
            "delivery": delivery["id"], "event": delivery["event"], "type": delivery["type"],
            "attempt": attempt, "at": int(time.time() * 1000),
        }
        if hook is None:
            await self.store.settle(entry_id, None, 0, delivery["hook"], {**record, "outcome": "dropped", "error": "webhook removed"})
            return
        body: bytes = delivery["body"]
        timestamp = int(time.time())
        headers = {
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sender.signature(hook.secret, timestamp, body),
            "X-Chat-Event": delivery["type"],
            "X-Chat-Delivery": delivery["id"],
        }
        started = time.monotonic()
        status = 0
        error = ""
        try:
            status = await sender.post(hook.url, body, headers, hook.timeout)
        except TimeoutError:
            error = f"no answer within {hook.timeout:g} s"
        except (OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        record.update({"status": status, "ms": round((time.monotonic() - started) * 1000, 1)})
        if error:
            record["error"] = error
        if 200 <= status < 300:
            self.delivered += 1
            await self.store.settle(entry_id, None, 0, hook.id, {**record, "outcome": "delivered"})
            return
        self.failed_attempts += 1
        now_ms = int(time.time() * 1000)
        wait = min(hook.retry_base * 2 ** (attempt - 1), hook.retry_max) * random.uniform(0.8, 1.2)
        if (now_ms + wait * 1000 - int(delivery["created"])) / 1000 > hook.max_age:
            self.gave_up += 1
            log.warning("webhook %s: giving up on %s after %d attempts", hook.id, delivery["id"], attempt)
            await self.store.settle(entry_id, None, 0, hook.id, {**record, "outcome": "gave_up"})
            return
        due = now_ms + int(wait * 1000)
        record.update({"outcome": "retry", "next_at": due})
        await self.store.settle(entry_id, {**delivery, "attempt": attempt}, due, hook.id, record)
