"""Webhooks: the platform's backend is told of what matters (crisis cases, holds, reports,
sanctions) by signed HTTP POSTs. ``install(ext, moderation)`` returns the
``WebhookService``.

Contract:
- Hooks come from ``[[webhooks]]`` in the config (read-only) and from the HTTP API
  (``/api/webhooks``, kept in Redis): ``url`` (http or https), ``events``, ``secret``.
- Events follow the community's audit log (``AUDIT_EVENTS`` maps audit actions to event
  types). Each (event, hook) is a delivery queued in a Redis stream outbox; every process
  consumes it through one consumer group, so N processes deliver each once normally, and a
  delivery a dead process held is claimed by another (at least once).
- A POST carries JSON and ``X-Chat-Signature: sha256=<hex HMAC-SHA256(secret, "<ts>." + body)>``
  with ``X-Chat-Timestamp: <ts>``; a non-2xx answer or no answer is retried with exponential
  backoff for up to ``max_age`` (a day); every attempt is in the hook's delivery log.
- Nothing waits for a receiver on the post path: enqueueing is a background task, delivery
  runs in bounded concurrency with a timeout per request.
"""
