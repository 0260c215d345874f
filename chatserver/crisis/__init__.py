"""Crisis response that reaches a person: crisis cases, escalation and private support
conversations. ``install(ext, moderation)`` wires it in and returns the ``CaseService``.

Contract:
- A crisis seen by moderation (a crisis hold, a ``Support`` verdict, a crisis alert on a
  refused or rejected post) or a moderator marking a message (``crisis.mark``) opens a case
  for the member in the community, or joins their open case: one open case per member.
- States ``open -> acknowledged -> in_contact -> closed`` (closing outcome required); every
  change is audited and published on ``<community>/mod`` as ``crisis.case``.
- A case nobody acknowledges within the community's ``ack_timeout`` escalates once
  (``crisis.case`` with change ``escalated`` on ``<community>/mod``, ``crisis.escalated``
  on every room's moderator feed; audit action
  ``crisis.escalate``, webhook ``crisis.unacknowledged``).
- Private support conversations are rooms ``<community>:dm-<id>`` (``rooms.private``): only
  the member, the community's moderators and invited hosts may join (103 otherwise, audited).
Details for community managers: docs/crisis.md.
"""
