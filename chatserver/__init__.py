"""chatserver: all I/O around the domain packages.

The WebSocket gateway (Centrifuge protocol v2, JSON and Protobuf), the Redis adapters
(broker with Lua scripts, pub/sub, presence, catalog), the HTTP API, the CLI, and the
composition root (``chatserver.app``) that wires them. See ARCHITECTURE.md.
"""

__version__ = "0.1.0"
