"""Load tests: wire-protocol clients in separate processes, and one command per scenario.

Contract: nothing here imports the server's insides. The load processes speak the
Centrifuge protocol v2 (JSON) over real WebSockets to a server started as its own process
(``python -m chatserver run``) or to the bare ``websockets`` baseline; they only share the
wire format, the HTTP API (to create rooms) and the token format (HS256 JWTs they sign
themselves). Every run stays on 127.0.0.1, is bounded in count and time, and checks that
no message was lost, duplicated or reordered. ``python -m loadtests.<scenario> --help``.
"""
