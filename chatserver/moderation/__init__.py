"""Moderation extension: per-room hook pipelines, the hold queue, live moderator actions,
member reports and the audit log. ``install(ext)`` wires it in and returns the running
``ModerationService`` (the composition root, ``chatserver.app``, hands it to Q&A).

Contract:
- Every member message passes the room's pipeline (``[moderation]`` config, layered per
  community and room, adjustable through the HTTP API) after the gates (ban 1003, mute 1002,
  kick block 103, slow mode 1005). Allow/redact publish; hold stores the message in the
  room's hold queue; reject answers 1001. The sender is always told what happened.
- Held items carry a ``kind``; what publishes an approved item is registered per kind
  (``register_hold_kind(kind, on_approve)``). Other extensions run their items through the
  same path: ``Poster.submit`` with their ``kind`` (the moderation gates apply to kinds
  ``message`` and ``question``).
- Moderator actions (RPC ``mod.*`` and the HTTP API) need the moderator or admin role in the
  community; every action and every non-allow verdict is appended to the community's audit
  log.
"""
