"""Live Q&A sessions in a room's board channel ``<community>:<room>/qa``.

Contract: ``chatserver.qa.extension.install(ext, moderation)`` registers the ``qa.*`` RPC
methods, the stage-mode posting gate, the transcript HTTP routes, and a control-message
handler, and returns the service. All state lives in Redis (``chatserver.stores.QaStore``,
behind the engine like every Redis access); every change is decided by
the pure domain ``rooms.qa`` and published on the board channel in the order it happened
(recoverable). Questions pass the room's moderation (``chatserver.moderation``, required)
like room messages. Frames
about anonymous questions carry no asker: event data names nobody, and board publications
carry no ClientInfo. See docs/qa.md.
"""
